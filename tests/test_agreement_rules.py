"""The agreement rules' statistics on hand-computed counts, checked against scipy/statsmodels or arithmetic
done here, and the power analysis's monotonicity and guard."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, directional_verdict
from suite.judge.stats import mean_ci
from tasks.agreement.power import Design, detectable_effect, power, power_table, too_few
from tasks.agreement.rules import (OBJECTIVE, TREND, mcnemar_test,
                                   recency_effect, recency_index, recency_test, seed_intervals, seed_verdict, significant,
                                   trend_effect, trend_test, verdict_codes)

N = np.array([0, 1, 1, 2, 2, 2])
K = np.array([0, 0, 1, 0, 1, 2])


def test_trend_effect_is_the_within_stratum_slope():
    items = np.full(6, 10.0)
    errors = np.array([0, 1, 3, 1, 2, 5], float)  # stratum 1: 0.1 → 0.3 (slope 0.2); stratum 2: 0.1, 0.2, 0.5
    slope2 = np.polyfit([0, 1, 2], [0.1, 0.2, 0.5], 1)[0]
    assert trend_effect(errors, items, N, K) == pytest.approx((20 * 0.2 + 30 * slope2) / 50)
    # a rate that depends only on the stratum has no trend, however different the strata
    assert trend_effect(np.array([0, 2, 2, 6, 6, 6.0]), items, N, K) == pytest.approx(0)


def test_trend_effect_is_vectorised_over_leading_axes():
    errors = np.stack([np.array([0, 1, 3, 1, 2, 5.0]), np.array([0, 3, 1, 5, 2, 1.0])])
    out = trend_effect(errors, np.full((2, 6), 10.0), N, K)
    assert out.shape == (2,) and out[0] > 0 > out[1]


def test_trend_test_detects_a_strong_trend_and_not_its_reverse():
    items = np.full(6, 200.0)
    rising = 200 * np.array([0.05, 0.05, 0.3, 0.05, 0.3, 0.6])
    assert trend_test(rising, items, N, K) < 1e-6
    assert trend_test(200 * np.array([0.05, 0.3, 0.05, 0.6, 0.3, 0.05]), items, N, K) > 0.99
    assert trend_test(np.zeros(6), items, N, K) == 1.0  # no errors: no evidence


def test_recency_effect_weights_and_exact_test_match_fisher_on_one_stratum():
    e1, m1, e0, m0 = np.array([8.0]), np.array([20.0]), np.array([2.0]), np.array([20.0])
    assert recency_effect(e1, m1, e0, m0) == pytest.approx(0.4 - 0.1)
    fisher = sps.fisher_exact([[8, 12], [2, 18]], alternative="greater").pvalue
    assert recency_test(e1, m1, e0, m0) == pytest.approx(fisher)
    two = recency_effect(np.array([8.0, 1]), np.array([20.0, 10]), np.array([2.0, 1]), np.array([20.0, 40]))
    w = np.array([20 * 20 / 40, 10 * 40 / 50])
    assert two == pytest.approx((w * np.array([0.3, 0.1 - 1 / 40])).sum() / w.sum())


def test_recency_index_locates_errors_against_the_blind_share():
    # One stratum, half the items nearest-attractor: 10 errors, 8 on them. Blind errors put 5 there:
    # (8 − 5)/(10 − 5) = 0.6. All 10 there: 1. 5 there: 0. None there: (0 − 5)/5 = −1.
    m1, m0 = np.array([50.0]), np.array([50.0])
    for on_nearest, expected in ((8, 0.6), (10, 1.0), (5, 0.0), (0, -1.0)):
        got = recency_index(np.array([float(on_nearest)]), m1, np.array([10.0 - on_nearest]), m0)
        assert got == pytest.approx(expected)
    # Two strata with shares 1/4 and 2/3: E = 4·1/4 + 6·2/3 = 5; O = 3 + 6 = 9 of T = 10 → (9 − 5)/(10 − 5) = 0.8
    two = recency_index(np.array([3.0, 6]), np.array([10.0, 40]), np.array([1.0, 0]), np.array([30.0, 20]))
    assert two == pytest.approx(0.8)


def test_recency_index_is_scale_free_and_undefined_without_errors():
    # The same concentration of errors at 1 % and at 20 % error reads the same index, where the risk
    # difference shrinks with the error rate (the old rule's ceiling).
    m1, m0 = np.array([100.0]), np.array([100.0])
    low = recency_index(np.array([1.6]), m1, np.array([0.4]), m0)
    high = recency_index(np.array([32.0]), m1, np.array([8.0]), m0)
    assert low == pytest.approx(high) == pytest.approx(0.6)
    assert recency_effect(np.array([1.6]), m1, np.array([0.4]), m0) < 0.05 < \
        recency_effect(np.array([32.0]), m1, np.array([8.0]), m0)
    assert math.isnan(recency_index(np.zeros(1), m1, np.zeros(1), m0))
    # a stratum with items of one kind only says nothing about the nearest noun
    assert math.isnan(recency_index(np.array([4.0]), np.array([10.0]), np.array([0.0]), np.array([0.0])))


def test_recency_test_has_the_right_size_under_the_null():
    rng = np.random.default_rng(0)
    m1, m0 = np.array([30, 20, 40]), np.array([30, 40, 20])
    ps = [recency_test(rng.binomial(m1, 0.3), m1, rng.binomial(m0, 0.3), m0) for _ in range(400)]
    assert np.mean(np.array(ps) < 0.05) <= 0.07  # an exact conditional test is conservative


def test_mcnemar_counts_discordant_items():
    lm = np.array([True, False, False, False, True])
    number = np.array([True, True, True, False, False])
    p, lm_only, number_only = mcnemar_test(lm, number)
    assert (lm_only, number_only) == (2, 1)
    assert p == pytest.approx(sps.binomtest(1, 3, 0.5).pvalue)


def test_holm():
    assert significant([0.001, 0.02, 0.04]) == [True, True, True]
    assert significant([0.001, 0.03, 0.04]) == [True, False, False]


def test_vectorised_verdicts_agree_with_the_suite_rule():
    """The power simulation's array path and the claims' Interval path decide alike."""
    rng = np.random.default_rng(1)
    effects = rng.normal(rng.uniform(-0.05, 0.1, (300, 1)), 0.02, size=(300, 5))
    mean, low, high = seed_intervals(effects)
    codes = verdict_codes(mean, low, high, TREND.min_effect)
    for row, code in zip(effects, codes):
        assert directional_verdict(mean_ci(list(row)), TREND.min_effect)[0] == code == seed_verdict(TREND, row).verdict
    assert {REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE} == set(codes)


def test_power_rises_with_the_effect_and_the_seeds():
    small, large = Design(3, 40, 3), Design(10, 40, 3)
    assert power(TREND, 0.0, large) <= 0.05
    assert power(TREND, 0.01, large) < power(TREND, 0.05, large)
    assert detectable_effect(OBJECTIVE, large) < detectable_effect(OBJECTIVE, small)


def test_too_few_seeds_or_items_is_stated():
    assert "too few seeds" in too_few(OBJECTIVE, Design(1, 100, 3))
    assert "too few seeds/items" in too_few(OBJECTIVE, Design(3, 40, 3))
    assert too_few(OBJECTIVE, Design(10, 100, 3)) == ""
    table = power_table(Design(10, 100, 3))
    assert list(table["rule"]) == ["trend", "objective"] and table["adequate"].all()
    assert not math.isinf(table["detectable_80pct"].max())
