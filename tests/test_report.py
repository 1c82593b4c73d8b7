"""REPORT.md: claims and sanity checks on the first screen, a page per section, provenance; rebuilt from
records alone."""
import pandas as pd
import pytest

from suite.judge.claims import REPRODUCED, Check, Claim
from suite.core.config import ModelConfig, RunConfig
from suite.judge.task_report import REPORTS, TaskReport, register_report
from suite.judge.pages import seeds_by_task
from suite.judge.report import write_outputs


def record(arch, seed, ppl):
    cfg = RunConfig("grammar_lm", ModelConfig(arch=arch), seed=seed)
    return {"run_id": cfg.run_id, "label": arch, "config": cfg.to_dict(), "status": "ok", "seed": seed,
            "metrics": {"test_ppl": ppl, "valid_ppl": ppl, "unigram_ppl": 60.0},
            "versions": {"torch": "x", "suite": "y", "python": "z"}, "threads": 1, "wall_seconds": 3.0}


def write(tmp_path, records):
    return write_outputs(tmp_path, records, command="python run_suite.py --x", preset="quick", log=lambda *a: None)


def test_report_opens_with_claims_and_checks_and_links_a_page_per_section(tmp_path):
    records = [record(a, s, p + s) for a, p in [("lstm", 10.0), ("rnn_tanh", 20.0)] for s in range(3)]
    records.append({**record("gru", 0, 1.0), "status": "failed", "error": "RuntimeError: boom"})
    summary = write(tmp_path, records)
    report = (tmp_path / "REPORT.md").read_text()
    assert report.index("## Claims") < report.index("## Sanity checks") < report.index("## Sections") \
        < report.index("## Summary") < report.index("## Provenance")
    assert "`python run_suite.py --x`" in report and "`python run_suite.py report --x`" in report
    assert "(report/grammar_lm.md)" in report
    page = (tmp_path / "report" / "grammar_lm.md").read_text()
    assert "grammar lm perplexity" in page and "../REPORT.md" in page
    assert "11 [" in summary  # lstm mean over seeds 10, 11, 12 with its interval
    assert "1 failed" in report and "boom" in report
    assert (tmp_path / "tables" / "summary.csv").exists()
    assert (tmp_path / "tables" / "grammar_lm_perplexity.md").exists()


def test_a_config_listed_twice_counts_once(tmp_path):
    # `run_suite.py report` used to hand the same cached record over once per listing: 6 "seeds" for 3.
    records = [record("lstm", s, 10.0 + s) for s in range(3)]
    write(tmp_path, records + records)
    table = pd.read_csv(tmp_path / "tables" / "grammar_lm_perplexity.csv")
    assert table.loc[0, "runs"] == 3


def test_claims_and_checks_of_a_registered_report_reach_the_first_screen(tmp_path):
    @register_report
    class Probe(TaskReport):
        name = "zz_probe"
        tasks = ("grammar_lm",)

        def claims(self, records):
            return [Claim("probe.claim", "a probe claim", "Someone (2000)", "a rule", REPRODUCED, "numbers",
                          effect="Δ 0.3 [0.1, 0.5]")]

        def checks(self, records):
            return [Check("probe.check", "a bound holds", False, "3 of 4 within")]

    try:
        write(tmp_path, [record("lstm", 0, 10.0)])
    finally:
        REPORTS.pop("zz_probe")
    report = (tmp_path / "REPORT.md").read_text()
    claims = report[report.index("## Claims"):report.index("## Sanity checks")]
    checks = report[report.index("## Sanity checks"):report.index("## Sections")]
    assert "a probe claim" in claims and "Δ 0.3 [0.1, 0.5]" in claims and "reproduced" in claims
    assert "a bound holds" in checks and "fails" in checks and "a bound holds" not in claims
    page = (tmp_path / "report" / "zz_probe.md").read_text()
    assert "a rule" in page and "numbers" in page



def test_a_reports_notes_open_its_page_before_the_claims(tmp_path):
    @register_report
    class Noted(TaskReport):
        name = "zz_noted"
        tasks = ("grammar_lm",)

        def notes(self, records):
            return [f"**Why.** {len(records)} runs read."]

        def claims(self, records):
            return [Claim("noted.claim", "a noted claim", "Someone (2000)", "a rule", REPRODUCED, "numbers")]

    try:
        write(tmp_path, [record("lstm", s, 10.0) for s in range(2)])
    finally:
        REPORTS.pop("zz_noted")
    page = (tmp_path / "report" / "zz_noted.md").read_text()
    assert page.index("../REPORT.md") < page.index("**Why.** 2 runs read.") < page.index("## noted.claim")

def test_tables_left_by_eval_get_a_page_of_their_own(tmp_path, monkeypatch):
    import suite.judge.report

    monkeypatch.setattr(suite.judge.report, "eval_tables", lambda out: {"eval_testsets": pd.DataFrame(
        [{"model": "lstm", "testset": "x.csv", "error_rate": 0.25}])})
    write(tmp_path, [record("lstm", 0, 10.0)])
    assert "(report/evaluations.md)" in (tmp_path / "REPORT.md").read_text()
    assert "x.csv" in (tmp_path / "report" / "evaluations.md").read_text()


def test_provenance_names_the_tasks_that_ran_other_seeds():
    def rec(task, seed):
        return {"config": {"task": task, "seed": seed}}
    records = [rec(t, s) for t in ("grammar_lm", "depth") for s in (0, 1, 2)] + \
              [rec(t, s) for t in ("agreement", "agreement_number") for s in range(4)]
    assert seeds_by_task(records) == "0, 1, 2 (agreement, agreement_number: 0, 1, 2, 3)"


@pytest.mark.filterwarnings("ignore:No artists with labels")  # these depth records have no curves to plot
def test_a_new_report_removes_the_pages_and_tables_only_the_previous_one_wrote(tmp_path):
    grammar = [record("lstm", s, 10.0 + s) for s in range(2)]
    depth = [{**r, "config": RunConfig("depth", ModelConfig(arch="lstm"), seed=r["seed"]).to_dict(),
              "metrics": {**r["metrics"], "test_loss": 2.3}} for r in grammar]
    write(tmp_path, grammar + depth)
    assert (tmp_path / "report" / "depth.md").exists() and (tmp_path / "tables" / "depth_skip.csv").exists()
    (tmp_path / "tables" / "my_notes.csv").write_text("mine")
    write(tmp_path, grammar)  # a sweep without the depth task, into the same folder
    assert not (tmp_path / "report" / "depth.md").exists() and not (tmp_path / "tables" / "depth_skip.csv").exists()
    assert "report/depth.md" not in (tmp_path / "REPORT.md").read_text()
    assert (tmp_path / "report" / "grammar_lm.md").exists() and (tmp_path / "tables" / "my_notes.csv").exists()


def test_the_family_policy_states_a_bound_only_over_confirmatory_claims():
    from suite.judge.preregistration import CONFIRMATORY, EXPLORATORY_SEEDS
    from suite.judge.verdicts import family_policy
    c = Claim("x.y", "s", "p", "r", "reproduced", "")
    assert "every verdict here is exploratory" in family_policy([(c, EXPLORATORY_SEEDS, "")])
    two = family_policy([(c, CONFIRMATORY, ""), (c, CONFIRMATORY, "")])
    assert "Of the 2 confirmatory claims, 2 read reproduced" in two and "at most 0.05" in two  # 2 × 2.5 %
