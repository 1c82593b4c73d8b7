"""The clipping claims' statistics and verdicts, fixed before the confirmatory data. Presentation (tables, plots,
page wording) lives in report.py: this module's source is hashed into the claims' pre-registered rules.

The unit is one training (a replicate: its own init and batch order). Each part compares the rate of a bad
outcome in a group the claim predicts worse with its rate under clipping at the smallest threshold, by the
suite's RATES test (Newcombe interval of the difference, one-sided Fisher exact test):
- `clipping.divergence` (Pascanu et al. 2013): per architecture of the task, diverged (non-finite, or held-out
  loss above ln|V|) without clipping vs clipped, and in the effective-step control (unclipped SGD at lr × the
  clipped trainings' median clip factor) vs clipped — clipping must beat both, or it is only a smaller step;
- `clipping.nonfinite` (lecture notes): per vanilla RNN, non-finite (NaN/Inf) without clipping vs clipped.
"""
from __future__ import annotations

import math

from suite.core.families import VANILLA
from suite.judge.analysis import label, metric, seed
from suite.judge.claims import RATES, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

from .task import CLIP_ARCHS as ARCHS

TASK = "clipping"
# One threshold for both claims' minimum: clipping that spares fewer than one training in five is not the
# remedy Pascanu et al. describe. Design effect: no paper states a divergence rate for its setting, so the
# design must detect the effect the task is calibrated to produce — unclipped SGD failing in about half the
# trainings against none clipped (exploratory seeds 0–2, 18 trainings a condition: rnn_tanh 18/18, rnn_relu
# 18/18, lstm 8/18 unclipped; 0/18 clipped for each). At a clipped share of 0 the RATES test needs 12
# trainings a side for 80 % power; the standard design has 18, so that 0 against 0 (≥ 16 a side) excludes
# the minimum and reads "not reproduced" rather than "inconclusive".
MIN_EFFECT = 0.2
DESIGN_EFFECT = 0.5
DIVERGENCE_RULE = Rule(
    test=RATES, min_effect=MIN_EFFECT, design_effect=DESIGN_EFFECT,
    basis=("no published divergence rate (Pascanu et al. 2013 §3.2 report task success, not divergence): the "
           "task's learning rates are calibrated so that unclipped SGD diverges in about half the trainings "
           "or more (exploratory: 18/18, 18/18, 8/18); "
           "contrast: diverged share without clipping (or in the effective-step control) minus clipped"),
    scale="Δ diverged share (no clipping or control − clipped)", unit="training")
NONFINITE_RULE = Rule(
    test=RATES, min_effect=MIN_EFFECT, design_effect=DESIGN_EFFECT,
    basis=("the lecture gives no rate ('may even produce NaN and Inf'); the design must detect half the "
           "unclipped trainings going non-finite against none clipped; contrast: non-finite share without "
           "clipping minus clipped"),
    scale="Δ non-finite share (no clipping − clipped)", unit="training")

DIVERGENCE = ("clipping.divergence",
              "norm clipping reduces divergence, and by more than the smaller step it effectively takes",
              "Pascanu, Mikolov & Bengio 2013 (§3.2, Algorithm 1: if ‖g‖ ≥ threshold then g ← threshold/‖g‖ · g)")
NONFINITE = ("clipping.nonfinite",
             "exploding gradients drive unclipped training of a vanilla RNN to NaN/Inf; clipped training "
             "stays finite",
             "lecture notes, exploding gradients ('each step too large, may even produce NaN and Inf'; the remedy: "
             "gradient clipping); Pascanu et al. 2013 §3")


_RATES_WORDS = ("Newcombe 95 % interval of the difference and one-sided Fisher exact test (the suite's RATES "
                f"test): reproduced when the interval lies above 0, the difference reaches {MIN_EFFECT} and Fisher "
                f"p < 0.025; not reproduced when the interval lies below {MIN_EFFECT}; inconclusive otherwise, "
                f"and whenever the design has under 80 % power to detect a difference of {DESIGN_EFFECT} at the "
                f"clipped share it measured")
DIVERGENCE_TEXT = (
    f"per architecture the task trains ({', '.join(ARCHS)}), over replicate trainings (the unit); diverged = "
    f"NaN/Inf or held-out loss above the uniform guess ln|V|. Two parts each, both against clipping at the "
    f"smallest threshold: (a) diverged share without clipping at the same learning rate; (b) diverged share of "
    f"the effective-step control — unclipped SGD at lr × the median over the clipped trainings' steps of "
    f"min(1, threshold/‖g‖), on the same corpora and seeds (where that median is 1 the control is the "
    f"unclipped run itself). Each part: {_RATES_WORDS}; part (a) is inconclusive when no unclipped training "
    f"diverged (the setting produced nothing to tame). Every part reproduced → reproduced; any not reproduced "
    f"→ not reproduced; else inconclusive")
NONFINITE_TEXT = (
    f"per vanilla RNN ({', '.join(VANILLA)}; suite.core.families), over replicate trainings in the clipping "
    f"task's unstable setting; non-finite = the loss or gradient became NaN/Inf during training, or the held-out "
    f"loss is not finite. Part: non-finite share without clipping minus at the smallest threshold; "
    f"{_RATES_WORDS}. Every part reproduced → reproduced; any not reproduced → not reproduced; else inconclusive")


def clip_of(run: dict) -> float | None:
    return metric(run, "clip", None)


def outcomes(runs: list[dict], name: str) -> list[float]:
    """One 0/1 value per training of the runs: did it diverge / go non-finite (`name`)?"""
    return [float(bool(rep[name])) for r in runs for rep in metric(r, "replicas", [])]


def control_outcomes(clipped: list[dict], unclipped: list[dict], name: str) -> tuple[list[float], list[str]]:
    """The effective-step control's 0/1 values, seed by seed: the control trainings a clipped run recorded or,
    where its median clip factor was 1, the unclipped run of the same seed (the same trainings). Also the
    seeds whose control is missing."""
    by_seed = {seed(r): r for r in unclipped}
    values, missing = [], []
    for run in clipped:
        control = metric(run, "control", None)
        if not isinstance(control, dict):
            missing.append(f"seed {seed(run)}")
        elif control.get("trained"):
            values += [float(bool(rep[name])) for rep in control.get("replicas", [])]
        elif control.get("clip_scale_median", math.nan) >= 1.0 and seed(run) in by_seed:
            values += outcomes([by_seed[seed(run)]], name)
        else:
            missing.append(f"seed {seed(run)}")
    return values, missing


def conditions(runs: list[dict], cell: str) -> tuple[list[dict], list[dict], float | None]:
    """(unclipped runs, runs at the smallest threshold, that threshold) of one cell."""
    mine = [r for r in runs if label(r) == cell]
    thresholds = [clip_of(r) for r in mine if clip_of(r) is not None]
    smallest = min(thresholds) if thresholds else None
    return ([r for r in mine if clip_of(r) is None], [r for r in mine if smallest is not None and
                                                       clip_of(r) == smallest], smallest)


def missing_part(name: str, rule: Rule, why: str) -> Part:
    return judge_part(name, rule, (), (), tasks=(TASK,), inconclusive_because=f"not measured: {why}")


def missing_runs(unclipped: list[dict], clipped: list[dict]) -> str:
    return "no runs" if not unclipped and not clipped else f"no {'unclipped' if not unclipped else 'clipped'} runs"


def rate_part(name: str, rule: Rule, worse: list[float], clipped: list[float], because: str = "") -> Part:
    """One RATES part over trainings; with fewer than two a side there is no interval to judge."""
    if min(len(worse), len(clipped)) < 2:
        because = f"too few trainings: {len(worse)} vs {len(clipped)}"
    return judge_part(name, rule, worse, clipped, tasks=(TASK,), inconclusive_because=because)


def divergence_parts(runs: list[dict], cell: str) -> list[Part]:
    """No clipping − clipped, then effective-step control − clipped. An unclipped group that never diverged
    means the setting produced no explosion to tame: that part is inconclusive, not evidence either way. A
    control that never diverged while the unclipped runs did is evidence: the smaller step was enough."""
    unclipped, clipped, c = conditions(runs, cell)
    if not unclipped or not clipped:
        return [missing_part(cell, DIVERGENCE_RULE, missing_runs(unclipped, clipped))]
    base, reference = outcomes(unclipped, "diverged"), outcomes(clipped, "diverged")
    quiet = "" if any(base) else f"none of {len(base)} unclipped trainings diverged: nothing to reduce"
    parts = [rate_part(f"{cell}: no clipping − clip {c:g}", DIVERGENCE_RULE, base, reference, quiet)]
    control, missing = control_outcomes(clipped, unclipped, "diverged")
    name = f"{cell}: effective-step control − clip {c:g}"
    if missing:
        parts.append(missing_part(name, DIVERGENCE_RULE, f"no effective-step control for {', '.join(missing)}"))
    else:
        parts.append(rate_part(name, DIVERGENCE_RULE, control, reference))
    return parts


def nonfinite_parts(runs: list[dict], cell: str) -> list[Part]:
    """No clipping − clipped on the non-finite outcome: here an unclipped group that never went non-finite
    is the claim failing in the very setting where its gradients explode."""
    unclipped, clipped, c = conditions(runs, cell)
    if not unclipped or not clipped:
        return [missing_part(cell, NONFINITE_RULE, missing_runs(unclipped, clipped))]
    return [rate_part(f"{cell}: no clipping − clip {c:g}", NONFINITE_RULE, outcomes(unclipped, "nonfinite"),
                      outcomes(clipped, "nonfinite"))]


def divergence_claim(runs: list[dict]) -> Claim:
    """Per architecture of the task: clipping against no clipping, and against its effective-step control."""
    claim = Claim(*DIVERGENCE, rule=DIVERGENCE_TEXT, verdict="", evidence="", code=(__name__,))
    return claim_from_parts(claim, [p for cell in ARCHS for p in divergence_parts(runs, cell)])


def nonfinite_claim(runs: list[dict]) -> Claim:
    """Per vanilla RNN (suite.core.families): non-finite trainings without clipping against clipped."""
    claim = Claim(*NONFINITE, rule=NONFINITE_TEXT, verdict="", evidence="", code=(__name__,))
    return claim_from_parts(claim, [p for cell in VANILLA for p in nonfinite_parts(runs, cell)])
