"""Verdict rules: each can come out every way, and a null effect rarely reads as "reproduced"."""
import math
import random

from suite.judge.claims import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, combine_verdicts, directional_verdict,
                          equivalence_verdict)
from suite.judge.stats import Interval, difference_ci


def iv(mean, low, high, n=5):
    return Interval(mean, low, high, n, "welch")


def test_directional_rule_gives_each_verdict():
    assert directional_verdict(iv(0.3, 0.2, 0.4), 0.1)[0] == REPRODUCED
    assert directional_verdict(iv(-0.3, -0.4, -0.2), 0.1)[0] == NOT_REPRODUCED  # reversed
    assert directional_verdict(iv(0.0, -0.02, 0.02), 0.1)[0] == NOT_REPRODUCED  # absent, with power
    assert directional_verdict(iv(0.05, -0.2, 0.3), 0.1)[0] == INCONCLUSIVE  # absent, no power
    assert directional_verdict(Interval(0.3, math.nan, math.nan, 1, "none"), 0.1)[0] == INCONCLUSIVE


def test_directional_rule_under_no_effect_reproduces_at_most_its_stated_rate():
    rng = random.Random(0)
    hits = 0
    for _ in range(400):
        a = [rng.gauss(0, 1) for _ in range(5)]
        b = [rng.gauss(0, 1) for _ in range(5)]
        hits += directional_verdict(difference_ci(a, b), 0.5)[0] == REPRODUCED
    assert hits / 400 <= 0.05  # stated: 2.5 % for a 95 % interval; binomial slack for 400 draws


def test_equivalence_needs_the_interval_inside_the_margin():
    assert equivalence_verdict(iv(0.0, -0.5, 0.5), 1.0)[0] == REPRODUCED
    assert equivalence_verdict(iv(3.0, 2.0, 4.0), 1.0)[0] == NOT_REPRODUCED
    assert equivalence_verdict(iv(0.0, -3.0, 3.0), 1.0)[0] == INCONCLUSIVE  # low power is not "no gap"


def test_combined_verdict_needs_every_part_and_fails_on_any():
    assert combine_verdicts([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine_verdicts([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine_verdicts([REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE]) == NOT_REPRODUCED
    assert combine_verdicts([]) == INCONCLUSIVE
