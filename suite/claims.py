"""Claims the suite tests, and the explicit rules that turn numbers into verdicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .stats import Interval

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"


@dataclass
class Claim:
    id: str  # short stable key, e.g. "recall.gated_span"
    statement: str  # the claim in words
    source: str  # where it comes from (paper / lecture)
    rule: str  # the rule that decides the verdict, in words
    verdict: str  # reproduced | not reproduced | inconclusive
    evidence: str  # the numbers (with 95 % CIs) the verdict rests on
    why: str = ""  # for inconclusive / not reproduced: what is missing or what went the other way
    details: dict[str, Any] = field(default_factory=dict)


def combine_verdicts(verdicts) -> str:
    """Parts of one claim: any part not reproduced → not reproduced; all reproduced → reproduced;
    otherwise (or with no parts at all) inconclusive."""
    verdicts = list(verdicts)
    if not verdicts:
        return INCONCLUSIVE
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(v == REPRODUCED for v in verdicts) else INCONCLUSIVE


def less_than(a: Interval, b: Interval, min_n: int = 2) -> tuple[str, str]:
    """Verdict for 'a < b': reproduced when a's CI lies wholly below b's, not reproduced when wholly
    above, inconclusive when they overlap or either side has fewer than `min_n` seeds."""
    if a.n < min_n or b.n < min_n:
        return INCONCLUSIVE, f"fewer than {min_n} seeds (n={a.n} and n={b.n})"
    if a.high < b.low:
        return REPRODUCED, ""
    if a.low > b.high:
        return NOT_REPRODUCED, "the difference goes the other way, with non-overlapping 95 % CIs"
    return INCONCLUSIVE, "the 95 % CIs overlap"
