"""The depth claims' statistics and verdicts, fixed before the confirmatory data (presentation: report.py).

A deep stack without skips either trains or fails outright (pilot: lstm×4 without skips, two seeds at 2.9
nats and one at 4.58 — the unigram level; lstm×8, all three at 4.58). Pooling both in one Welch interval
mixes two populations, so the skip claim is judged in two claims, each per cell and per depth ≥ DEEP that ran
both without skips and with residual skips:
- `depth.skip_failures`: the share of trainings that failed to train, none − residual (RATES over seeds);
- `depth.skip_connections`: test loss among the trainings that trained, none − residual (WELCH over seeds).
A training *failed* when it diverged or its test loss lies more than FAIL_MARGIN above the best one-layer
training of the same cell in the sweep (the shallow stack that trains, the lecture's reference).
"""
from __future__ import annotations

import math

from suite.judge.analysis import arch, group_by, metric, model_field
from suite.judge.claims import RATES, WELCH, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

TASK = "depth"
DEEP = 4  # "deep" starts here: the lecture's stacks of 2–4 layers train without skips, 8 need them
# Twice the one-layer perplexity: the pilot's failed trainings sit 1.7 nats above the one-layer level, trained
# stacks of any depth and skip style within 0.2 nats of it.
FAIL_MARGIN = math.log(2)
SOURCE = ("lecture notes, Multi-layer RNNs (CS224n: stacks of 2–4 layers, 8 with skip connections; Britz et al. "
          "2017 for NMT stacks); residual connections: He et al. 2016")
LOSS_RULE = Rule(
    test=WELCH, min_effect=math.log(1.05), design_effect=0.1,
    basis=("no published effect at this scale (the lecture: deep stacks need skips; He et al. 2016 for "
           "feed-forward nets): the design must detect a 10 % lower perplexity (0.1 nats); minimum: 5 % (log 1.05); "
           "contrast: test loss without skips − with residual skips, trained runs only"),
    scale="Δ test loss (none − residual), nats per token, trained runs", unit="seed")
FAILURE_RULE = Rule(
    test=RATES, min_effect=0.2, design_effect=0.5,
    basis=("the lecture gives no rate ('8 layers need skip connections'): the design must detect half the "
           "trainings without skips failing against none with residual skips (pilot: lstm×4 1/3, lstm×8 3/3); "
           "contrast: failed share without skips − with residual skips"),
    scale="Δ failed share (none − residual)", unit="seed")


def depth_key(r: dict) -> tuple[str, int, str]:
    """(cell, depth, skip style); a single layer has no skips whatever its config says."""
    layers = model_field(r, "layers")
    return arch(r), layers, model_field(r, "skip") if layers > 1 else "none"


def finished(records: list[dict]) -> list[dict]:
    """Trainings that ran to the end or diverged (a diverged one failed to train; a crashed one says nothing)."""
    return [r for r in records if r.get("status") in ("ok", "diverged") and r["config"]["task"] == TASK]


def trained_level(records: list[dict], cell: str) -> float:
    """The best test loss of the cell's one-layer trainings (nan without any)."""
    losses = [metric(r, "test_loss") for r in records if depth_key(r)[:2] == (cell, 1) and r.get("status") == "ok"]
    losses = [x for x in losses if isinstance(x, (int, float)) and math.isfinite(x)]
    return min(losses) if losses else math.nan


def failed(run: dict, level: float) -> bool:
    loss = metric(run, "test_loss") if run.get("status") == "ok" else math.nan
    return not (isinstance(loss, (int, float)) and math.isfinite(loss) and loss <= level + FAIL_MARGIN)


def deep_pairs(records: list[dict]):
    """(cell, depth, runs without skips, runs with residual skips, trained level) per depth ≥ DEEP run both ways."""
    groups = group_by(records, depth_key)
    for (cell, layers, skip), residual in groups.items():
        if skip == "residual" and layers >= DEEP and (cell, layers, "none") in groups:
            yield cell, layers, groups[(cell, layers, "none")], residual, trained_level(records, cell)


def failure_part(cell: str, layers: int, plain: list[dict], residual: list[dict], level: float) -> Part:
    name = f"{cell}×{layers}"
    if math.isnan(level):
        return judge_part(name, FAILURE_RULE, (), (), (TASK,), f"not measured: no one-layer {cell} run to set "
                                                               "the trained level")
    worse = [float(failed(r, level)) for r in plain]
    better = [float(failed(r, level)) for r in residual]
    because = f"too few trainings: {len(worse)} vs {len(better)}" if min(len(worse), len(better)) < 2 else ""
    return judge_part(name, FAILURE_RULE, worse, better, (TASK,), because)


def loss_part(cell: str, layers: int, plain: list[dict], residual: list[dict], level: float) -> Part:
    name = f"{cell}×{layers}"
    if math.isnan(level):
        return judge_part(name, LOSS_RULE, (), (), (TASK,), f"not measured: no one-layer {cell} run to set the "
                                                            "trained level")
    worse = [metric(r, "test_loss") for r in plain if not failed(r, level)]
    better = [metric(r, "test_loss") for r in residual if not failed(r, level)]
    because = ""
    if min(len(worse), len(better)) < 2:
        because = (f"too few trained runs: {len(worse)} of {len(plain)} without skips, {len(better)} of "
                   f"{len(residual)} with residual skips (the rest failed; see depth.skip_failures)")
    return judge_part(name, LOSS_RULE, worse, better, (TASK,), because)


_COMMON = (f"per cell and per depth ≥ {DEEP} run both without skips and with residual skips, seeds as the unit; "
           f"a training failed when it diverged or its test loss exceeds the cell's best one-layer test loss by "
           f"more than ln 2 (twice the perplexity)")
_AGGREGATE = ("; inconclusive also with under 80 % power at the design effect. Every part reproduced → "
              "reproduced; any not reproduced → not reproduced; else (or no such depth) inconclusive")
LOSS_TEXT = (f"{_COMMON}. Part: test loss without skips − with residual skips over the trainings that trained, "
             f"95 % Welch interval: reproduced when above 0 and Δ ≥ {LOSS_RULE.min_effect:.3f} nats (≥ 5 % lower "
             f"perplexity), not reproduced when below {LOSS_RULE.min_effect:.3f}; inconclusive with fewer than two "
             f"trained runs a side{_AGGREGATE}")
FAILURE_TEXT = (f"{_COMMON}. Part: failed share without skips − with residual skips, Newcombe 95 % interval and "
                f"one-sided Fisher exact test: reproduced when the interval lies above 0, Δ ≥ "
                f"{FAILURE_RULE.min_effect:g} and p < 0.025, not reproduced when the interval lies below "
                f"{FAILURE_RULE.min_effect:g}{_AGGREGATE}")


def skip_claim(records: list[dict]) -> Claim:
    """Residual skips against none: test loss of the trainings that trained, per deep stack."""
    runs = finished(records)
    claim = Claim("depth.skip_connections", "deep stacks that train reach a lower loss with skip connections",
                  SOURCE, LOSS_TEXT, "", "", code=(__name__,))
    return claim_from_parts(claim, [loss_part(*pair) for pair in deep_pairs(runs)],
                            missing=f"not measured: no depth ≥ {DEEP} stack ran both with skip='none' and "
                                    "skip='residual'")


def failure_claim(records: list[dict]) -> Claim:
    """Residual skips against none: the share of trainings that failed to train, per deep stack."""
    runs = finished(records)
    claim = Claim("depth.skip_failures", "deep stacks without skip connections fail to train more often",
                  SOURCE, FAILURE_TEXT, "", "", code=(__name__,))
    return claim_from_parts(claim, [failure_part(*pair) for pair in deep_pairs(runs)],
                            missing=f"not measured: no depth ≥ {DEEP} stack ran both with skip='none' and "
                                    "skip='residual'")


def failure_table_rows(records: list[dict]) -> list[dict]:
    """Per (cell, depth, skip): trainings, failed, and the trained level they were judged against."""
    runs = finished(records)
    rows = []
    for (cell, layers, skip), group in group_by(runs, depth_key).items():
        level = trained_level(runs, cell)
        n_failed = sum(failed(r, level) for r in group) if not math.isnan(level) else None
        rows.append({"arch": cell, "layers": layers, "skip": skip, "trainings": len(group), "failed": n_failed,
                     "trained_level": level})
    return rows
