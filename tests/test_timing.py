"""Paired, alternating timing: the order of calls, and the ratio's interval over rounds."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from suite.training.timing import alternate
from suite.judge.stats import ratio_interval


def test_alternate_reverses_the_order_every_other_round_after_a_warmup():
    calls = []
    counter = itertools.count()

    def measure(name):
        calls.append(name)
        return float(next(counter))

    values = alternate({"a": lambda: measure("a"), "b": lambda: measure("b")}, rounds=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then A B, B A, A B
    assert values == {"a": [2.0, 5.0, 6.0], "b": [3.0, 4.0, 7.0]}


def test_ratio_interval_is_the_geometric_mean_with_a_t_interval_on_the_log_scale():
    ratio = ratio_interval([2.0, 4.0, 8.0], [1.0, 1.0, 2.0])  # per-round ratios 2, 4, 4
    logs = np.log([2.0, 4.0, 4.0])
    half = stats.t.ppf(0.975, 2) * stats.sem(logs)
    assert ratio.mean == pytest.approx(math.exp(logs.mean()))
    assert (ratio.low, ratio.high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    with pytest.raises(ValueError):
        ratio_interval([1.0], [1.0, 2.0])
