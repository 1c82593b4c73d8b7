"""Intervals and tests, from scipy and statsmodels: the suite computes no statistic by hand.

Which interval fits which number:
- a continuous metric over seeds (perplexity, a slope): `mean_ci`, Student's t over the seed means;
- a proportion within one trained model (errors among items): `wilson_ci`;
- a proportion pooled over seeds: `pooled_rate_ci`, Wilson on the pooled counts with the sample size
  shrunk by the between-seed overdispersion, so it never leaves [0, 1] and does not pretend seeds are items;
- a difference of two groups of seeds: `difference_ci` (Welch).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

LEVEL = 0.95

# scipy warns when a group of seeds is (nearly) constant, e.g. every LSTM seed at accuracy 1.0; its tests and
# intervals are still right there (tests/test_stats.py checks the constant case), so the warning is noise.
warnings.filterwarnings("ignore", message="Precision loss occurred in moment calculation", category=RuntimeWarning)


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int
    method: str  # "t" over seeds, "wilson"/"pooled wilson" over items, "none" for one value

    def overlaps(self, other: "Interval") -> bool:
        return not (self.high < other.low or other.high < self.low)

    def format(self, digits: int = 3) -> str:
        return format_estimate(self.mean, self.low, self.high, digits)


NO_VALUE = Interval(math.nan, math.nan, math.nan, 0, "none")


def format_number(value: float, digits: int = 3) -> str:
    """`digits` significant figures, but whole numbers up to a million stay whole (1000, not 1e+03)."""
    if math.isfinite(value) and 1000 <= abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def format_estimate(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'mean [low, high]', or just the mean when the interval is undefined; '–' for no value."""
    if mean is None or math.isnan(mean):
        return "–"
    if low is None or math.isnan(low):
        return format_number(mean, digits)
    return f"{format_number(mean, digits)} [{format_number(low, digits)}, {format_number(high, digits)}]"


def _finite(values: Sequence[float | None]) -> np.ndarray:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return arr[~np.isnan(arr)]


def t_critical(df: int, level: float = LEVEL) -> float:
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    return float(sps.t.ppf(0.5 + level / 2, df))


def mean_ci(values: Sequence[float | None], level: float = LEVEL) -> Interval:
    """Mean and t-interval across seeds; with one value the interval is undefined (NaN)."""
    vals = _finite(values)
    if len(vals) == 0:
        return NO_VALUE
    mean = float(vals.mean())
    if len(vals) == 1:
        return Interval(mean, math.nan, math.nan, 1, "none")
    half = t_critical(len(vals) - 1, level) * float(sps.sem(vals))
    return Interval(mean, mean - half, mean + half, len(vals), "t")


def geometric_mean_ci(values: Sequence[float | None], level: float = LEVEL) -> Interval:
    """For a positive quantity that is exp of an average (perplexity = exp(loss)): the t-interval on the
    log scale, mapped back — a geometric mean whose interval stays positive."""
    vals = _finite(values)
    if (vals <= 0).any():  # not a positive quantity after all: the plain mean, nothing dropped
        return mean_ci(vals.tolist(), level)
    ci = mean_ci(np.log(vals).tolist(), level)
    if ci.n == 0:
        return ci
    return Interval(math.exp(ci.mean), math.exp(ci.low), math.exp(ci.high), ci.n,
                    "t on log" if ci.method == "t" else ci.method)


def wilson_ci(successes: float, n: float, level: float = LEVEL) -> Interval:
    """Wilson score interval for a proportion (statsmodels)."""
    if n <= 0:
        return NO_VALUE
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    # at 0 or n successes the bound is exactly 0 or 1 (statsmodels leaves rounding noise such as 2e-19)
    low, high = (0.0 if successes == 0 else float(low)), (1.0 if successes == n else float(high))
    return Interval(successes / n, low, high, int(round(n)), "wilson")


def pooled_rate_ci(successes: Sequence[int], totals: Sequence[int], level: float = LEVEL) -> Interval:
    """A proportion pooled over seeds: Wilson on the pooled counts, the sample size divided by the
    overdispersion (Pearson χ² / (seeds − 1), at least 1), so seeds that disagree widen the interval."""
    pairs = [(s, t) for s, t in zip(successes, totals) if t > 0]
    if not pairs:
        return NO_VALUE
    k = sum(s for s, _ in pairs)
    n = sum(t for _, t in pairs)
    if len(pairs) == 1:
        return wilson_ci(k, n, level)
    p = k / n
    expected_var = p * (1 - p)
    chi2 = sum((s - t * p) ** 2 / (t * expected_var) for s, t in pairs) if expected_var > 0 else 0.0
    dispersion = max(1.0, chi2 / (len(pairs) - 1))
    ci = wilson_ci(k / dispersion, n / dispersion, level)
    return Interval(p, ci.low, ci.high, len(pairs), "pooled wilson")


def difference_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """mean(a) − mean(b) with a Welch interval over seeds (scipy); undefined with < 2 values a side."""
    x, y = _finite(a), _finite(b)
    if len(x) == 0 or len(y) == 0:
        return NO_VALUE
    diff = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return Interval(diff, math.nan, math.nan, min(len(x), len(y)), "none")
    if np.var(x) == 0 and np.var(y) == 0:  # identical replicates: the difference is exact
        return Interval(diff, diff, diff, min(len(x), len(y)), "welch")
    ci = sps.ttest_ind(x, y, equal_var=False).confidence_interval(confidence_level=level)
    return Interval(diff, float(ci.low), float(ci.high), min(len(x), len(y)), "welch")


def ratio_interval(numerator: list[float], denominator: list[float]) -> Interval:
    """Ratio of two paired series (e.g. tokens/s of B over A, round by round): the geometric mean of the
    per-round ratios with a 95 % t-interval over rounds, computed on the log scale and mapped back."""
    if len(numerator) != len(denominator):
        raise ValueError("paired series must have one value per round each")
    logs = mean_ci([math.log(a / b) for a, b in zip(numerator, denominator) if a > 0 and b > 0])
    if logs.n == 0:
        return logs
    return Interval(math.exp(logs.mean), math.exp(logs.low), math.exp(logs.high), logs.n, logs.method)
