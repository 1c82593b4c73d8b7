"""Intervals, verdicts and power of a claim part's rule (suite/judge/claims.py `Rule`), from scipy/statsmodels.

Power is simulated through the same verdict code a real part is judged by: `SWEEPS` simulated designs draw
per-unit values around the rule's design effect with the variability the part's own values show (a normal
for continuous effects, the measured base rate for RATES), build the intervals the real rule builds and
count how often the rule says "reproduced". The random streams are fixed, so a report rebuilt from the same
records states the same numbers.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
from scipy import stats as sps
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import confint_proportions_2indep

from suite.judge.claims import (EQUIVALENCE, INCONCLUSIVE, MEAN, RATES, REPRODUCED, Rule,
                                directional_verdict, equivalence_codes, equivalence_verdict, verdict_codes)
from suite.judge.stats import LEVEL, Interval, difference_ci, mean_ci

POWER = 0.80  # every claim part's design must detect its design effect this often
CAP = 30  # the most units (seeds) a part may ask for; a part that needs more reads "would need N"
# A confirmatory design is planned at the pilot's SD × this margin: the guard then judges with the SD of the
# confirmatory seeds themselves, which scatters around the true SD (±24 % at 10 seeds), and a design planned at
# exactly the pilot's SD would pass the guard only about half the time (tests/test_power.py).
PLANNING_MARGIN = 1.25
SWEEPS = 1000
EQUIVALENCE_LEVEL = 0.90  # two one-sided tests at 5 % ⇔ the 90 % interval inside the margin
EXACT_ALPHA = 0.025  # RATES: the one-sided Fisher test must agree with the 95 % interval (one side of it)


# --------------------------------------------------------------------------- one part


def interval_and_p(rule: Rule, values: Sequence[float], reference: Sequence[float] = ()) -> tuple[Interval, float]:
    """The part's effect with its interval, and the one-sided p-value of the claimed direction."""
    x, y = np.asarray(values, float), np.asarray(reference, float)
    if rule.test == MEAN:
        p = sps.ttest_1samp(x, 0.0, alternative="greater").pvalue if len(x) > 1 and np.std(x) > 0 else math.nan
        return mean_ci(list(x)), float(p)
    if rule.test == RATES:
        return rate_difference(int(x.sum()), len(x), int(y.sum()), len(y))
    level = EQUIVALENCE_LEVEL if rule.test == EQUIVALENCE else LEVEL
    interval = difference_ci(list(x), list(y), level)
    p = math.nan
    if len(x) > 1 and len(y) > 1 and (np.std(x) > 0 or np.std(y) > 0):
        p = float(sps.ttest_ind(x, y, equal_var=False, alternative="greater").pvalue)
    return interval, p


def rate_difference(k1: int, n1: int, k2: int, n2: int) -> tuple[Interval, float]:
    """Rate of events in group 1 minus group 2: Newcombe's hybrid-score interval (statsmodels) and the
    one-sided Fisher exact p-value (scipy)."""
    if n1 == 0 or n2 == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none"), math.nan
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=1 - LEVEL)
    p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="greater").pvalue
    return Interval(k1 / n1 - k2 / n2, float(low), float(high), min(n1, n2), "newcombe"), float(p)


def verdict_of(rule: Rule, effect: Interval, p_value: float = math.nan) -> tuple[str, str]:
    """The rule's verdict on one interval, with the reason in words."""
    if rule.test == EQUIVALENCE:
        return equivalence_verdict(effect, rule.min_effect)
    verdict, why = directional_verdict(effect, rule.min_effect)
    if rule.test == RATES and verdict == REPRODUCED and not p_value < EXACT_ALPHA:
        return INCONCLUSIVE, f"Fisher exact p = {p_value:.2g} ≥ {EXACT_ALPHA} (too few replicates)"
    return verdict, why


# --------------------------------------------------------------------------- power


def measured_spread(rule: Rule, values: Sequence[float], reference: Sequence[float] = ()) -> tuple[float, float]:
    """What the simulation draws from: the between-unit SDs of the two groups (one group for MEAN), or for
    RATES the reference group's event rate (twice)."""
    x, y = np.asarray(values, float), np.asarray(reference, float)
    if rule.test == RATES:
        base = float(y.mean()) if len(y) else 0.0
        return base, base
    sd_x = float(np.std(x, ddof=1)) if len(x) > 1 else math.nan
    sd_y = float(np.std(y, ddof=1)) if len(y) > 1 else sd_x
    return sd_x, (sd_x if rule.test == MEAN else sd_y)


def power(rule: Rule, units: int, spread: tuple[float, float], effect: float | None = None,
          sweeps: int = SWEEPS) -> float:
    """Share of simulated designs with `units` per group that the rule calls "reproduced" when the true effect
    is `effect` (default: the rule's design effect)."""
    effect = rule.design_effect if effect is None else effect
    if units < 2 or any(math.isnan(s) for s in spread):
        return 0.0
    if rule.test == RATES:
        return _rates_power(rule.min_effect, units, spread[0], effect)
    mean_a, var_a = _standard_draws(units, sweeps, 0)
    mean_a, var_a = effect + spread[0] * mean_a, spread[0] ** 2 * var_a  # the draws of N(effect, sd), rescaled
    if rule.test == MEAN:
        half = sps.t.ppf(0.5 + LEVEL / 2, units - 1) * np.sqrt(var_a / units)
        return float(np.mean(verdict_codes(mean_a, mean_a - half, mean_a + half, rule.min_effect) == REPRODUCED))
    mean_b, var_b = _standard_draws(units, sweeps, 1)
    mean_b, var_b = spread[1] * mean_b, spread[1] ** 2 * var_b
    level = EQUIVALENCE_LEVEL if rule.test == EQUIVALENCE else LEVEL
    diff, low, high = welch_from_moments(mean_a, var_a, mean_b, var_b, units, level)
    codes = (equivalence_codes(low, high, rule.min_effect) if rule.test == EQUIVALENCE
             else verdict_codes(diff, low, high, rule.min_effect))
    return float(np.mean(codes == REPRODUCED))


@functools.lru_cache(maxsize=256)
def _standard_draws(units: int, sweeps: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and variances (ddof 1) of `sweeps` samples of `units` standard normals, from a fixed stream: a
    design at any effect and SD is these rescaled, so the same records always give the same power, and the
    draws are made once per design size."""
    z = np.random.default_rng([units, stream]).standard_normal((sweeps, units))
    return z.mean(-1), z.var(-1, ddof=1)


def units_needed(rule: Rule, values: Sequence[float], reference: Sequence[float] = (), margin: float = 1.0,
                 cap: int = CAP) -> int | None:
    """The fewest units per group reaching `POWER` at the rule's design effect with the variability these
    values show (SDs multiplied by `margin`); None when even `cap` units do not, or when fewer than two values
    leave the variability unmeasured."""
    spread = measured_spread(rule, values, reference)
    if rule.test != RATES:
        spread = (spread[0] * margin, spread[1] * margin)
    return units_for(rule, spread, cap)


def units_for(rule: Rule, spread: tuple[float, float], cap: int = CAP) -> int | None:
    """The fewest units per group (from 2) whose design reaches `POWER` at the rule's design effect."""
    if any(math.isnan(s) for s in spread) or power(rule, cap, spread) < POWER:
        return None
    low, high = 1, cap  # power(low) < POWER <= power(high); power rises with units, so bisect
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power(rule, middle, spread) >= POWER else (middle, high)
    return high


def welch_from_moments(mean_a, var_a, mean_b, var_b, units: int, level: float = LEVEL):
    """mean(a) − mean(b) and its Welch interval from the groups' means and variances (`units` values each),
    for many simulated designs at once."""
    va, vb = var_a / units, var_b / units
    se = np.sqrt(va + vb)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (va + vb) ** 2 / ((va ** 2 + vb ** 2) / (units - 1))
    df = np.where(np.isfinite(df), df, 2 * units - 2)
    half = _t_quantile(0.5 + level / 2, df) * se
    diff = mean_a - mean_b
    return diff, diff - half, diff + half


_DF_GRID = np.geomspace(1.0, 2 * CAP, 4000)  # Welch degrees of freedom lie in [1, 2·units − 2]


@functools.lru_cache(maxsize=None)
def _t_table(quantile: float) -> np.ndarray:
    return sps.t.ppf(quantile, _DF_GRID)


def _t_quantile(quantile: float, df: np.ndarray) -> np.ndarray:
    """Student's t quantile at many (non-integer) degrees of freedom, interpolated in a table scipy computes
    once (error < 1e-4 on the grid's range): the simulated Welch intervals need thousands per design."""
    return np.interp(df, _DF_GRID, _t_table(quantile))


@functools.lru_cache(maxsize=None)
def _rates_reproduced(min_effect: float, units: int) -> np.ndarray:
    """For every outcome (k1, k2) of two groups of `units` trainings: does the RATES rule say reproduced?"""
    table = np.zeros((units + 1, units + 1), bool)
    for k1 in range(units + 1):
        for k2 in range(k1):  # only k1 > k2 can clear a positive threshold
            effect, p = rate_difference(k1, units, k2, units)
            table[k1, k2] = verdict_of(Rule(RATES, min_effect, 0.0, ""), effect, p)[0] == REPRODUCED
    return table


def _rates_power(min_effect: float, units: int, base: float, effect: float) -> float:
    """Exact power of the RATES rule: sum over all outcomes of both binomials."""
    p1 = sps.binom.pmf(np.arange(units + 1), units, min(1.0, max(0.0, base + effect)))
    p2 = sps.binom.pmf(np.arange(units + 1), units, min(1.0, max(0.0, base)))
    return float((np.outer(p1, p2) * _rates_reproduced(min_effect, units)).sum())
