"""The first-layer vanishing claims (tasks/depth/vanishing.py) on simulated records: the value per seed, a ratio
that underflowed, which stacks become parts, and the controls — 200 simulated sweeps at the design size:
present → "reproduced" ≥ 80 %, absent → ≤ 10 %, reversed → "not reproduced" ≥ 80 %."""
import math

import numpy as np
import pytest

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from tasks.depth.vanishing import FLOOR, RULE, log_ratio, vanishing_claim

FF, RNN = "ff_depth.first_layer_vanishing", "depth.first_layer_vanishing"


def record(task, arch, layers, skip, seed, ratio, status="ok"):
    return {"run_id": f"{task}{arch}{layers}{skip}{seed}", "label": f"{arch}×{layers}", "status": status,
            "config": {"task": task, "seed": seed, "options": {}, "train": {"steps": 10},
                       "model": {"arch": arch, "layers": layers, "hidden": 8, "skip": skip}},
            "metrics": {"first_to_last_grad_ratio": ratio}}


def stacks(task, arch, layers, plain, residual):
    return ([record(task, arch, layers, "none", k, x) for k, x in enumerate(plain)]
            + [record(task, arch, layers, "residual", k, x) for k, x in enumerate(residual)])


def test_the_value_is_the_log_ratio_and_a_ratio_that_underflowed_counts_as_the_floor():
    assert log_ratio(record("depth", "lstm", 8, "none", 0, 0.05)) == pytest.approx(math.log(0.05))
    assert log_ratio(record("depth", "lstm", 8, "none", 0, 0.0)) == pytest.approx(math.log(FLOOR))
    assert math.isnan(log_ratio(record("depth", "lstm", 8, "none", 0, None)))


def test_parts_are_the_deep_stacks_run_both_ways_named_for_their_task():
    runs = (stacks("ff_depth", "rnn_tanh", 4, [0.1] * 3, [2.0] * 3)
            + stacks("ff_depth", "rnn_relu", 8, [0.1] * 3, [2.0] * 3)
            + stacks("ff_depth", "rnn_tanh", 2, [0.1] * 3, [2.0] * 3)  # too shallow to be a part
            + [record("ff_depth", "rnn_tanh", 8, "none", k, 0.1) for k in range(3)]  # no residual twin
            + stacks("depth", "lstm", 4, [0.1] * 3, [2.0] * 3))  # the other claim's task
    assert [p.name for p in vanishing_claim(FF, runs).parts] == ["ff-relu×8", "ff-tanh×4"]
    assert [p.name for p in vanishing_claim(RNN, runs).parts] == ["lstm×4"]


def test_less_gradient_at_the_first_layer_without_skips_is_a_positive_effect():
    runs = stacks("depth", "lstm", 8, [1e-9, 2e-9, 5e-10, 1e-9, 3e-9], [2.4, 2.5, 2.6, 2.3, 2.8])
    claim = vanishing_claim(RNN, runs)
    assert claim.verdict == REPRODUCED and claim.parts[0].effect.mean > 20


def test_diverged_runs_and_missing_stacks_say_so():
    runs = stacks("ff_depth", "rnn_tanh", 4, [0.1], [2.0] * 3) + [
        record("ff_depth", "rnn_tanh", 4, "none", 5, math.nan, status="diverged")]
    claim = vanishing_claim(FF, runs)
    assert claim.verdict == INCONCLUSIVE and "too few runs: 1 vs 3" in claim.why
    assert "not measured" in vanishing_claim(RNN, runs).why


# --------------------------------------------------------------------------- controls
SWEEPS = 200
# Seeds and between-seed SDs of ln(ratio): ff_depth as registered (3 seeds; largest pilot SD, ff-tanh×8 without
# skips, 0.16 on seeds 0–2), depth at its registered 5 seeds with the SD its lstm×4 without skips showed in the
# second reference run (0.74; its residual twin 0.04).
DESIGNS = {FF: ("ff_depth", "rnn_tanh", 3, 0.16), RNN: ("depth", "lstm", 5, 0.74)}


def verdicts(claim_id, delta, rng):
    task, arch, seeds, sd = DESIGNS[claim_id]
    out = []
    for _ in range(SWEEPS):
        residual = np.exp(0.9 + 0.05 * rng.standard_normal(seeds))
        plain = np.exp(0.9 - delta + sd * rng.standard_normal(seeds))
        out.append(vanishing_claim(claim_id, stacks(task, arch, 4, plain, residual)).verdict)
    return np.array(out)


@pytest.mark.parametrize("claim_id", [FF, RNN])
@pytest.mark.parametrize("delta, which, bound", [(RULE.design_effect, REPRODUCED, 0.80), (0.0, REPRODUCED, -0.10),
                                                 (-RULE.design_effect, NOT_REPRODUCED, 0.80)])
def test_controls(claim_id, delta, which, bound):
    got = float(np.mean(verdicts(claim_id, delta, np.random.default_rng(3)) == which))
    assert got >= bound if bound > 0 else got <= -bound
