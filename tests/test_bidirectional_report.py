"""bidir_tag's report page: tables per reader and distance, the claim's parts, the sanity checks (a forward
tagger at chance beyond its delay; weights matched), the retired classification claim, and the plot."""
import pytest

from suite.core.families import BUILTIN_RECURRENT
from suite.judge.task_report import REPORTS
from tasks.bidirectional.report import chance_check, parameter_check

DELAYS = (0, 4, 8)
TOTAL = 60  # right-only tags per distance and run


def record(cell, seed, bi=False, delay=0, token=0.96, parameters=50000, beyond=0.5, within=1.0):
    """A finished run with per-distance right-only counts: `within` accuracy at distance ≤ delay (everywhere
    for a bidirectional tagger), `beyond` further on."""
    metrics = {"token_accuracy": token, "token_correct": int(token * 9000), "token_total": 9000,
               "valid_token_accuracy": token, "valid_right_only_accuracy": 0.5, "local_accuracy": 1.0}
    for kind, correct in (("right_only", 300), ("both_sides", 300), ("local", 8000)):
        metrics.update({f"{kind}_correct": correct, f"{kind}_total": 400 if correct < 400 else 8000,
                        f"{kind}_accuracy": correct / (400 if correct < 400 else 8000)})
    for d in range(1, 9):
        p = within if bi or d <= delay else beyond
        metrics.update({f"right_only_d{d}_correct": round(p * TOTAL), f"right_only_d{d}_total": TOTAL,
                        f"right_only_d{d}_accuracy": round(p * TOTAL) / TOTAL})
    return {"run_id": f"{cell}-{bi}-{delay}-{seed}", "label": ("bi-" if bi else "") + cell, "status": "ok",
            "parameters": parameters,
            "config": {"task": "bidir_tag", "seed": seed,
                       "model": {"arch": cell, "layers": 1, "bidirectional": bi, "hidden": 64 if bi else 100},
                       "train": {}, "options": {"delay": 0 if bi else delay}},
            "metrics": metrics}


def sweep(cells=BUILTIN_RECURRENT, seeds=3, **forward):
    out = []
    for c in cells:
        for s in range(seeds):
            out.append(record(c, s, bi=True, token=0.999 + 0.0005 * (s % 2)))
            out += [record(c, s, delay=k, token=(0.96, 0.95, 0.9)[i] + 0.001 * s, **forward)
                    for i, k in enumerate(DELAYS)]
    return out


def test_tables_show_every_reader_the_distances_it_covers_and_the_parts():
    tables = REPORTS["bidirectional"].tables(sweep())
    assert list(tables) == ["bidirectional_readers", "bidirectional_by_distance", "bidirectional_difference",
                            "bidirectional_retired_claims"]
    readers = tables["bidirectional_readers"]
    lstm = readers[readers["model"] == "lstm"].set_index("reader")
    assert list(lstm.index) == ["bidirectional", "forward, delay 0", "forward, delay 4", "forward, delay 8"]
    assert lstm.loc["forward, delay 0", "chosen"] == 3 and lstm.loc["forward, delay 8", "chosen"] == 0
    assert lstm.loc["forward, delay 0", "token_accuracy"] == pytest.approx(0.961)
    by_distance = tables["bidirectional_by_distance"].set_index(["model", "reader"])
    assert by_distance.loc[("gru", "forward, delay 4"), "d4"] == 1.0
    assert by_distance.loc[("gru", "forward, delay 4"), "d5"] == 0.5
    diff = tables["bidirectional_difference"].set_index("model")
    assert list(diff.index) == list(BUILTIN_RECURRENT) and set(diff["verdict"]) == {"reproduced"}
    assert diff.loc["lstm", "delta"] == pytest.approx(0.99917 - 0.961, abs=1e-4)
    assert "bidirectional.classify" in tables["bidirectional_retired_claims"]["claim"].tolist()


def test_with_no_runs_only_the_retired_claim_is_listed_and_the_claim_says_not_measured():
    report = REPORTS["bidirectional"]
    assert list(report.tables([])) == ["bidirectional_retired_claims"]
    (claim,) = report.claims([])
    assert claim.verdict == "inconclusive" and "not measured" in claim.why
    assert [c.passed for c in report.checks([])] == [None, None]


def test_the_chance_check_catches_a_forward_tagger_that_knows_an_unread_word():
    assert chance_check(sweep()).passed is True
    leaking = sweep(beyond=0.8)  # 80 % right where the deciding adjective was never read: a leak
    check = chance_check(leaking)
    assert check.passed is False and "lstm forward, delay 0: 0.8 [" in check.evidence
    assert "Bonferroni over 8" in check.rule  # 4 cells × delays 0 and 4 (delay 8 covers every distance)


def test_the_parameter_check_compares_each_forward_tagger_with_its_twin():
    assert parameter_check(sweep()).passed is True
    unmatched = [dict(r, parameters=60000) if not r["config"]["model"]["bidirectional"] else r for r in sweep()]
    check = parameter_check(unmatched)
    assert check.passed is False and "lstm 20.0%" in check.evidence


def test_the_plot_is_written(tmp_path):
    (path,) = REPORTS["bidirectional"].plots(sweep(cells=("lstm", "gru"), seeds=2), tmp_path)
    assert path.exists() and path.stat().st_size > 1000
