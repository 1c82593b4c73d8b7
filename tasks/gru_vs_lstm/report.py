"""gru_vs_lstm's report: is a GRU cheaper than an LSTM, at the same quality?

- parameters: a sanity check, not a claim — a GRU layer has 3 gate blocks where an LSTM has 4 (Cho et al.
  2014's definition), so at one hidden size its recurrent weights are exactly 3/4 of the LSTM's;
- speed: a claim (speed.py), judged with both cells on the same code path; torch's default kernels shown
  beside it as an implementation figure;
- quality: a claim of *no gap* (quality.py), judged only on tasks with a positive control, at equal hidden
  size and at equal parameter count.
"""
from __future__ import annotations

import math
import statistics

import pandas as pd

from suite.judge.analysis import chosen_runs, group_by, metric, ok_runs, put, seed_interval
from suite.judge.claims import Check, Claim
from suite.judge.stats import Interval, difference_ci, ratio_interval
from suite.judge.task_report import TaskReport, register_report

from .quality import MEASURES, QUALITY_TASKS, Comparison, comparisons, positive_control, quality_claim, values
from .speed import TASK as COST_TASK
from .speed import speed_claim, timing_key
from .task import PATHS, measure_name

PARAMETER_CHECK = "architecture.gru_fewer_parameters"
PARAMETER_STATEMENT = "a GRU has fewer parameters than an LSTM of the same hidden size (3 gate blocks against 4)"
PARAMETER_RULE = ("in every gru_vs_lstm run: 4 × GRU recurrent parameters = 3 × LSTM recurrent parameters exactly "
                  "(W_ih, W_hh and both biases per gate block), and the whole GRU model is smaller")
PATH_WORDS = {"default": "torch defaults (implementation: on CPU oneDNN's fused LSTM vs torch's GRU loop)",
              "same_path": "same code path (vendor RNN libraries off: torch's own loop for both; judged)"}


def quality_runs(records: list[dict]) -> list[dict]:
    """The quality tasks' runs that compare: where a task tunes, each seed's point chosen on validation, so
    both cells get the same tuning budget."""
    return chosen_runs(ok_runs(records, *QUALITY_TASKS))


@register_report
class GruVsLstmReport(TaskReport):
    name = "gru_vs_lstm"
    title = "GRU against LSTM: parameters, speed and quality"
    tasks = (COST_TASK, *QUALITY_TASKS)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        tables = {"gru_vs_lstm_speed": speed_table(ok_runs(records, COST_TASK)),
                  "gru_vs_lstm_quality": quality_table(quality_runs(records))}
        return {name: table for name, table in tables.items() if not table.empty}

    def claims(self, records: list[dict]) -> list[Claim]:
        speed = speed_claim(ok_runs(records, COST_TASK))
        if speed.parts:
            speed.effect = "; ".join(f"{p.name}: GRU/LSTM tokens/s ×{as_ratio(p.effect)}" for p in speed.parts)
        quality = quality_claim(quality_runs(records))
        if quality.details.get("set_aside"):
            quality.evidence += "; set aside: " + ", ".join(quality.details["set_aside"])
        return [speed, quality]

    def checks(self, records: list[dict]) -> list[Check]:
        return [parameter_check(ok_runs(records, COST_TASK))]


def as_ratio(log_effect: Interval) -> str:
    """An interval on the log scale, shown as a ratio."""
    if math.isnan(log_effect.mean):
        return "–"
    ratio = Interval(*(math.exp(v) if not math.isnan(v) else math.nan
                       for v in (log_effect.mean, log_effect.low, log_effect.high)), log_effect.n, log_effect.method)
    return ratio.format()


# --------------------------------------------------------------------------- speed


def rounds(runs: list[dict], path: str, cell: str) -> list[float]:
    """Tokens/s of one cell on one kernel path in every timed round of the runs, in order."""
    return [v for r in runs for v in metric(r, f"{measure_name(path, cell)}_round_tokens_per_second", [])]


def speed_table(runs: list[dict]) -> pd.DataFrame:
    """Per hidden size, device and kernel path: median tokens/s of each cell and the paired GRU/LSTM ratio."""
    rows = []
    for (hidden, device), group in group_by(runs, timing_key).items():
        for path in PATHS:
            lstm, gru = rounds(group, path, "lstm"), rounds(group, path, "gru")
            if not lstm or len(lstm) != len(gru):
                continue
            row = {"hidden": hidden, "device": device, "path": PATH_WORDS[path], "runs": len(group),
                   "rounds": len(lstm), "lstm_parameters": metric(group[0], "lstm_parameters"),
                   "gru_parameters": metric(group[0], "gru_parameters"),
                   "lstm_tokens_per_second_median": round(statistics.median(lstm)),
                   "gru_tokens_per_second_median": round(statistics.median(gru))}
            put(row, "gru_over_lstm_speed", ratio_interval(gru, lstm))
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- quality


def quality_row(c: Comparison, kind: str, gru: list[dict], gaps: dict[str, Interval], counted: bool) -> dict:
    m = c.measure
    row = {"task": m.task, "metric": m.metric, "margin": m.margin, "lstm_hidden": c.hidden,
           "lstm_parameters": c.parameters, "comparison": kind,
           "gru_hidden": ", ".join(sorted({str(r["config"]["model"]["hidden"]) for r in gru})) or "–",
           "gru_parameters": ", ".join(sorted({f"{r.get('parameters') or 0:,}" for r in gru})) or "–",
           "gru_seeds": len(gru), "lstm_seeds": len(c.lstm)}
    put(row, "gru", seed_interval(gru, m.metric))
    put(row, "lstm", seed_interval(c.lstm, m.metric))
    put(row, "delta_90", difference_ci(values(gru, m), values(c.lstm, m), level=0.90))
    row["positive_control"] = ("; ".join(f"{v} − lstm {g.format()}" for v, g in gaps.items()) or "no vanilla runs")
    row["counted"] = "yes" if counted else "no: no positive control"
    return row


def quality_table(runs: list[dict]) -> pd.DataFrame:
    """Every comparison, counted or set aside: both cells' measure over seeds, the 90 % interval of the gap,
    and the positive control's gaps (vanilla minus LSTM, positive = the vanilla RNN is worse)."""
    rows = []
    for m in MEASURES:  # the same comparisons and controls the claim judges
        for c in comparisons(runs, m):
            counted, gaps = positive_control(c)
            for kind, gru in (("same hidden size", c.gru_same_hidden), ("same parameter count", c.gru_same_parameters)):
                rows.append(quality_row(c, kind, gru, gaps, counted))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- parameters (a check)


def parameter_check(runs: list[dict]) -> Check:
    """3 gate blocks against 4: the GRU's recurrent parameters are exactly 3/4 of the LSTM's."""
    if not runs:
        return Check(PARAMETER_CHECK, PARAMETER_STATEMENT, None, f"no {COST_TASK} run", PARAMETER_RULE)
    failures, sizes = [], {}
    for r in runs:
        counts = {k: metric(r, k) for k in ("gru_recurrent_parameters", "lstm_recurrent_parameters",
                                            "gru_parameters", "lstm_parameters")}
        sizes[timing_key(r)] = counts
        if not (4 * counts["gru_recurrent_parameters"] == 3 * counts["lstm_recurrent_parameters"]
                and counts["gru_parameters"] < counts["lstm_parameters"]):
            failures.append(r["run_id"])
    evidence = "; ".join(f"h={h}: GRU {c['gru_parameters']:,} ({c['gru_recurrent_parameters']:,} recurrent) vs "
                         f"LSTM {c['lstm_parameters']:,} ({c['lstm_recurrent_parameters']:,})"
                         for (h, _), c in sizes.items())
    if failures:
        evidence += f"; fails in runs {', '.join(failures)}"
    return Check(PARAMETER_CHECK, PARAMETER_STATEMENT, not failures, evidence, PARAMETER_RULE)
