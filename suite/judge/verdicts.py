"""Verdicts a reader can use: the machine-readable claims file, each part's distance to the threshold that
would flip it, the policy for the family of claims, and the verdict table the README quotes.

The claims file (claims.json beside REPORT.md) has one entry per claim and one per part: claim, source, rule
hash and its pre-registration status, effect with its interval and p-value, units, verdict, and the commit
and code versions that made the records.
"""
from __future__ import annotations

import json
import math
from typing import Any

from suite.judge.claims import EQUIVALENCE, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, Part
from suite.judge.power import EXACT_ALPHA
from suite.judge.preregistration import CONFIRMATORY, rule_hash
from suite.judge.stats import format_number

MARKS = {REPRODUCED: "✅ reproduced", NOT_REPRODUCED: "❌ not reproduced", INCONCLUSIVE: "❔ inconclusive"}
FALSE_REPRODUCED_RATE = 0.025  # one side of a 95 % interval; all parts must clear it (intersection–union)


def distance_to_flip(part: Part) -> str:
    """How far the part's interval sits from the bound that would change its verdict, in the effect's units."""
    e, rule = part.effect, part.rule
    if e.n == 0 or math.isnan(e.low):
        return "no interval"
    f = format_number
    if rule.test == EQUIVALENCE:
        inside = min(e.low + rule.min_effect, rule.min_effect - e.high)
        return (f"interval {f(inside)} inside ±{f(rule.min_effect)}" if inside > 0
                else f"interval {f(-inside)} beyond ±{f(rule.min_effect)}")
    if part.verdict == REPRODUCED:
        return (f"lower bound {f(e.low)} above 0; estimate {f(e.mean - rule.min_effect)} above the minimum "
                f"{f(rule.min_effect)}")
    if part.verdict == NOT_REPRODUCED:
        return f"upper bound {f(rule.min_effect - e.high)} below the minimum {f(rule.min_effect)}"
    to_yes = max(-e.low, rule.min_effect - e.mean)
    to_no = e.high - rule.min_effect
    return (f"{f(to_yes)} short of reproduced (lower bound above 0 and estimate ≥ {f(rule.min_effect)}); "
            f"{f(to_no) if to_no > 0 else 0} from not reproduced (upper bound below {f(rule.min_effect)})")


def part_entry(part: Part) -> dict[str, Any]:
    e = part.effect
    return {"part": part.name, "verdict": part.verdict, "why": part.why, "test": part.rule.test,
            "scale": part.rule.scale, "effect": _num(e.mean), "low": _num(e.low), "high": _num(e.high),
            "interval": e.method, "p": _num(part.p_value), "units": len(part.values),
            "reference_units": len(part.reference), "unit": part.rule.unit, "min_effect": part.rule.min_effect,
            "design_effect": part.rule.design_effect, "basis": part.rule.basis,
            "seeds_needed": part.seeds_needed, "distance_to_flip": distance_to_flip(part)}


def _num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def claims_file(claims: list[tuple[Claim, str, str]], provenance: dict[str, Any]) -> str:
    """JSON text of every claim: (claim, its pre-registration status, its section page)."""
    entries = [{"id": c.id, "claim": c.statement, "source": c.source, "verdict": c.verdict, "why": c.why,
                "status": status, "rule_hash": rule_hash(c), "rule": c.rule, "effect": c.effect, "page": page,
                "parts": [part_entry(p) for p in c.parts]} for c, status, page in claims]
    return json.dumps({"format": 1, "provenance": provenance, "family_policy": family_policy(claims),
                       "claims": entries}, indent=1, ensure_ascii=False) + "\n"


def family_policy(claims: list[tuple[Claim, str, str]]) -> str:
    """The stated policy for the family of claims, with its bound for this report."""
    judged = [c for c, status, _ in claims if status == CONFIRMATORY]
    reproduced = sum(c.verdict == REPRODUCED for c in judged)
    if not judged:  # e.g. a quick run on exploratory seeds: no bound to state
        return ("No claim in this sweep is confirmatory (judged under its pre-registered rule on the confirmatory "
                "seeds), so no family bound applies: every verdict here is exploratory.")
    return (f"No family-wise correction: each claim is an intersection–union test (every part must clear its "
            f"one-sided {FALSE_REPRODUCED_RATE:.1%} bound, RATES parts also a Fisher test at {EXACT_ALPHA}), so a "
            f"claim whose effect is absent reads reproduced at most {FALSE_REPRODUCED_RATE:.1%} of the time. Of the "
            f"{len(judged)} confirmatory claims, {reproduced} read reproduced; if every one of the {len(judged)} "
            f"effects were absent, the expected number of false 'reproduced' verdicts would be at most "
            f"{FALSE_REPRODUCED_RATE * len(judged):.2f}, and the chance of one or more at most "
            f"{1 - (1 - FALSE_REPRODUCED_RATE) ** len(judged):.0%} (independent claims). Exploratory claims "
            f"carry no such bound.")


def verdict_table(claims_json: dict[str, Any]) -> str:
    """The README's verdict table, made from a claims file (a test keeps the README equal to it)."""
    lines = ["| claim | source | verdict | effect [95 % CI] |", "|---|---|---|---|"]
    for c in claims_json["claims"]:
        verdict = MARKS.get(c["verdict"], c["verdict"])
        if c["status"] != CONFIRMATORY:
            verdict += f" ({c['status']})"
        effect = "; ".join(_part_effect(p) for p in c["parts"]) or c.get("effect") or "–"  # a claim without parts
        lines.append(f"| {_cell(c['claim'])} | {_cell(c['source'])} | {verdict} | {_cell(effect)} |")
    return "\n".join(lines)


def _part_effect(p: dict[str, Any]) -> str:
    if p["effect"] is None:
        return f"{p['part']}: –"
    bounds = "" if p["low"] is None else f" [{format_number(p['low'])}, {format_number(p['high'])}]"
    return f"{p['part']}: {format_number(p['effect'])}{bounds}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


README_START = "<!-- verdicts: generated from results/reference/claims.json by `python -m suite.judge.verdicts` -->"
README_END = "<!-- /verdicts -->"


def readme_with_table(readme: str, claims_json: dict[str, Any]) -> str:
    """The README with its verdict block replaced by the table made from the claims file."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + "\n" + verdict_table(claims_json) + "\n" + readme[end:]


def main() -> None:
    """Refresh the README's verdict table from the reference run's claims file."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    claims_json = json.loads((root / "results" / "reference" / "claims.json").read_text(encoding="utf-8"))
    readme = root / "README.md"
    readme.write_text(readme_with_table(readme.read_text(encoding="utf-8"), claims_json), encoding="utf-8")


if __name__ == "__main__":
    main()
