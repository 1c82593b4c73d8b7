"""What each recall run achieved, decided from its record: the tuned run per architecture and seed
(chosen on validation stories only), whether it learnt the task at all, and its memory span.

- Tuning: every grid point is a run; per (model, seed) the report keeps the point with the highest mean
  validation accuracy (validation key log-probability breaks ties) and judges only that run's test rows.
- Learnt: accuracy at the shortest tested distance beats chance (one-sided exact binomial test,
  α = 0.05). A model that does not is "never learned", which is not the same as a span of 0.
- Span: the largest tested distance up to which accuracy stays halfway from chance to 1; only defined
  for a run that learnt the task.
"""
from __future__ import annotations

import math
from typing import Any

from scipy.stats import binomtest

from suite.judge import analysis
from suite.judge.analysis import metric, model_field, train_field

from .task import Recall

LEARNED_ALPHA = 0.05
NEVER_LEARNED, LEARNED = "never learned", "learned"


def grid_point(record: dict) -> str:
    """The tuning point of a run in words, e.g. 'lr 0.003, b_f 3' or 'lr 0.001, init identity'."""
    parts = [f"lr {train_field(record, 'lr'):g}"]
    forget_bias = model_field(record, "forget_bias")
    if forget_bias is not None:
        parts.append(f"b_f {forget_bias:g}")
    else:
        parts.append(f"init {model_field(record, 'init') or 'default'}")
    return ", ".join(parts)


def tuned_runs(runs: list[dict]) -> list[dict]:
    """Per model and seed, the finished grid point with the best validation score (Recall.validation_score)."""
    return analysis.tuned_runs(runs, Recall.tuning, Recall().validation_score)


def row_at(record: dict, d: int, rows: str = "by_distance") -> dict[str, Any] | None:
    return next((row for row in metric(record, rows, []) if row["d"] == d), None)


def shortest_row(record: dict) -> dict[str, Any]:
    return min(metric(record, "by_distance", []), key=lambda row: row["d"])


def learned_p_value(record: dict) -> float:
    """One-sided exact binomial test of accuracy at the shortest tested distance against chance 1/K."""
    row = shortest_row(record)
    return float(binomtest(row["correct"], row["n"], metric(record, "chance"), alternative="greater").pvalue)


def status(record: dict) -> str:
    return LEARNED if learned_p_value(record) < LEARNED_ALPHA else NEVER_LEARNED


def span_threshold(chance: float) -> float:
    """Halfway from chance to perfect recall."""
    return chance + (1 - chance) / 2


def memory_span(accuracies: dict[int, float], chance: float) -> int:
    """Largest tested distance up to which accuracy stays at or above the halfway threshold
    (every shorter tested distance passes too); 0 when the shortest one already fails."""
    span = 0
    for d in sorted(accuracies):
        if accuracies[d] < span_threshold(chance):
            break
        span = d
    return span


def span(record: dict) -> float:
    """The run's memory span, NaN for a run that never learnt the task (no span to speak of)."""
    if status(record) == NEVER_LEARNED:
        return math.nan
    accuracies = {row["d"]: row["accuracy"] for row in metric(record, "by_distance", [])}
    return float(memory_span(accuracies, metric(record, "chance")))
