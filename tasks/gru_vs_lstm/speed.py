"""The speed claim's statistic and verdict, fixed before the confirmatory data: "a GRU trains faster than an
LSTM of the same size" (same hidden size: the lecture's "quicker to compute and fewer parameters" compares
cells of one state size). Presentation lives in report.py; this module's source is hashed into the rule.

The unit is one timed round: both cells trained for the same steps back to back in one process. Per round
the value is log(GRU tokens/s / LSTM tokens/s) on the judged kernel path (both cells on torch's own cell
loop), pooled over the runs of a hidden size and device; one part per (hidden size, device).
"""
from __future__ import annotations

import math

from suite.judge.analysis import group_by, metric, model_field
from suite.judge.claims import MEAN, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

from .task import JUDGED_PATH, measure_name

TASK = "gru_vs_lstm"
MIN_SPEEDUP = 1.10  # a gain under 10 % is not "quicker to compute" in any sense a user would act on
RULE = Rule(
    test=MEAN, min_effect=math.log(MIN_SPEEDUP), design_effect=math.log(4 / 3),
    basis=("lecture notes ('GRU is quicker to compute'; Cho et al. 2014's cell): 3 gate blocks against 4, so "
           "where the recurrent multiply-adds dominate the GRU runs at up to 4/3 × the LSTM's speed; contrast: "
           "log(GRU / LSTM training tokens/s) per paired round, both cells on torch's own cell loop"),
    scale="log(GRU / LSTM training tokens/s) per round, same code path", unit="round")
STATEMENT = "a GRU trains faster than an LSTM of the same hidden size (both on the same code path)"
SOURCE = "lecture notes, LSTM vs GRU ('GRU is quicker to compute and has fewer parameters'; GRU: Cho et al. 2014)"
RULE_TEXT = (f"per hidden size and device, the logarithm of the GRU/LSTM ratio of training tokens/s in every "
             f"timed round (both models trained alternately in one process, order reversed every other round), "
             f"with both cells on the same code path ({JUDGED_PATH}: vendor RNN libraries off, torch's own cell "
             f"loop for both), pooled over the runs' rounds; 95 % t-interval of the mean. A part reproduces "
             f"when the interval lies above 0 and the ratio reaches {MIN_SPEEDUP:g}×; fails when the interval "
             f"lies below {MIN_SPEEDUP:g}× (slower, equal or too small a gain); else inconclusive, and whenever "
             f"the rounds have under 80 % power to detect 4/3× at their measured spread. Every part reproduced "
             f"→ reproduced; any not → not reproduced. The default kernels' figure (oneDNN's fused LSTM on CPU "
             f"against torch's loop for the GRU) is reported beside it as an implementation fact, not judged.")


def timing_key(r: dict) -> tuple:
    return model_field(r, "hidden"), r["config"].get("device", "cpu")


def round_log_ratios(runs: list[dict], path: str) -> list[float]:
    """log(GRU/LSTM tokens/s) of every timed round of the runs on one kernel path, in order."""
    out = []
    for r in runs:
        gru = metric(r, f"{measure_name(path, 'gru')}_round_tokens_per_second", [])
        lstm = metric(r, f"{measure_name(path, 'lstm')}_round_tokens_per_second", [])
        out += [math.log(g / l) for g, l in zip(gru, lstm) if g > 0 and l > 0]
    return out


def speed_part(key: tuple, runs: list[dict]) -> Part:
    hidden, device = key
    values = round_log_ratios(runs, JUDGED_PATH)
    missing = "" if values else f"not measured: no {JUDGED_PATH} rounds in these runs (made by an older version?)"
    return judge_part(f"h={hidden} on {device}", RULE, values, tasks=(TASK,), inconclusive_because=missing)


def speed_claim(runs: list[dict]) -> Claim:
    """One part per (hidden size, device) of the cost task's runs."""
    parts = [speed_part(key, group) for key, group in group_by(runs, timing_key).items()]
    claim = Claim("architecture.gru_faster", STATEMENT, SOURCE, RULE_TEXT, verdict="", evidence="",
                  code=(__name__,))
    return claim_from_parts(claim, parts, missing=f"not measured: no finished {TASK} run "
                                                  f"(run it with --tasks {TASK} --archs gru)")

