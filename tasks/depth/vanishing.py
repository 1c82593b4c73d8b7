"""Does the gradient reach the bottom of a deep stack without skips? Two claims, one rule: the recurrent stacks
of the depth task and the feed-forward stacks of ff_depth (presentation: report.py).

The lecture (CS224n, "Vanishing/exploding gradient is not just an RNN problem"): in any deep stack "the
gradient can become vanishingly small as it backpropagates, thus lower layers are learned very slowly", and
skip connections (He et al. 2016) are the fix. The statistic is the one both tasks record: the geometric
mean over training steps of ‖∂L/∂θ_first‖ / ‖∂L/∂θ_last‖, the gradient of the first layer's parameters
against the last layer's (layers of different shape differ in scale, so a stack is compared with its twin of
the same shape and depth with residual skips, never with 1). Per cell and depth ≥ DEEP, per seed:
ln(ratio with residual skips) − ln(ratio without) — how many e-folds less gradient the first layer gets
without skips. ff_depth also records the back-propagated signal (∂L/∂z) for the table beside it.
"""
from __future__ import annotations

import math

from suite.judge.analysis import group_by, metric
from suite.judge.claims import WELCH, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

from .rules import DEEP, depth_key
RATIO = "first_to_last_grad_ratio"
FLOOR = 1e-30  # a ratio that underflowed to 0 counts as 1e-30 (69 e-folds): "vanished", still a number
SOURCE = ("lecture notes, Vanishing gradients beyond RNNs (CS224n: 'not just an RNN problem … lower layers are "
          "learned very slowly'; residual connections: He et al. 2016; feed-forward nets: Glorot & Bengio 2010)")
RULE = Rule(
    test=WELCH, min_effect=math.log(4), design_effect=math.log(10),
    basis=("the lecture says 'vanishingly small' without a figure: the design must detect a first layer that "
           "gets a tenth of the relative gradient its residual twin gets (ln 10); minimum: a quarter (ln 4); "
           "contrast: ln(first/last gradient ratio) with residual skips − without, same cell and depth"),
    scale="e-folds less gradient at the first layer without skips (ln ratio residual − none)", unit="seed")
RULE_TEXT = (f"per cell and per depth ≥ {DEEP} run both without skips and with residual skips, seeds as the unit; "
             "value per seed: ln of the geometric-mean ratio of the first to the last layer's gradient norm over "
             f"training (a ratio of 0 counts as {FLOOR:g}). Part: mean with residual skips − mean without, 95 % "
             f"Welch interval: reproduced when above 0 and Δ ≥ ln 4 = {RULE.min_effect:.3f} (a quarter of the "
             f"gradient or less), not reproduced when below {RULE.min_effect:.3f}; inconclusive with fewer than "
             "two runs a side, or under 80 % power at the design effect. Every part reproduced → reproduced; any "
             "not reproduced → not reproduced; else (or no such depth) inconclusive")
CLAIMS = {  # claim id → (task, what the claim says)
    "depth.first_layer_vanishing": (
        "depth", "in a deep recurrent stack without skips the first layer gets a vanishing share of the gradient; "
                 "residual skips keep it"),
    "ff_depth.first_layer_vanishing": (
        "ff_depth", "in a deep feed-forward stack without skips the first layer gets a vanishing share of the "
                    "gradient, as in a recurrent one: vanishing is not just an RNN problem"),
}
NAMES = {"depth": "{cell}×{layers}", "ff_depth": "ff-{nonlinearity}×{layers}"}


def log_ratio(run: dict) -> float:
    value = metric(run, RATIO)
    return math.log(max(value, FLOOR)) if isinstance(value, (int, float)) and math.isfinite(value) else math.nan


def part_name(task: str, cell: str, layers: int) -> str:
    return NAMES[task].format(cell=cell, layers=layers, nonlinearity=cell.removeprefix("rnn_"))


def vanishing_part(task: str, cell: str, layers: int, plain: list[dict], residual: list[dict]) -> Part:
    with_skips = [x for x in map(log_ratio, residual) if not math.isnan(x)]
    without = [x for x in map(log_ratio, plain) if not math.isnan(x)]
    because = f"too few runs: {len(without)} vs {len(with_skips)}" if min(len(without), len(with_skips)) < 2 else ""
    return judge_part(part_name(task, cell, layers), RULE, with_skips, without, (task,), because)


def vanishing_claim(claim_id: str, records: list[dict]) -> Claim:
    """One claim of CLAIMS from the records of its task: a part per cell and deep depth run both ways."""
    task, statement = CLAIMS[claim_id]
    runs = [r for r in records if r.get("status") == "ok" and r["config"]["task"] == task]
    groups = group_by(runs, depth_key)
    parts = [vanishing_part(task, cell, layers, groups[(cell, layers, "none")], residual)
             for (cell, layers, skip), residual in sorted(groups.items())
             if skip == "residual" and layers >= DEEP and (cell, layers, "none") in groups]
    claim = Claim(claim_id, statement, SOURCE, RULE_TEXT, "", "", code=(__name__, "tasks.depth.rules"))
    return claim_from_parts(claim, parts, missing=f"not measured: no {task} stack of depth ≥ {DEEP} ran both with "
                                                  "skip='none' and skip='residual'")
