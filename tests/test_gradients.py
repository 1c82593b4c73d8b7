"""Specification of the gradient-flow measurement (suite/training/gradients.py) and the `gradients` task
(tasks/gradients/): ground truth from closed forms and brute-force autograd; its claims and checks on
records built here, with negative controls (effect reversed, effect absent)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import suite.training.gradients as gradients
from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.training.gradients import (bound_violations, by_distance, fit_decay, measure, saturated_fraction, spectral_bound,
                             spectral_norm, spectral_radius)
from suite.models.zoo import CellLayer, RecurrentModel, build_model
from suite.run.runner import Execution, execute
from suite.task import get_task
from tasks.gradients.claims import (DESIGN_GROWTH, MIN_DECAY_GAP, MIN_GROWTH, bound_check, decay_check, fused_check,
                                    gated_decay_claim, linear_check, spectral_radius_claim)
from tasks.gradients.measurement import linearised, stream_windows
from tasks.gradients.report import GradientsReport

torch.set_num_threads(1)


# --------------------------------------------------------------------------- hand-built models


class LinearCell(nn.Module):
    """h⁽ᵗ⁾ = W_h h⁽ᵗ⁻¹⁾ + W_x x⁽ᵗ⁾: the identity-activation RNN of the closed-form case."""

    def __init__(self, w_h: torch.Tensor, input_size: int, generator: torch.Generator):
        super().__init__()
        self.hidden = w_h.shape[0]
        self.w_h = nn.Parameter(w_h.clone())
        # Small input weights keep ρ^T-sized states from saturating the softmax (∂J/∂logits = 0).
        self.w_x = nn.Parameter(0.01 * torch.randn(self.hidden, input_size, generator=generator, dtype=w_h.dtype))

    def init_state(self, batch: int, device) -> torch.Tensor:
        return torch.zeros(batch, self.hidden, dtype=self.w_h.dtype, device=device)

    def forward(self, x, h):
        return h @ self.w_h.T + x @ self.w_x.T


def linear_rnn(w_h: torch.Tensor, vocab: int = 11, seed: int = 0) -> RecurrentModel:
    g = torch.Generator().manual_seed(seed)
    hidden = w_h.shape[0]
    cfg = ModelConfig(arch="linear", hidden=hidden)
    torch.manual_seed(seed)  # embedding and head weights: independent of test order
    model = RecurrentModel(cfg, vocab, "lm", vocab, lambda i, h, b: CellLayer(LinearCell(w_h, i, g), h))
    with torch.no_grad():
        model.head.weight.mul_(1e-3)  # ρ^T-sized states must not saturate the softmax (∂J/∂logits = 0)
    return model.double()


def orthogonal(n: int, seed: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def random_batch(batch: int, steps: int, vocab: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(vocab, (batch, steps), generator=g)
    targets = torch.randint(vocab, (batch,), generator=g)
    positions = torch.randint(steps // 2, steps, (batch,), generator=g)
    positions[0] = steps - 1
    return inputs, positions, targets


# --------------------------------------------------------------------------- closed form: linear RNN


@settings(max_examples=15, deadline=None)
@given(rho=st.floats(0.3, 1.7), seed=st.integers(0, 10_000))
def test_linear_rnn_norm_ratio_per_step_is_rho(rho, seed):
    """W_h = ρ·Q with Q orthogonal: ‖g·(ρQ)^d‖ = ρ^d ‖g‖, so each step back multiplies the norm by ρ."""
    model = linear_rnn(rho * orthogonal(8, seed), seed=seed)
    inputs, positions, targets = random_batch(4, 25, 11, seed)
    profile = measure(model, inputs, positions, targets)
    per_example = profile.per_example["h"][0]
    assert (per_example[:, 0] > 0).all()
    for row, i in zip(per_example, positions.tolist()):
        ratios = row[1:i + 1] / row[:i]
        assert torch.allclose(ratios, torch.full_like(ratios, rho), rtol=1e-4, atol=0)
        assert torch.isnan(row[i + 1:]).all()  # no distance beyond the sequence start
    assert gradients.example_slopes(per_example) == pytest.approx([math.log(rho)] * 4, abs=1e-6)


@settings(max_examples=10, deadline=None)
@given(rho=st.floats(0.3, 1.7), seed=st.integers(0, 10_000))
def test_bound_is_tight_for_a_linear_rnn_with_normal_w(rho, seed):
    """σ′ ≡ 1 and ‖ρQ‖ = ρ: the bound equals the measured norm at every distance."""
    w = rho * orthogonal(6, seed)
    model = linear_rnn(w, seed=seed)
    inputs, positions, targets = random_batch(3, 20, 11, seed)
    profile = measure(model, inputs, positions, targets)
    bound = spectral_bound(profile, w, "identity")
    measured = profile.per_example["h"][0]
    valid = ~torch.isnan(measured)
    assert torch.allclose(bound[valid], measured[valid], rtol=1e-8)
    assert bound_violations(measured, bound) == (0, int(valid.sum()))


def test_a_bound_using_the_spectral_radius_instead_of_the_norm_is_caught_violated():
    """Non-normal W_h: ρ(W) = 0.5 but ‖W‖ ≈ 5; ρ^d‖g‖ under-estimates the true norms and is flagged."""
    w = torch.tensor([[0.5, 5.0], [0.0, 0.5]], dtype=torch.float64)
    model = linear_rnn(w, seed=3)
    inputs, positions, targets = random_batch(4, 12, 11, 3)
    profile = measure(model, inputs, positions, targets)
    measured = profile.per_example["h"][0]
    assert spectral_radius(w) == pytest.approx(0.5) and spectral_norm(w) > 5
    assert bound_violations(measured, spectral_bound(profile, w, "identity"))[0] == 0
    wrong = spectral_bound(profile, 0.5 * torch.eye(2, dtype=torch.float64), "identity")
    assert bound_violations(measured, wrong)[0] > 0


# --------------------------------------------------------------------------- brute force autograd


def brute_force_norms(model, inputs, positions, targets) -> dict[str, torch.Tensor]:
    """‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ one (example, j) at a time: run the fused layer up to j, make the state a leaf, run
    the fused layer on to i, and differentiate the loss at i with respect to that leaf."""
    batch, steps = inputs.shape
    lstm = model.cfg.arch == "lstm"
    out = {k: torch.full((batch, steps), math.nan, dtype=torch.float64) for k in (["h", "c"] if lstm else ["h"])}
    for b in range(batch):
        i = int(positions[b])
        for j in range(i + 1):
            _, state = model(inputs[b:b + 1, :j + 1])
            state = state[0]
            leaves = [s.detach().clone().requires_grad_(True) for s in (state if lstm else (state,))]
            if j == i:
                logits = model.head(leaves[0][-1])
            else:
                logits, _ = model(inputs[b:b + 1, j + 1:i + 1], [tuple(leaves) if lstm else leaves[0]])
                logits = logits[:, -1]
            loss = F.cross_entropy(logits, targets[b:b + 1], reduction="sum")
            grads = torch.autograd.grad(loss, leaves, allow_unused=True)
            for kind, g in zip(out, grads):
                out[kind][b, i - j] = 0.0 if g is None else float(g.norm())
    return out


@pytest.mark.parametrize("arch", ["rnn_tanh", "lstm", "gru"])
def test_one_pass_measurement_equals_brute_force_autograd(arch):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, hidden=5, embed=4), 9, "lm").double().eval()
    inputs, positions, targets = random_batch(3, 8, 9, 1)
    profile = measure(model, inputs, positions, targets)
    expected = brute_force_norms(model, inputs, positions, targets)
    assert profile.kinds == list(expected)
    for kind, truth in expected.items():
        got = profile.per_example[kind][0]
        span = got.shape[1]
        assert torch.allclose(got, truth[:, :span], rtol=1e-9, atol=1e-12, equal_nan=True), kind


def test_measurement_uses_one_backward_pass(monkeypatch):
    calls = []
    real = torch.autograd.grad
    monkeypatch.setattr(gradients.torch.autograd, "grad", lambda *a, **k: calls.append(1) or real(*a, **k))
    model = build_model(ModelConfig(arch="lstm", hidden=4, layers=2), 7, "lm").double()
    inputs, positions, targets = random_batch(2, 30, 7, 0)
    profile = measure(model, inputs, positions, targets)
    assert len(calls) == 1
    assert len(profile.per_example["h"]) == 2 and len(profile.per_example["c"]) == 2


# --------------------------------------------------------------------------- the bound on real cells


@settings(max_examples=12, deadline=None)
@given(arch=st.sampled_from(["rnn_tanh", "rnn_relu"]), rho=st.floats(0.3, 3.0), seed=st.integers(0, 1000),
       init=st.sampled_from(["default", "orthogonal"]))
def test_vanilla_rnn_never_violates_the_bound(arch, rho, seed, init):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch=arch, hidden=6, init=init, spectral_radius=rho), 9, "lm").double()
    inputs, positions, targets = random_batch(3, 30, 9, seed)
    profile = measure(model, inputs, positions, targets)
    w = model.recurrent_weights()[0][0]
    bound = spectral_bound(profile, w, gradients.VANILLA_ACTIVATIONS[arch])
    violations, checks = bound_violations(profile.per_example["h"][0], bound)
    assert violations == 0 and checks == int(positions.sum() + len(positions))


def test_bound_violations_counts_entries_above_the_bound_only():
    measured = torch.tensor([[1.0, 0.5, math.nan], [2.0, 3.0, 0.0]])
    bound = torch.tensor([[1.0, 0.4, 0.1], [2.0, 4.0, 0.0]])
    assert bound_violations(measured, bound) == (1, 5)


# --------------------------------------------------------------------------- fits and indexing


@settings(max_examples=30, deadline=None)
@given(ratio=st.floats(0.2, 3.0), scale=st.floats(1e-3, 1e3), n=st.integers(3, 60))
def test_fit_decay_recovers_an_exact_exponential(ratio, scale, n):
    fit = fit_decay([scale * ratio ** d for d in range(n)])
    assert fit.slope == pytest.approx(math.log(ratio), abs=1e-9)
    assert fit.ratio_per_step == pytest.approx(ratio, rel=1e-9)
    if ratio < 1 - 1e-6:
        assert fit.half_life == pytest.approx(math.log(2) / -math.log(ratio), rel=1e-6)
        assert fit.doubling_steps is None


def test_fit_decay_skips_zero_and_non_finite_points():
    fit = fit_decay([1.0, 0.5, 0.0, 0.125, math.nan, math.inf])
    assert fit.points == 3 and fit.slope == pytest.approx(math.log(0.5))
    assert math.isnan(fit_decay([1.0]).slope)


def test_by_distance_aligns_each_example_on_its_own_loss_position():
    values = torch.tensor([[10.0, 11, 12, 13], [20, 21, 22, 23]])
    out = by_distance(values, torch.tensor([3, 1]))
    expected = torch.tensor([[13.0, 12, 11, 10], [21, 20, math.nan, math.nan]])
    assert torch.allclose(out, expected, equal_nan=True)


# --------------------------------------------------------------------------- the measured quantities


def test_linearised_copy_runs_the_same_weights_without_the_activation():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="rnn_tanh", hidden=5, embed=3), 7, "lm").double()
    tokens = torch.tensor([[1, 4, 2, 6]])
    rnn = model.layers[0].rnn
    h, expected = torch.zeros(1, 5, dtype=torch.float64), []
    for x in model.embedding(tokens)[0]:  # h = W_h h + W_x x + b, by hand
        h = h @ rnn.weight_hh_l0.T + x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0
        expected.append(model.head(h))
    logits, _, _ = linearised(model).step_by_step(tokens)
    assert torch.allclose(logits[0], torch.cat(expected), rtol=1e-12)
    with pytest.raises(ValueError):
        linearised(build_model(ModelConfig(arch="rnn_tanh", hidden=4, layers=2), 7, "lm"))


def test_saturated_fraction_counts_units_whose_derivative_is_below_a_tenth():
    h = torch.tensor([[0.0, 0.5, 0.95, -0.99]])  # tanh′ = 1 − h²: 1, 0.75, 0.0975, 0.0199
    assert saturated_fraction(h, "tanh") == pytest.approx(0.5)
    assert saturated_fraction(h, "identity") == 0.0


def test_stream_windows_are_spread_over_the_stream_and_predict_the_next_token():
    stream = torch.arange(100)
    inputs, positions, targets = stream_windows(stream, 3, 10)
    assert inputs[:, 0].tolist() == [0, 44, 89] and targets.tolist() == [10, 54, 99]
    assert positions.tolist() == [9, 9, 9]
    with pytest.raises(ValueError):
        stream_windows(torch.arange(5), 2, 10)


# --------------------------------------------------------------------------- the task end to end


def tiny_spectrum(rho: float, init: str = "orthogonal", seed: int = 0) -> RunConfig:
    return RunConfig("gradients", ModelConfig(arch="rnn_tanh", hidden=8, init=init, spectral_radius=rho),
                     TrainConfig(steps=1), seed, {"experiment": "spectrum", "measure_steps": 20, "measure_batch": 4})


def test_spectrum_run_is_reproducible_and_its_linear_copy_scales_by_rho_per_step():
    a = get_task("gradients").run(tiny_spectrum(1.5)).metrics
    assert a == get_task("gradients").run(tiny_spectrum(1.5)).metrics
    assert a["network"]["rho"] == pytest.approx(1.5, rel=1e-5) and a["network"]["spectral_norm"] == pytest.approx(1.5)
    # Orthogonal W_h = 1.5·Q and σ = identity: every step back multiplies the norm by exactly 1.5.
    assert a["slope_linear"] == pytest.approx(math.log(1.5), abs=1e-6)
    assert a["bound_violations"] == 0 and a["network"]["bound_checks"] == 4 * 20
    assert a["network"]["fused_max_abs_diff"] < 1e-12 and "fused_max_abs_diff" not in a["linear"]
    default = get_task("gradients").run(tiny_spectrum(0.9, "default")).metrics
    assert default["network"]["rho"] == pytest.approx(0.9, rel=1e-5) and default["network"]["spectral_norm"] > 1


def test_task_runs_write_records_that_the_report_turns_into_tables_plots_claims_and_checks(tmp_path):
    task = get_task("gradients")
    smoke = task.settings("smoke")
    train = TrainConfig(**{**smoke.train.__dict__, "steps": 5})
    options = {**smoke.options, "train_sentences": 100, "eval_sentences": 60}
    trained = [RunConfig("gradients", ModelConfig(arch=a, **smoke.model), train, 0, options) for a in ("rnn_tanh", "lstm")]
    records = [execute(cfg, tmp_path, Execution()) for cfg in [tiny_spectrum(0.5), tiny_spectrum(2.0), *trained]]
    assert [r["status"] for r in records] == ["ok"] * 4, [r.get("error") for r in records]
    tanh, lstm = records[2]["metrics"], records[3]["metrics"]
    assert {"init", "trained"} <= set(tanh) and tanh["bound_violations"] == 0 and "bound_violations" not in lstm
    assert "c" in lstm["trained"]["slopes"] and lstm["valid_ppl"] > 1 and lstm["unigram_ppl"] > 1
    report = GradientsReport()
    tables = report.tables(records)
    assert set(tables) == {"gradients_spectrum", "gradients_architectures"}
    assert tables["gradients_spectrum"]["target_rho"].tolist() == [0.5, 0.5, 2.0, 2.0]
    assert sorted(p.name for p in report.plots(records, tmp_path)) == ["gradients_architectures.png",
                                                                     "gradients_spectrum.png"]
    assert [c.id for c in report.claims(records)] == ["gradients.spectral_radius", "gradients.gated_decay"]
    assert [c.passed for c in report.checks(records)] == [True, True, True, True]


def test_bad_options_and_combinations_are_one_line_config_errors():
    task = get_task("gradients")
    with pytest.raises(ConfigError, match="gradients option experiment must be one of spectrum, architectures"):
        task.options(RunConfig("gradients", options={"experiment": "x"}))
    with pytest.raises(ConfigError, match="gradients option measure_steps must be an integer ≥ 2; got 1"):
        task.options(RunConfig("gradients", options={"measure_steps": 1}))
    with pytest.raises(ConfigError, match="needs a one-layer vanilla RNN"):
        task.validate(RunConfig("gradients", ModelConfig(arch="lstm"), options={"experiment": "spectrum"}))
    with pytest.raises(ConfigError, match="needs a recurrent architecture"):
        task.validate(RunConfig("gradients", ModelConfig(arch="transformer")))


def test_variants_make_the_rho_grid_for_both_inits_and_one_trained_run_per_architecture():
    task = get_task("gradients")
    rnn = task.variants(ModelConfig(arch="rnn_tanh"), "standard")
    grid = [(v["model"]["init"], v["model"]["spectral_radius"]) for v in rnn if "model" in v]
    assert grid == [(i, r) for i in ("orthogonal", "default") for r in (0.5, 0.9, 1.0, 1.1, 1.5, 2.0)]
    assert rnn[-1] == {"options": {"experiment": "architectures"}}
    assert task.variants(ModelConfig(arch="gru"), "standard") == [{"options": {"experiment": "architectures"}}]
    assert task.variants(ModelConfig(arch="lstm", layers=2), "standard") == []


# --------------------------------------------------------------------------- records built here

NULL_SWEEPS = 200
STATED_RATE = 0.025  # one-sided family-wise error of each rule's "reproduced"
ALLOWED = 10  # of 200 null sweeps: P(Binomial(200, 0.025) > 10) ≈ 1 %


def spectrum_run(rho: float, init: str, seed: int, network: float, linear: float, saturated: float = 0.0,
                 norm: float | None = None) -> dict:
    def stage(slope):
        return {"slope": slope, "max_example_slope": slope, "rho": rho, "spectral_norm": norm or rho,
                "bound_violations": 0, "bound_checks": 10, "saturated_fraction": saturated,
                "mean_sigma_prime": 1 - saturated, "curves": {"h": [[1.0, 0.5]]}}
    return {"run_id": f"s{rho}{init}{seed}", "label": "rnn_tanh", "status": "ok",
            "config": {"task": "gradients", "seed": seed, "model": {"arch": "rnn_tanh", "layers": 1}},
            "metrics": {"experiment": "spectrum", "init": init, "target_rho": rho,
                        "network": stage(network), "linear": stage(linear)}}


def spectrum_sweep(slopes, saturated: float = 0.3) -> list[dict]:
    """slopes(rho, init, seed) -> (network slope, linear slope) for the grid of the presets, 3 seeds."""
    return [spectrum_run(rho, init, seed, *slopes(rho, init, seed), saturated=saturated)
            for init in ("orthogonal", "default") for rho in (0.5, 0.9, 1.0, 1.1, 1.5, 2.0) for seed in range(3)]


def jitter(seed: int) -> float:
    return 0.002 * (seed - 1)


def tanh_grows_at_two(rho, init, s, slope=0.08):
    """The committed pattern: the tanh network decays at every ρ but 2, where it grows slightly."""
    return (slope if rho == 2.0 else -0.4) + jitter(s), math.log(rho) + jitter(s)


def test_rho_claim_is_reproduced_when_no_tanh_group_grows_up_to_one_and_one_grows_above():
    claim = spectral_radius_claim(spectrum_sweep(tanh_grows_at_two))
    assert claim.verdict == REPRODUCED, claim.why
    assert "largest slope at ρ > 1" in claim.effect and "30% saturated" in claim.effect
    assert "appears at: tanh/default ρ=2, tanh/orthogonal ρ=2; not at: tanh/default ρ=1.1" in claim.evidence
    assert claim.details["growth_at"] == ["tanh/default ρ=2", "tanh/orthogonal ρ=2"]


def test_the_linear_copy_is_a_check_not_evidence():
    """Growth in the linear copy alone (log ρ by construction) no longer makes the claim: the tanh network
    decaying at every ρ > 1 reads not reproduced, and the linear check passes."""
    runs = spectrum_sweep(lambda rho, init, s: (-0.4 + jitter(s), math.log(rho) + jitter(s)))
    claim = spectral_radius_claim(runs)
    assert claim.verdict == NOT_REPRODUCED and "no growth at any ρ > 1" in claim.why
    assert "linear" not in claim.evidence
    check = linear_check(runs)
    assert check.passed is True and "12 linear groups" in check.evidence
    wrong = linear_check(spectrum_sweep(lambda rho, init, s: (-0.4, 0.3)))
    assert wrong.passed is False and "default ρ=2: 0.3 vs log ρ = 0.693" in wrong.evidence


def test_rho_claim_is_not_reproduced_when_a_tanh_run_grows_at_rho_below_one():
    def slopes(rho, init, s):
        grows = rho == 0.9 and init == "default"
        return (0.05 + jitter(s) if grows else tanh_grows_at_two(rho, init, s)[0]), math.log(rho) + jitter(s)
    claim = spectral_radius_claim(spectrum_sweep(slopes))
    assert claim.verdict == NOT_REPRODUCED and "tanh/default ρ=0.9" in claim.why


def test_saturated_groups_count_and_their_share_is_shown_beside_them():
    claim = spectral_radius_claim(spectrum_sweep(tanh_grows_at_two, saturated=0.9))
    assert claim.verdict == REPRODUCED and "tanh/default ρ=2: slope" in claim.evidence
    assert "90% saturated → grows" in claim.evidence and claim.details["saturated"]["tanh/default ρ=2"] == 0.9


def rho_sweeps(grow_above, grow_below, sd=0.011, sweeps=NULL_SWEEPS, seed=12):
    """Simulated sweeps at the preset's grid and 3 seeds, SD between seeds 0.011 (the committed tanh ρ = 2
    groups: 0.078 [0.049, 0.106] over 3 seeds): slope N(grow_above) at ρ = 2, N(grow_below) at ρ ≤ 1, −0.3
    elsewhere."""
    rng = np.random.default_rng(seed)
    verdicts = []
    for _ in range(sweeps):
        def slopes(rho, init, s):
            centre = grow_above if rho == 2.0 else grow_below if rho <= 1 else -0.3
            return centre + sd * rng.standard_normal(), math.log(rho)
        verdicts.append(spectral_radius_claim(spectrum_sweep(slopes)).verdict)
    return np.array(verdicts)


@pytest.mark.parametrize("above, below, which, bound", [(DESIGN_GROWTH, -0.3, REPRODUCED, 0.80),
                                                        (0.0, 0.0, REPRODUCED, -0.10),
                                                        (-0.3, DESIGN_GROWTH, NOT_REPRODUCED, 0.80)])
def test_rho_claim_controls(above, below, which, bound):
    """Growth at the design size at ρ = 2 only (present), slopes of 0 everywhere (absent), growth below 1 and
    decay above (reversed)."""
    got = float(np.mean(rho_sweeps(above, below) == which))
    assert got >= bound if bound > 0 else got <= -bound


def test_rho_claim_without_an_effect_is_rarely_reproduced():
    """No effect: slopes scatter around 0 at every ρ, unrelated to it."""
    gen = torch.Generator().manual_seed(11)
    reproduced = 0
    for _ in range(NULL_SWEEPS):
        noise = torch.randn(200, generator=gen).mul(0.02).tolist()
        it = iter(noise)
        claim = spectral_radius_claim(spectrum_sweep(lambda rho, init, s: (next(it), next(it)), saturated=0.0))
        reproduced += claim.verdict == REPRODUCED
    assert reproduced <= ALLOWED


def arch_run(name: str, seed: int, init: float, trained: float, valid_ppl: float = 10.0) -> dict:
    return {"run_id": f"a{name}{seed}", "label": name, "status": "ok",
            "config": {"task": "gradients", "seed": seed, "model": {"arch": name, "layers": 1}},
            "metrics": {"experiment": "architectures", "slope_init": init, "slope_trained": trained,
                        "valid_ppl": valid_ppl, "unigram_ppl": 90.0}}


def arch_sweep(slopes: dict[str, tuple[list, list]], valid_ppl: float = 10.0) -> list[dict]:
    return [arch_run(name, s, i, t, valid_ppl if name == "rnn_tanh" else 10.0)
            for name, (inits, trained) in slopes.items() for s, (i, t) in enumerate(zip(inits, trained))]


VANILLA_SLOPES = ([-0.78, -0.75, -0.80], [-0.8, -0.9, -0.7])


def test_gated_decay_claim_reproduced_when_gated_gradients_decay_more_slowly_in_both_stages():
    gated = ([-0.5, -0.52, -0.48], [-0.1, -0.12, -0.09])
    claim = gated_decay_claim(arch_sweep({"rnn_tanh": VANILLA_SLOPES, "lstm": gated, "gru": gated}))
    assert claim.verdict == REPRODUCED, claim.why
    assert "Δ lstm − rnn_tanh (trained)" in claim.effect


def test_gated_decay_claim_not_reproduced_when_reversed_after_training():
    gated = ([-0.5, -0.52, -0.48], [-1.5, -1.6, -1.4])
    claim = gated_decay_claim(arch_sweep({"rnn_tanh": VANILLA_SLOPES, "lstm": gated, "gru": gated}))
    assert claim.verdict == NOT_REPRODUCED and "lstm − rnn_tanh (trained)" in claim.why


def test_gated_decay_trained_stage_leaves_out_models_that_did_not_learn():
    gated = ([-0.5, -0.52, -0.48], [-0.1, -0.12, -0.09])
    claim = gated_decay_claim(arch_sweep({"rnn_tanh": VANILLA_SLOPES, "lstm": gated, "gru": gated}, valid_ppl=95.0))
    assert claim.verdict == INCONCLUSIVE and "not learned" in claim.why and "rnn_tanh" in claim.evidence


def test_gated_decay_claim_without_an_effect_is_rarely_reproduced():
    gen = torch.Generator().manual_seed(5)
    reproduced = 0
    for _ in range(NULL_SWEEPS):
        draw = torch.randn(3, 2, 3, generator=gen).mul(0.1).sub(0.5).tolist()  # same law for every model
        slopes = {name: tuple(draw[k]) for k, name in enumerate(("rnn_tanh", "lstm", "gru"))}
        reproduced += gated_decay_claim(arch_sweep(slopes)).verdict == REPRODUCED
    assert reproduced <= ALLOWED
    assert MIN_DECAY_GAP > 0 and MIN_GROWTH > 0


# --------------------------------------------------------------------------- checks


def test_a_violated_bound_fails_the_bound_check():
    runs = spectrum_sweep(lambda rho, init, s: (-0.4, -0.1))
    assert bound_check(runs).passed is True
    runs[4]["metrics"]["linear"]["bound_violations"] = 2
    assert bound_check(runs).passed is False and "2 of" in bound_check(runs).evidence
    assert bound_check([]).passed is None


def test_a_rising_curve_with_norm_below_one_fails_the_decay_check():
    runs = [spectrum_run(0.5, "orthogonal", 0, -0.7, -0.69), spectrum_run(1.5, "orthogonal", 0, 0.2, 0.4)]
    assert decay_check(runs).passed is True  # ρ = 1.5 may grow: the check only covers ‖W_h‖₂ < 1
    runs[0]["metrics"]["network"]["max_example_slope"] = 0.01
    assert decay_check(runs).passed is False


def test_fused_and_step_by_step_logits_that_differ_fail_the_fused_check():
    runs = [spectrum_run(0.5, "orthogonal", 0, -0.7, -0.69)]
    runs[0]["metrics"]["network"].update(fused_max_abs_diff=1e-14, fused_scale=3.0)
    assert fused_check(runs).passed is True
    runs[0]["metrics"]["network"]["fused_max_abs_diff"] = 1e-3
    assert fused_check(runs).passed is False
    # A chaotic network (ρ = 2) amplifies rounding differences as much as it amplifies the gradient.
    runs[0]["metrics"]["network"]["amplification"] = 1e7
    assert fused_check(runs).passed is True
