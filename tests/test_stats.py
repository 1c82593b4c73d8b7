"""Intervals against textbook values."""
import math

import pytest

from suite.judge.stats import (Interval, difference_ci, format_estimate, geometric_mean_ci, mean_ci,
                         pooled_rate_ci, t_critical, wilson_ci)


def test_t_critical_values_match_tables():
    assert t_critical(1) == pytest.approx(12.706, abs=1e-3) and t_critical(2) == pytest.approx(4.303, abs=1e-3)
    assert t_critical(4) == pytest.approx(2.776, abs=1e-3) and t_critical(10**6) == pytest.approx(1.960, abs=1e-3)


def test_mean_ci_closed_form():
    ci = mean_ci([1.0, 2.0, 3.0])  # sd = 1
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.high - ci.mean == pytest.approx(4.303 / math.sqrt(3), abs=1e-3)  # t(0.975, 2) = 4.303


def test_one_seed_has_no_t_interval():
    ci = mean_ci([0.4])
    assert ci.mean == 0.4 and math.isnan(ci.low) and ci.method == "none"


def test_wilson_interval_known_values():
    ci = wilson_ci(0, 10)
    assert ci.low == 0.0 and ci.high == pytest.approx(0.2775, abs=1e-4)  # exactly 0, not rounding noise
    ci = wilson_ci(10, 10)
    assert ci.low == pytest.approx(0.7225, abs=1e-4) and ci.high == 1.0
    ci = wilson_ci(5, 10)
    assert ci.low == pytest.approx(0.2366, abs=1e-4) and ci.high == pytest.approx(0.7634, abs=1e-4)


def test_pooled_rate_matches_wilson_when_seeds_agree_and_widens_when_they_disagree():
    agree = pooled_rate_ci([10, 10, 10], [100, 100, 100])
    plain = wilson_ci(30, 300)
    assert agree.mean == pytest.approx(0.1) and agree.low == pytest.approx(plain.low)
    disagree = pooled_rate_ci([0, 10, 20], [100, 100, 100])  # same pooled rate, seeds far apart
    assert disagree.mean == pytest.approx(0.1)
    assert disagree.high - disagree.low > 2 * (agree.high - agree.low)
    assert 0 <= disagree.low and disagree.high <= 1


def test_pooled_rate_stays_inside_zero_one_where_a_t_interval_would_not():
    ci = pooled_rate_ci([0, 0, 2], [50, 50, 50])
    assert ci.low >= 0 and ci.high <= 1
    assert mean_ci([0, 0, 0.04]).low < 0  # the t-interval the suite no longer uses for proportions


def test_welch_difference_interval_against_a_hand_computation():
    a, b = [1.0, 2.0, 3.0], [4.0, 6.0, 8.0]
    ci = difference_ci(a, b)
    se = math.sqrt(1 / 3 + 4 / 3)
    df = (1 / 3 + 4 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (4 / 3) ** 2 / 2)  # Welch–Satterthwaite
    from scipy.stats import t
    assert ci.mean == -4.0
    assert ci.high == pytest.approx(-4.0 + t.ppf(0.975, df) * se)
    assert math.isnan(difference_ci([1.0], [2.0, 3.0]).low)


def test_estimates_print_whole_numbers_whole_and_missing_values_as_a_dash():
    assert format_estimate(1000.0, 990.0, 1010.0) == "1000 [990, 1010]"
    assert format_estimate(0.01234, math.nan, math.nan) == "0.0123"
    assert format_estimate(math.nan, 1.0, 2.0) == "–"


def test_geometric_mean_interval_is_the_t_interval_of_the_logs_mapped_back():
    values = [10.0, 20.0, 40.0]  # logs equally spaced: geometric mean 20, log sd = ln 2
    ci = geometric_mean_ci(values)
    half = 4.303 * math.log(2) / math.sqrt(3)
    assert ci.mean == pytest.approx(20.0) and ci.method == "t on log"
    assert ci.low == pytest.approx(20 * math.exp(-half), rel=1e-3)
    assert ci.high == pytest.approx(20 * math.exp(half), rel=1e-3)
    assert geometric_mean_ci([0.0, 1.0, 2.0]) == mean_ci([0.0, 1.0, 2.0])  # not positive: the plain mean
