"""The bidirectional report: the claim's rule on simulated records (including negative controls), the
right-only sanity check, tables and plots."""
import numpy as np
import pytest

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.judge.task_report import REPORTS
from tasks.bidirectional.report import CLASSIFY, MIN_EFFECT, TAGGING, direction_claim, right_only_check

TOTAL = 400  # judged items per run


def record(cell, bi, seed, accuracy, task="bidir_tag", right_only=0.5, local=1.0):
    """A finished run as the runner writes it, with counts for the judged metric and the right-only tokens."""
    judged = TAGGING if task == "bidir_tag" else CLASSIFY
    correct = int(round(accuracy * TOTAL))
    metrics = {judged.accuracy: correct / TOTAL, judged.field("correct"): correct, judged.field("total"): TOTAL,
               "right_only_accuracy": right_only, "right_only_correct": int(right_only * TOTAL),
               "right_only_total": TOTAL, "local_accuracy": local}
    label = ("bi-" if bi else "") + cell
    return {"run_id": f"{task}-{label}-{seed}", "label": label, "status": "ok",
            "config": {"task": task, "seed": seed, "model": {"arch": cell.split("×")[0], "bidirectional": bi},
                       "options": {}},
            "metrics": metrics}


def sweep(uni, bi, cells=("lstm", "gru"), task="bidir_tag"):
    """Per-seed accuracies of each direction, the same for every cell."""
    return [record(c, False, s, x, task) for c in cells for s, x in enumerate(uni)] + \
           [record(c, True, s, x, task) for c in cells for s, x in enumerate(bi)]


def claim(records, judged=TAGGING):
    return direction_claim(records, judged)


def test_reproduced_when_every_cell_gains_more_than_the_minimal_effect():
    c = claim(sweep([0.70, 0.74, 0.72], [0.95, 0.97, 0.96]))
    assert c.verdict == REPRODUCED
    assert c.effect.startswith("Δ both_sides_accuracy (bi − uni): gru 0.24")
    assert c.details["lstm"]["seeds"] == 3 and c.details["lstm"]["delta"] == pytest.approx(0.24)
    assert c.evidence.startswith("gru: uni 0.72 [") and "bi 0.96 [" in c.evidence and "(3 paired seeds)" in c.evidence


def test_seeds_pair_because_a_seed_fixes_the_sentences():
    # Seed-to-seed spread of 0.2 shared by both directions, a steady gain of 0.1: paired, this is clear;
    # compared as two independent groups of seeds (Welch) the intervals would swamp it.
    c = claim(sweep([0.5, 0.7, 0.6], [0.61, 0.79, 0.71]))
    assert c.verdict == REPRODUCED and c.details["gru"]["low"] > 0.05


def test_reversed_effect_is_not_reproduced():
    c = claim(sweep([0.95, 0.97, 0.96], [0.70, 0.74, 0.72]))
    assert c.verdict == NOT_REPRODUCED and "reversed" in c.why


def test_a_gain_smaller_than_the_minimal_effect_is_not_reproduced():
    c = claim(sweep([0.90, 0.92, 0.91], [0.91, 0.93, 0.92]))
    assert c.verdict == NOT_REPRODUCED and "smaller than the claimed effect" in c.why


def test_both_at_ceiling_is_not_reproduced():
    assert claim(sweep([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])).verdict == NOT_REPRODUCED


def test_one_cell_without_a_gain_fails_the_claim():
    records = sweep([0.6, 0.62, 0.61], [0.99, 1.0, 0.99], cells=("rnn_tanh",)) + \
              sweep([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], cells=("lstm",))
    c = claim(records)
    assert c.verdict == NOT_REPRODUCED and c.why.startswith("lstm:")


def test_one_seed_or_a_missing_twin_is_inconclusive():
    assert claim(sweep([0.6], [0.99])).verdict == INCONCLUSIVE
    c = claim(sweep([0.6, 0.61], [0.99, 0.98], cells=("lstm",)) + [record("gru", False, 0, 0.6)])
    assert c.verdict == INCONCLUSIVE and "gru: missing bidirectional runs" in c.why
    assert claim([]).verdict == INCONCLUSIVE


def test_an_untrained_tagger_or_a_task_nobody_learned_is_inconclusive_not_a_failure():
    """At smoke size both taggers still miss the tags their word decides and score 0 on intensifiers:
    Δ = 0 there says nothing about context."""
    untrained = [record("lstm", bi, s, 0.0, local=0.5) for bi in (False, True) for s in range(3)]
    c = claim(untrained)
    assert c.verdict == INCONCLUSIVE and "uni tagger untrained (local_accuracy 0.50 < 0.9)" in c.why
    at_chance = sweep([0.49, 0.51, 0.5], [0.5, 0.52, 0.49], cells=("lstm",), task="bidir_classify")
    c = claim(at_chance, CLASSIFY)
    assert c.verdict == INCONCLUSIVE and "neither direction beat chance" in c.why
    # …but a bidirectional classifier at chance beside a unidirectional one that learned is a reversal.
    reversed_ = sweep([0.95, 0.97, 0.96], [0.5, 0.51, 0.49], cells=("lstm",), task="bidir_classify")
    assert claim(reversed_, CLASSIFY).verdict == NOT_REPRODUCED


def test_unpaired_seeds_are_left_out():
    records = [r for r in sweep([0.6, 0.6, 0.6], [0.9, 0.9, 0.9], cells=("lstm",))
               if not (r["label"] == "bi-lstm" and r["config"]["seed"] == 2)]
    assert claim(records).details["lstm"]["seeds"] == 2


def test_the_classification_part_is_judged_on_its_own_records():
    c = claim(sweep([0.55, 0.6, 0.5], [1.0, 1.0, 1.0], task="bidir_classify"), CLASSIFY)
    assert c.verdict == REPRODUCED and c.id == "bidirectional.classify" and "bidir_classify" in c.rule


def simulated_verdicts(sweeps, gain, cells=("lstm",), seeds=3, rng_seed=0):
    """Verdicts of `sweeps` simulated sweeps: each seed shares a data effect (spread 0.04) between its two
    twins, each run adds its own training noise (0.02); the bidirectional twin gains `gain` on average."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for _ in range(sweeps):
        records = []
        for c in cells:
            base = 0.8 + rng.normal(0, 0.04, seeds)
            uni = np.clip(base + rng.normal(0, 0.02, seeds), 0, 1)
            bi = np.clip(base + gain + rng.normal(0, 0.02, seeds), 0, 1)
            records += sweep(uni.tolist(), bi.tolist(), cells=(c,))
        out.append(claim(records).verdict)
    return out


def test_negative_control_without_effect_is_rarely_reproduced():
    """The rule's stated rate: with no true gain one cell comes out reproduced ≤ 2.5 % of the time (the
    interval's one-sided error, before the minimal effect even counts). 200 sweeps: expected ≤ 5."""
    verdicts = simulated_verdicts(200, gain=0.0)
    assert verdicts.count(REPRODUCED) <= 12  # P(≥ 13 | p = 0.025, n = 200) < 0.003


def test_negative_control_with_the_effect_reversed_is_not_reproduced():
    verdicts = simulated_verdicts(200, gain=-0.15, rng_seed=1)
    assert verdicts.count(REPRODUCED) == 0 and verdicts.count(NOT_REPRODUCED) >= 190


def test_a_real_gain_is_found():
    assert simulated_verdicts(50, gain=0.15, rng_seed=2).count(REPRODUCED) >= 45


# --------------------------------------------------------------------------- the check, tables, plots


def test_right_only_check_catches_a_left_to_right_tagger_above_chance():
    at_chance = [record("lstm", False, s, 0.8, right_only=x) for s, x in enumerate([0.49, 0.52, 0.5])]
    assert right_only_check(at_chance).passed is True
    leaking = [record("lstm", False, s, 0.8, right_only=x) for s, x in enumerate([0.9, 0.92, 0.91])]
    assert right_only_check(leaking).passed is False
    assert right_only_check([record("lstm", True, 0, 0.8)]).passed is None


def test_report_tables_hold_directions_and_the_paired_difference():
    report = REPORTS["bidirectional"]
    records = sweep([0.7, 0.72], [0.95, 0.96]) + sweep([0.6, 0.62], [1.0, 1.0], task="bidir_classify")
    tables = report.tables(records)
    assert set(tables) == {"bidirectional_tagging", "bidirectional_tagging_difference",
                           "bidirectional_classification", "bidirectional_classification_difference"}
    tag = tables["bidirectional_tagging"]
    assert list(tag["direction"][:2]) == ["uni", "bi"] and set(tag["ci"]) == {"Wilson pooled over 2 seeds"}
    uni = tag[(tag["model"] == "lstm") & (tag["direction"] == "uni")].iloc[0]
    assert uni["both_sides_accuracy"] == pytest.approx(0.71)
    assert uni["both_sides_accuracy_low"] < 0.71 < uni["both_sides_accuracy_high"]
    diff = tables["bidirectional_classification_difference"].set_index("model")
    assert diff.loc["gru", "delta"] == pytest.approx(0.39) and diff.loc["gru", "verdict"] == REPRODUCED
    assert [c.id for c in report.claims(records)] == ["bidirectional.tag", "bidirectional.classify"]
    assert MIN_EFFECT == 0.05


def test_plots_are_written(tmp_path):
    report = REPORTS["bidirectional"]
    for records in (sweep([0.7, 0.72], [0.98, 1.0]), sweep([0.5], [1.0], task="bidir_classify")):
        paths = report.plots(records, tmp_path)
        assert len(paths) == 1 and paths[0].exists() and paths[0].stat().st_size > 1000
