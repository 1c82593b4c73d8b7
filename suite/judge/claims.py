"""Claims and sanity checks, and the rules that turn an interval into a verdict.

A *claim* is what the literature asserts and an experiment could contradict; its verdict comes from a
rule written before the results. A *check* is a consequence of a definition or inequality (a bound that
must hold, two code paths that must agree): it can only catch a bug, so it is listed apart and passes or
fails instead of being "reproduced".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from suite.judge.stats import Interval

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


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


@dataclass
class Check:
    id: str
    statement: str  # what must hold by construction
    passed: bool | None  # None: nothing to check in this sweep
    evidence: str
    rule: str = ""


def combine_verdicts(verdicts) -> str:
    """Parts of one claim: any part not reproduced → not reproduced; all reproduced → reproduced;
    otherwise (or with no parts at all) inconclusive."""
    verdicts = list(verdicts)
    if not verdicts:
        return INCONCLUSIVE
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(v == REPRODUCED for v in verdicts) else INCONCLUSIVE


def directional_verdict(effect: Interval, min_effect: float) -> tuple[str, str]:
    """Verdict on an effect oriented so that the claim predicts a positive value of at least `min_effect`.

    Reproduced when the interval lies above 0 and its estimate reaches `min_effect`; not reproduced when
    the interval lies below `min_effect` (the effect is reversed, absent or too small to be the claimed
    one); inconclusive otherwise. With no effect, "reproduced" happens only when the interval misses 0,
    i.e. at half the interval's error rate (2.5 % for a 95 % interval)."""
    if effect.n == 0 or math.isnan(effect.low):
        return INCONCLUSIVE, "too few replicates for an interval"
    if effect.low > 0 and effect.mean >= min_effect:
        return REPRODUCED, ""
    if effect.high < min_effect:
        side = "reversed" if effect.high < 0 else "smaller than the claimed effect"
        return NOT_REPRODUCED, f"the effect is {side}: interval {effect.format()} excludes {min_effect:g}"
    return INCONCLUSIVE, f"the interval {effect.format()} includes both 0 and {min_effect:g}"


def equivalence_verdict(difference: Interval, margin: float) -> tuple[str, str]:
    """'No gap' as an equivalence test (two one-sided tests at 5 % ⇔ the 90 % interval of the difference
    inside ±margin): reproduced inside the margin, not reproduced when the interval lies wholly outside it,
    inconclusive otherwise — low power never counts as equivalence."""
    if difference.n == 0 or math.isnan(difference.low):
        return INCONCLUSIVE, "too few replicates for an interval"
    if -margin < difference.low and difference.high < margin:
        return REPRODUCED, ""
    if difference.low >= margin or difference.high <= -margin:
        return NOT_REPRODUCED, f"the difference {difference.format()} lies outside ±{margin:g}"
    return INCONCLUSIVE, f"the interval {difference.format()} crosses the margin ±{margin:g}"
