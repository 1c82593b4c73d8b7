"""Intervals against textbook values."""
import math

import pytest

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, combine_verdicts, less_than
from suite.stats import Interval, bootstrap_ci, format_estimate, mean_ci, t_critical_95, wilson_ci


def test_t_critical_values_match_tables():
    assert t_critical_95(1) == 12.706 and t_critical_95(2) == 4.303 and t_critical_95(4) == 2.776
    assert t_critical_95(1000) == 1.96


def test_mean_ci_closed_form():
    ci = mean_ci([1.0, 2.0, 3.0])  # sd = 1
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.high - ci.mean == pytest.approx(4.303 / math.sqrt(3))


def test_one_seed_has_no_t_interval():
    ci = mean_ci([0.4])
    assert ci.mean == 0.4 and math.isnan(ci.low) and ci.method == "none"


def test_wilson_interval_known_values():
    ci = wilson_ci(0, 10)
    assert ci.low == pytest.approx(0.0, abs=1e-12) and ci.high == pytest.approx(0.2775, abs=1e-4)
    ci = wilson_ci(5, 10)
    assert ci.low == pytest.approx(0.2366, abs=1e-4) and ci.high == pytest.approx(0.7634, abs=1e-4)


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_n():
    small = bootstrap_ci([0, 1] * 10)
    large = bootstrap_ci([0, 1] * 500)
    assert small.low < 0.5 < small.high
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_less_than_rule_gives_each_verdict():
    low, high = Interval(1, 0.9, 1.1, 3, "t"), Interval(2, 1.9, 2.1, 3, "t")
    assert less_than(low, high)[0] == REPRODUCED
    assert less_than(high, low)[0] == NOT_REPRODUCED
    assert less_than(low, Interval(1.05, 1.0, 1.1, 3, "t"))[0] == INCONCLUSIVE
    assert less_than(Interval(1, math.nan, math.nan, 1, "none"), high)[0] == INCONCLUSIVE


def test_combined_verdict_needs_every_part_and_fails_on_any():
    assert combine_verdicts([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine_verdicts([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine_verdicts([REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE]) == NOT_REPRODUCED
    assert combine_verdicts([]) == INCONCLUSIVE


def test_estimates_print_whole_numbers_whole_and_missing_values_as_a_dash():
    assert format_estimate(1000.0, 990.0, 1010.0) == "1000 [990, 1010]"
    assert format_estimate(0.01234, math.nan, math.nan) == "0.0123"
    assert format_estimate(math.nan, 1.0, 2.0) == "–"
