"""recall's report: the tuning grid and what was chosen, learnt-or-not per run, accuracy against distance,
memory span; the claim that gated cells recall over longer distances (rules.py); the equal-tuning-budget check;
and the same tables for recall_lm, the stories trained as a plain language model (lm_task.py), which no claim
reads: the page shows whether that objective finds the dependency under recall's budget."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.judge.analysis import group_by, label, ok_runs, seed
from suite.judge.claims import Check, Claim
from suite.judge.task_report import TaskReport, register_report

from .lm_task import LM_TASK
from .outcomes import tuned_runs
from .rules import gated_span_claim, lstm_default_claim
from .task import Recall
from .tables import accuracy_table, detail_table, plot_accuracy, span_table, status_table, tuning_table

TASK = "recall"


@register_report
class RecallReport(TaskReport):
    name = "recall"
    title = "Long-distance recall (the 'tickets' example)"
    tasks = (TASK, LM_TASK)
    headline = ()  # accuracy is a curve over distance; the tuned numbers are on the recall page

    def validation_score(self, record: dict) -> tuple[float, float]:
        return Recall().validation_score(record)  # the one outcomes.tuned_runs chooses by (see Recall)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        tables: dict[str, pd.DataFrame] = {}
        runs = ok_runs(records, TASK)
        if runs:
            tuned = tuned_runs(runs)
            tables |= {"recall_tuning": tuning_table(records, tuned), "recall_status": status_table(tuned),
                       "recall_span": span_table(tuned), "recall_accuracy": accuracy_table(tuned),
                       "recall_detail": detail_table(tuned)}
        lm_runs = ok_runs(records, LM_TASK)  # one grid point per architecture: nothing to choose among
        if lm_runs:
            tables |= {"recall_lm_status": status_table(lm_runs), "recall_lm_span": span_table(lm_runs),
                       "recall_lm_accuracy": accuracy_table(lm_runs)}
        return tables

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        runs = ok_runs(records, TASK)
        if not runs:
            return []
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return [plot_accuracy(tuned_runs(runs), out_dir / "recall_accuracy.png")]

    def claims(self, records: list[dict]) -> list[Claim]:
        tuned = tuned_runs(ok_runs(records, TASK))
        return [gated_span_claim(tuned), lstm_default_claim(tuned)]

    def checks(self, records: list[dict]) -> list[Check]:
        return [equal_budget_check(records)]


def equal_budget_check(records: list[dict]) -> Check:
    """Every (model, seed) ran as many grid points as every other: no architecture was tuned more."""
    runs = [r for r in records if r["config"]["task"] == TASK]
    counts = {key: len(group) for key, group in group_by(runs, lambda r: (label(r), seed(r))).items()}
    check = Check(id="recall.equal_budget", statement="every architecture got the same number of tuning "
                  "grid points per seed", passed=None, evidence="",
                  rule="count of finished grid-point runs per (model, seed) is the same for all")
    if not counts:
        return check
    per_model = {name: sorted({n for (m, _), n in counts.items() if m == name}) for name, _ in counts}
    check.passed = len(set(counts.values())) == 1
    check.evidence = "; ".join(f"{name}: {'/'.join(map(str, n))} points per seed" for name, n in per_model.items())
    return check
