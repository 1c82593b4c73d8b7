"""Claims and sanity checks, and the one way a claim's parts become a verdict.

A *claim* is what the literature asserts and an experiment could contradict; its verdict comes from a
rule written before the results. A *check* is a consequence of a definition or inequality (a bound that
must hold, two code paths that must agree): it can only catch a bug, so it is listed apart and passes or
fails instead of being "reproduced".

A claim is judged in *parts* (one per architecture, comparison or depth it names). Each part has a `Rule`
(its test, threshold and the literature effect its design must detect) and the per-unit values it rests on
(one value per seed for claims about architectures). `suite.judge.parts.judge_part` is the only place a part's
interval and verdict are computed, for real records and for simulated sweeps alike (suite/judge/power.py), and
it applies the power guard with the variability the values themselves show. `combine_verdicts` joins the parts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suite.judge.stats import NO_VALUE, Interval

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"

# The tests a part can use (Rule.test):
MEAN = "mean"  # one value per unit is the effect itself (paired by seed): t-interval of the mean
WELCH = "welch"  # two groups of units (e.g. gated and vanilla seeds): Welch interval of mean(values) − mean(reference)
EQUIVALENCE = "equivalence"  # two groups: "no gap", the 90 % Welch interval inside ±min_effect (TOST at 5 %)
RATES = "rates"  # two groups of 0/1 outcomes: Newcombe interval of the difference of rates + one-sided Fisher
TESTS = (MEAN, WELCH, EQUIVALENCE, RATES)


@dataclass(frozen=True)
class Rule:
    """How one part of a claim is decided, fixed before its confirmatory data.

    `min_effect`: the smallest effect that counts as the claimed one (the verdict's threshold; for EQUIVALENCE
    the margin); `design_effect`: the effect the design must detect with 80 % power (for EQUIVALENCE the true
    difference it must call equivalent, usually 0), stated with its `basis` in the literature. Effects are
    oriented so that the claim predicts a positive value."""

    test: str
    min_effect: float
    design_effect: float
    basis: str
    scale: str = ""  # what the effect measures, e.g. "Δ accuracy (bidirectional − delayed forward)"
    unit: str = "seed"  # what one value is

    def __post_init__(self):
        if self.test not in TESTS:
            raise ValueError(f"unknown test '{self.test}'; valid: {', '.join(TESTS)}")


@dataclass
class Part:
    """One judged part of a claim: its rule, the values it rests on, and what `judge_part` made of them."""

    name: str
    rule: Rule
    values: tuple[float, ...]  # per unit: the effect (MEAN), the first group (WELCH/EQUIVALENCE/RATES)
    reference: tuple[float, ...] = ()  # the second group (the one the claim predicts lower)
    tasks: tuple[str, ...] = ()  # tasks whose seeds this part reads (sets their confirmatory seed count)
    verdict: str = INCONCLUSIVE
    why: str = ""
    effect: Interval = NO_VALUE
    p_value: float = math.nan
    seeds_needed: int | None = None  # at the measured variability, for 80 % power at the design effect

    def text(self) -> str:
        p = "" if math.isnan(self.p_value) else f", p = {self.p_value:.2g}"
        return f"{self.name}: {self.effect.format()}{p}"


@dataclass
class Claim:
    id: str  # short stable key, e.g. "recall.gated_span"
    statement: str  # the claim in words
    source: str  # the paper that made it
    rule: str  # the rule that decides the verdict, in words, fixed before the results
    verdict: str  # reproduced | not reproduced | inconclusive
    evidence: str  # the numbers the verdict rests on
    why: str = ""  # for inconclusive / not reproduced: what is missing or what went the other way
    details: dict[str, Any] = field(default_factory=dict)
    effect: str = ""  # the effect size the verdict rests on, e.g. "Δ accuracy +0.31 [0.22, 0.40]"
    parts: list[Part] = field(default_factory=list)
    code: tuple[str, ...] = ()  # modules whose source computes this claim's statistic and verdict (its rule hash)


SANITY, CALIBRATION = "sanity", "calibration"  # Check.kind


@dataclass
class Check:
    """A sanity check (a consequence of a definition or an inequality: it can only catch a bug) or, with
    kind CALIBRATION, a calibration target (a difficulty the design was tuned to reach: it catches a
    mis-sized design, and is listed apart from the sanity checks)."""

    id: str
    statement: str  # what must hold by construction (or, for a calibration target, what the design aims at)
    passed: bool | None  # None: nothing to check in this sweep
    evidence: str
    rule: str = ""
    kind: str = SANITY


def combine_verdicts(verdicts) -> str:
    """The one aggregation over a claim's parts (every section uses it): reproduced when every part is; not
    reproduced when any part is not; otherwise — or with no parts — inconclusive.

    Why "every part": a claim names the architectures (or depths, or comparisons) it is about, and each part
    tests it on one of them. Requiring all of them is an intersection–union test: each part at its own 2.5 %
    false-"reproduced" rate keeps the claim's at or below 2.5 % with no multiplicity correction, where a
    majority vote would let a user's extra cells or one lucky part decide."""
    verdicts = list(verdicts)
    if not verdicts:
        return INCONCLUSIVE
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(v == REPRODUCED for v in verdicts) else INCONCLUSIVE


def verdict_codes(mean, low, high, min_effect: float) -> np.ndarray:
    """The directional rule over arrays of intervals (real claims and simulated sweeps share it): reproduced
    when the interval lies above 0 and its estimate reaches `min_effect`; not reproduced when the interval lies
    below `min_effect` (reversed, absent, or too small to be the claimed effect); inconclusive otherwise."""
    mean, low, high = (np.asarray(a, float) for a in (mean, low, high))
    out = np.full(np.broadcast(mean, low, high).shape, INCONCLUSIVE, dtype=object)
    out[high < min_effect] = NOT_REPRODUCED
    out[(low > 0) & (mean >= min_effect)] = REPRODUCED
    return out


def equivalence_codes(low, high, margin: float) -> np.ndarray:
    """"No gap" over arrays of 90 % intervals: reproduced inside ±margin, not reproduced wholly outside it,
    inconclusive otherwise — low power never counts as equivalence."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    out = np.full(np.broadcast(low, high).shape, INCONCLUSIVE, dtype=object)
    out[(low >= margin) | (high <= -margin)] = NOT_REPRODUCED
    out[(-margin < low) & (high < margin)] = REPRODUCED
    return out


def directional_verdict(effect: Interval, min_effect: float) -> tuple[str, str]:
    """`verdict_codes` for one interval, with the reason in words. With no effect, "reproduced" happens only
    when the interval misses 0, i.e. at half the interval's error rate (2.5 % for a 95 % interval)."""
    if effect.n == 0 or math.isnan(effect.low):
        return INCONCLUSIVE, "too few replicates for an interval"
    verdict = str(verdict_codes(effect.mean, effect.low, effect.high, min_effect))
    if verdict == NOT_REPRODUCED:
        side = "reversed" if effect.high < 0 else "smaller than the claimed effect"
        return verdict, f"the effect is {side}: interval {effect.format()} excludes {min_effect:g}"
    if verdict == INCONCLUSIVE:
        return verdict, f"the interval {effect.format()} includes both 0 and {min_effect:g}"
    return verdict, ""


def equivalence_verdict(difference: Interval, margin: float) -> tuple[str, str]:
    """`equivalence_codes` for one 90 % interval, with the reason in words."""
    if difference.n == 0 or math.isnan(difference.low):
        return INCONCLUSIVE, "too few replicates for an interval"
    verdict = str(equivalence_codes(difference.low, difference.high, margin))
    if verdict == NOT_REPRODUCED:
        return verdict, f"the difference {difference.format()} lies outside ±{margin:g}"
    if verdict == INCONCLUSIVE:
        return verdict, f"the interval {difference.format()} crosses the margin ±{margin:g}"
    return verdict, ""
