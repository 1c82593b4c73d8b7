"""Claim parts judged by `judge_part`, and the power behind its guard: the three controls for every test
kind, and the guard reading the variability the values themselves show."""
import numpy as np
import pytest

from suite.judge.claims import EQUIVALENCE, INCONCLUSIVE, MEAN, NOT_REPRODUCED, RATES, REPRODUCED, WELCH, Rule
from suite.judge.parts import judge_part
from suite.judge.power import CAP, PLANNING_MARGIN, POWER, measured_spread, power, units_for

SWEEPS = 200


def verdict_shares(rule: Rule, effect: float, sd: float, units: int, seed=0, base=0.2) -> dict[str, float]:
    """Judge `SWEEPS` simulated parts whose true effect is `effect`; the share of each verdict."""
    rng = np.random.default_rng(seed)
    verdicts = []
    for _ in range(SWEEPS):
        if rule.test == RATES:
            a = rng.random(units) < base + effect
            b = rng.random(units) < base
            verdicts.append(judge_part("p", rule, a.astype(float), b.astype(float)).verdict)
        elif rule.test == MEAN:
            verdicts.append(judge_part("p", rule, rng.normal(effect, sd, units)).verdict)
        else:
            verdicts.append(judge_part("p", rule, rng.normal(effect, sd, units), rng.normal(0, sd, units)).verdict)
    return {v: verdicts.count(v) / SWEEPS for v in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)}


@pytest.mark.parametrize("test", [MEAN, WELCH])
def test_directional_parts_pass_the_three_controls_at_the_units_their_power_asks_for(test):
    rule = Rule(test, min_effect=0.05, design_effect=0.10, basis="test")
    sd = 0.06
    # planned as the pre-registration plans it: the SD with a 25 % margin, because the guard then reads the SD
    # of the judged seeds themselves, which scatters around the true one
    units = units_for(rule, (sd * PLANNING_MARGIN, sd * PLANNING_MARGIN))
    assert units is not None and units_for(rule, (sd, sd)) < units <= CAP
    assert verdict_shares(rule, 0.10, sd, units)[REPRODUCED] >= POWER
    assert verdict_shares(rule, 0.0, sd, units)[REPRODUCED] <= 0.10
    assert verdict_shares(rule, -0.10, sd, units)[NOT_REPRODUCED] >= 0.80


def test_equivalence_parts_pass_the_three_controls():
    rule = Rule(EQUIVALENCE, min_effect=0.1, design_effect=0.0, basis="test")
    assert verdict_shares(rule, 0.0, 0.05, 10)[REPRODUCED] >= 0.80
    assert verdict_shares(rule, 0.1, 0.05, 10)[REPRODUCED] <= 0.10  # a gap at the margin is not "no gap"
    assert verdict_shares(rule, 0.3, 0.05, 10)[NOT_REPRODUCED] >= 0.80


def test_rate_parts_pass_the_three_controls():
    rule = Rule(RATES, min_effect=0.2, design_effect=0.6, basis="test", unit="training")
    assert verdict_shares(rule, 0.6, 0, 12, base=0.1)[REPRODUCED] >= 0.80
    assert verdict_shares(rule, 0.0, 0, 12, base=0.3)[REPRODUCED] <= 0.10
    assert verdict_shares(rule, -0.5, 0, 12, base=0.6)[NOT_REPRODUCED] >= 0.80


def test_the_guard_reads_the_measured_variability_not_an_assumed_one():
    rule = Rule(MEAN, min_effect=0.02, design_effect=0.07, basis="test")
    quiet = judge_part("quiet", rule, [0.20, 0.21, 0.19, 0.20, 0.22])
    noisy = judge_part("noisy", rule, [0.50, 0.02, 0.35, 0.05, 0.10, 0.30, 0.01, 0.25, 0.20, 0.15])
    assert quiet.verdict == REPRODUCED and quiet.seeds_needed <= 5
    assert noisy.effect.low > 0 and noisy.effect.mean >= 0.02  # the interval alone would say reproduced ...
    assert noisy.verdict == INCONCLUSIVE and "too few seeds: 10 of the" in noisy.why  # ... the guard does not
    assert noisy.seeds_needed is None or noisy.seeds_needed > 10


def test_power_grows_with_units_and_shrinks_with_spread():
    rule = Rule(WELCH, 0.03, 0.07, "test")
    assert power(rule, 10, (0.04, 0.04)) > power(rule, 4, (0.04, 0.04))
    assert power(rule, 10, (0.04, 0.04)) > power(rule, 10, (0.15, 0.15))
    assert measured_spread(rule, [1, 2, 3], [1, 1, 1]) == (1.0, 0.0)


def test_an_override_reads_inconclusive_with_its_reason():
    part = judge_part("bi − delayed", Rule(WELCH, 0.05, 0.1, "test"), [1, 1, 1], [1, 1, 1],
                      inconclusive_because="ceiling: both at 1.0")
    assert (part.verdict, part.why) == (INCONCLUSIVE, "ceiling: both at 1.0")
