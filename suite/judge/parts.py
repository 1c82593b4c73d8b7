"""Judging a claim part by its rule (the one code path for real records and simulated sweeps), and a claim
from its parts."""
from __future__ import annotations

from typing import Sequence

from suite.judge import power
from suite.judge.claims import INCONCLUSIVE, MEAN, REPRODUCED, Claim, Part, Rule, combine_verdicts


def judge_part(name: str, rule: Rule, values: Sequence[float], reference: Sequence[float] = (),
               tasks: Sequence[str] = (), inconclusive_because: str = "") -> Part:
    """Interval, p-value and verdict of one part by its rule, then the power guard: a part whose design —
    its units, at the variability its own values show — has under 80 % power to detect the rule's design
    effect reads "inconclusive: too few seeds" (with the number it would need), whatever its interval says.
    `inconclusive_because` (e.g. "ceiling: both at 1.0", "never learned") overrides the verdict."""
    part = Part(name, rule, tuple(float(v) for v in values), tuple(float(v) for v in reference), tuple(tasks))
    part.effect, part.p_value = power.interval_and_p(rule, part.values, part.reference)
    part.verdict, part.why = power.verdict_of(rule, part.effect, part.p_value)
    if inconclusive_because:
        part.verdict, part.why = INCONCLUSIVE, inconclusive_because
        return part
    have = len(part.values) if rule.test == MEAN else min(len(part.values), len(part.reference))
    if have < 2:
        return part  # no interval, so already inconclusive ("too few replicates")
    part.seeds_needed = power.units_needed(rule, part.values, part.reference)
    if part.seeds_needed is None or part.seeds_needed > have:
        need = f"more than {power.CAP}" if part.seeds_needed is None else str(part.seeds_needed)
        guard = (f"too few {rule.unit}s: {have} of the {need} needed for 80 % power at Δ = {rule.design_effect:g} "
                 f"with the measured variability")
        if part.verdict == REPRODUCED:
            part.verdict = INCONCLUSIVE
        part.why = "; ".join(x for x in (part.why, guard) if x)
    return part


def claim_from_parts(claim: Claim, parts: list[Part], missing: str = "not measured") -> Claim:
    """Fill a claim's verdict, effect, evidence and reasons from its judged parts (the one aggregation)."""
    claim.parts = parts
    claim.verdict = combine_verdicts(p.verdict for p in parts)
    claim.effect = claim.effect or "; ".join(p.text() for p in parts)
    claim.evidence = claim.evidence or "; ".join(
        f"{p.text()} ({_units(p)})" for p in parts) or missing
    reasons = [f"{p.name}: {p.why}" for p in parts if p.why and p.verdict != REPRODUCED]
    claim.why = "; ".join(reasons) if parts else missing
    return claim


def _units(part: Part) -> str:
    if part.rule.test == MEAN:
        return f"{len(part.values)} {part.rule.unit}s"
    return f"{len(part.values)} vs {len(part.reference)} {part.rule.unit}s"
