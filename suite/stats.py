"""Confidence intervals: t-intervals across seeds, bootstrap and Wilson intervals within one seed."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

# Two-sided 95 % critical values of Student's t, by degrees of freedom (standard tables).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
        18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t_critical_95(df: int) -> float:
    """95 % two-sided t critical value; conservative (next smaller tabled df) between table rows."""
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    if df > 120:
        return 1.960
    return _T95[max(k for k in _T95 if k <= df)]


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int
    method: str  # "t" over seeds, "bootstrap"/"wilson" over items, "none" for a single value

    def overlaps(self, other: "Interval") -> bool:
        return not (self.high < other.low or other.high < self.low)

    def format(self, digits: int = 3) -> str:
        return format_estimate(self.mean, self.low, self.high, digits)


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


def mean_ci(values: Sequence[float]) -> Interval:
    """Mean and 95 % t-interval across seeds; with one value the interval is undefined (NaN)."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(vals)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    mean = sum(vals) / n
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, "none")
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t_critical_95(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, "t")


def bootstrap_ci(values: Sequence[float], resamples: int = 1000, seed: int = 0) -> Interval:
    """Percentile bootstrap 95 % interval of the mean over items (used when only one seed ran)."""
    vals = [float(v) for v in values]
    n = len(vals)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(vals, k=n)) / n for _ in range(resamples))
    return Interval(sum(vals) / n, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1],
                    n, "bootstrap")


def wilson_ci(successes: int, n: int, z: float = 1.96) -> Interval:
    """Wilson score 95 % interval for a proportion."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, centre - half, centre + half, n, "wilson")
