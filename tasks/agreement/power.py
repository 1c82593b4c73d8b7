"""Simulation-based power of the agreement rules judged per model (trend, objective): what each rule detects
with 80 % power at a design's seeds and items, and the "inconclusive: too few …" guard for designs that
cannot detect the effect the literature reports. The recency and gated-attraction rules are judged as claim
parts (suite/judge/parts.py), whose guard simulates at the between-seed SD their own values show.

Each simulated sweep draws per-seed true effects (normal around the effect, SD `rule.seed_sd`) and binomial
item outcomes in the probe design's cells, then runs the very effect and verdict functions of `rules.py`.
Assumed base error: 15 % (rates) — item noise is largest near 50 %, so lower real error rates only help.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from suite.judge.claims import REPRODUCED

from .rules import POWER, RULES, TREND, Rule, seed_intervals, trend_effect, verdict_codes

BASE_ERROR = 0.15
SWEEPS = 300
EFFECT_GRID = np.round(np.arange(0.005, 0.3001, 0.005), 3)


@dataclass(frozen=True)
class Design:
    seeds: int  # per architecture (per group for the gated comparison)
    items_per_cell: int  # items in each (intervening nouns, attractors) cell
    max_intervening: int

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(n, k) for n in range(self.max_intervening + 1) for k in range(n + 1)]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    @property
    def attractor_items(self) -> int:
        return self.items_per_cell * self.max_intervening * (self.max_intervening + 1) // 2

    @property
    def all_items(self) -> int:
        return self.items_per_cell * (self.max_intervening + 1) * (self.max_intervening + 2) // 2


def _seed_effects(rule: Rule, effect: float, design: Design, sweeps: int, rng) -> np.ndarray:
    return rng.normal(effect, rule.seed_sd, size=(sweeps, design.seeds))


def simulate_effects(rule: Rule, effect: float, design: Design, sweeps: int, rng) -> np.ndarray | tuple:
    """Per-seed measured effects of `sweeps` simulated sweeps: (sweeps, seeds)."""
    true = _seed_effects(rule, effect, design, sweeps, rng)
    m = design.items_per_cell
    if rule.name == TREND.name:
        n, k = design.cells()
        p = np.clip(BASE_ERROR / 3 + true[..., None] * k, 0, 1)
        errors = rng.binomial(m, p).astype(float)
        return trend_effect(errors, np.full(errors.shape, float(m)), n, k)
    items = design.all_items
    first = rng.binomial(items, np.clip(BASE_ERROR + true, 0, 1)) / items
    second = rng.binomial(items, np.clip(np.full(true.shape, BASE_ERROR) + rng.normal(0, rule.seed_sd, true.shape),
                                         0, 1)) / items
    return first - second  # OBJECTIVE: paired per seed (LM − number prediction)


def power(rule: Rule, effect: float, design: Design, sweeps: int = SWEEPS, seed: int = 0) -> float:
    """Share of simulated sweeps the rule calls "reproduced" when the true effect is `effect`."""
    rng = np.random.default_rng(seed)
    sims = simulate_effects(rule, effect, design, sweeps, rng)
    with np.errstate(all="ignore"):
        mean, low, high = seed_intervals(sims)
    return float(np.mean(verdict_codes(mean, low, high, rule.min_effect) == REPRODUCED))


@functools.lru_cache(maxsize=256)
def detectable_effect(rule: Rule, design: Design) -> float:
    """The smallest effect on EFFECT_GRID the rule reproduces with ≥ 80 % power (binary search; power
    rises with the effect); inf when even the largest is missed."""
    low, high = 0, len(EFFECT_GRID) - 1
    if power(rule, float(EFFECT_GRID[high]), design) < POWER:
        return float("inf")
    while low < high:
        mid = (low + high) // 2
        if power(rule, float(EFFECT_GRID[mid]), design) >= POWER:
            high = mid
        else:
            low = mid + 1
    return float(EFFECT_GRID[low])


def seeds_needed(rule: Rule, design: Design, most: int = 30) -> int | None:
    """The fewest seeds (2…most) at the design's items with which the rule detects its design effect."""
    for seeds in range(2, most + 1):
        if detectable_effect(rule, Design(seeds, design.items_per_cell, design.max_intervening)) \
                <= rule.design_effect:
            return seeds
    return None


def too_few(rule: Rule, design: Design) -> str:
    """'' when the design detects the rule's design effect with 80 % power, else why the verdict is
    "inconclusive: too few …" whatever the data say."""
    if design.seeds < 2:
        return f"too few seeds ({design.seeds}; an interval over seeds needs ≥ 2)"
    detectable = detectable_effect(rule, design)
    if detectable <= rule.design_effect:
        return ""
    return (f"too few seeds/items ({design.seeds} seeds, {design.items_per_cell} items per cell "
            f"detect {detectable:g} with 80 % power; the rule needs {rule.design_effect:g}, "
            f"reached with {seeds_needed(rule, design) or 'more than 30'} seeds)")


def power_table(design: Design, observed_sd: dict[str, float] | None = None) -> pd.DataFrame:
    """Per rule: its thresholds and the effect it detects with 80 % power at this design; with the sweep's
    measured between-seed SDs (`observed_sd`, per rule name) also the effect detectable at those — the
    power analysis's assumption checked against the data."""
    rows = []
    for rule in RULES.values():
        detectable = detectable_effect(rule, design)
        row = {"rule": rule.name, "effect": rule.unit, "min_effect": rule.min_effect,
               "design_effect": rule.design_effect, "seeds": design.seeds, "items_per_cell": design.items_per_cell,
               "detectable_80pct": detectable, "adequate": detectable <= rule.design_effect,
               "seeds_needed": seeds_needed(rule, design), "assumed_seed_sd": rule.seed_sd}
        measured = (observed_sd or {}).get(rule.name)
        if measured is not None and np.isfinite(measured):
            row["observed_seed_sd"] = round(measured, 4)
            row["detectable_at_observed_sd"] = detectable_effect(replace(rule, seed_sd=round(measured, 4)), design)
        rows.append({**row, "design_effect_basis": rule.basis})
    return pd.DataFrame(rows)
