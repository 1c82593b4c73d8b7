"""Specification of the gradient-flow measurement (suite/gradients.py) and the `gradients` and
`clipping` tasks (tasks/gradients.py): ground truth from closed forms and brute-force autograd."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import suite.gradients as gradients
from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.gradients import (bound_violations, by_distance, fit_decay, measure, spectral_bound,
                             spectral_norm, spectral_radius)
from suite.models import CellLayer, RecurrentModel, build_model
from suite.runner import Execution, execute
from suite.tasks import get_task
from tasks.gradients import (clipping_claim, clipping_table, gated_decay_claim, spectrum_claim,
                             spectrum_table)

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


# --------------------------------------------------------------------------- tasks end to end


def tiny_spectrum(rho: float, seed: int = 0) -> RunConfig:
    return RunConfig("gradients", ModelConfig(arch="rnn_tanh", hidden=8, init="orthogonal", spectral_radius=rho),
                     TrainConfig(steps=1), seed, {"experiment": "spectrum", "measure_steps": 20, "measure_batch": 4})


def test_spectrum_run_is_reproducible_and_measures_the_configured_radius():
    a = get_task("gradients").run(tiny_spectrum(0.9)).metrics
    b = get_task("gradients").run(tiny_spectrum(0.9)).metrics
    assert a == b
    assert a["rho"] == pytest.approx(0.9, rel=1e-5) and a["spectral_norm"] == pytest.approx(0.9, rel=1e-5)
    assert a["bound_violations"] == 0 and a["bound_checks"] == 4 * 20


def test_task_runs_write_records_tables_and_plots(tmp_path):
    smoke = get_task("gradients").settings("smoke")
    arch = RunConfig("gradients", ModelConfig(arch="rnn_tanh", **smoke.model), TrainConfig(**{
        **smoke.train.__dict__, "steps": 5}), 0, {**get_task("gradients").default_options, **smoke.options})
    clip_settings = get_task("clipping").settings("smoke")
    clip_model = ModelConfig(arch="lstm", hidden=8, init="orthogonal", spectral_radius=3.0)
    clipping = [RunConfig("clipping", clip_model, TrainConfig(**{**clip_settings.train.__dict__, "steps": 6,
                                                                 "clip": c}), 0,
                          {"replicates": 2, "train_sentences": 100, "valid_sentences": 20}) for c in (None, 1.0)]
    records = [execute(cfg, tmp_path, Execution()) for cfg in [tiny_spectrum(0.5), tiny_spectrum(2.0), arch, *clipping]]
    assert [r["status"] for r in records] == ["ok"] * 5, [r.get("error") for r in records]
    assert {"init", "trained"} <= set(records[2]["metrics"]) and records[2]["metrics"]["bound_violations"] == 0
    assert records[3]["metrics"]["replicates"] == 2 and len(records[3]["metrics"]["replicas"][0]["curve"]) > 0
    tables = {**get_task("gradients").tables(records), **get_task("clipping").tables(records)}
    assert set(tables) == {"gradients_spectrum", "gradients_architectures", "clipping_divergence"}
    assert list(tables["gradients_spectrum"]["target_rho"]) == [0.5, 2.0]
    paths = get_task("gradients").plots(records, tmp_path) + get_task("clipping").plots(records, tmp_path)
    assert sorted(p.name for p in paths) == ["clipping_curves.png", "gradients_architectures.png",
                                             "gradients_spectrum.png"]
    assert all(p.parent == tmp_path and p.stat().st_size > 1000 for p in paths)


def test_bad_options_are_one_line_config_errors():
    task = get_task("gradients")
    with pytest.raises(ConfigError, match="unknown gradients experiment 'x'; valid: spectrum, architectures"):
        task.validate(RunConfig("gradients", options={"experiment": "x"}))
    with pytest.raises(ConfigError, match="needs a vanilla RNN"):
        task.validate(RunConfig("gradients", ModelConfig(arch="lstm"), options={"experiment": "spectrum"}))
    with pytest.raises(ConfigError, match="replicates must be a positive integer"):
        get_task("clipping").validate(RunConfig("clipping", options={"replicates": 0}))


def test_variants_make_the_rho_grid_and_the_clipping_thresholds():
    task = get_task("gradients")
    rnn = task.variants(ModelConfig(arch="rnn_tanh"), "quick")
    assert [v["model"]["spectral_radius"] for v in rnn if "model" in v] == [0.5, 0.9, 1.0, 1.1, 1.5, 2.0]
    assert [v["model"]["forget_bias"] for v in task.variants(ModelConfig(arch="lstm"), "quick")] == [0.0, 1.0]
    assert task.variants(ModelConfig(arch="lstm", layers=2), "quick") == []
    clip = get_task("clipping")
    tanh = clip.variants(ModelConfig(arch="rnn_tanh"), "standard")
    assert [v["train"].get("clip") for v in tanh] == [None, 5.0, 1.0, 0.25]
    assert all(v["model"]["spectral_radius"] == 3.0 and v["train"]["lr"] == 10.0 for v in tanh)
    assert clip.variants(ModelConfig(arch="gru"), "standard") == []


# --------------------------------------------------------------------------- claims on constructed records


def spectrum_record(rho: float, seed: int, slope: float, violations: int = 0) -> dict:
    return {"config": {"task": "gradients", "seed": seed, "model": {"arch": "rnn_tanh", "forget_bias": None}},
            "label": "rnn_tanh", "status": "ok",
            "metrics": {"experiment": "spectrum", "target_rho": rho, "slopes": {"h": [slope]},
                        "example_slopes": [slope] * 4, "rho": rho, "spectral_norm": rho,
                        "bound_violations": violations, "bound_checks": 100}}


def spectrum_records(slopes: dict[float, list[float]], violations: int = 0) -> list[dict]:
    return [spectrum_record(rho, seed, s, violations if seed == 0 else 0)
            for rho, values in slopes.items() for seed, s in enumerate(values)]


def test_spectrum_claim_verdicts():
    good = {0.5: [-0.7, -0.72, -0.69], 1.5: [0.2, 0.21, 0.19]}
    assert spectrum_claim(spectrum_records(good)).verdict == REPRODUCED
    assert spectrum_claim(spectrum_records(good, violations=2)).verdict == NOT_REPRODUCED
    wrong = spectrum_records({0.5: [-0.7, -0.72, -0.69], 1.5: [-0.2, -0.21, -0.19]})
    for r in wrong:
        r["metrics"]["mean_sigma_prime"] = 0.25
    claim = spectrum_claim(wrong)
    assert claim.verdict == NOT_REPRODUCED and "ρ = 1.5" in claim.why and "ρ=1.5: mean σ′ 0.25" in claim.why
    straddles = {0.5: [-0.7, -0.72, -0.69], 1.5: [0.3, -0.2, 0.1]}
    assert spectrum_claim(spectrum_records(straddles)).verdict == INCONCLUSIVE
    one_side = spectrum_claim(spectrum_records({0.5: [-0.7, -0.72]}))
    assert one_side.verdict == INCONCLUSIVE and "missing" in one_side.why
    table = spectrum_table(spectrum_records(good))
    assert table["slope"].tolist() == pytest.approx([-0.7033333, 0.2])
    assert table["half_life"].iloc[0] == pytest.approx(math.log(2) / 0.7033333)
    assert math.isnan(table["half_life"].iloc[1])


def arch_record(arch: str, seed: int, slope: float, forget_bias=None) -> dict:
    stage = {"slopes": {"h": [slope]}, "example_slopes": [slope] * 4, "curves": {"h": [[1.0, 0.5]]}}
    return {"config": {"task": "gradients", "seed": seed,
                       "model": {"arch": arch, "layers": 1, "forget_bias": forget_bias}},
            "label": arch, "status": "ok",
            "metrics": {"experiment": "architectures", "init": stage, "trained": stage}}


def test_gated_decay_claim_verdicts():
    def records(tanh, lstm, gru):
        return ([arch_record("rnn_tanh", s, v) for s, v in enumerate(tanh)]
                + [arch_record("lstm", s, v, 1.0) for s, v in enumerate(lstm)]
                + [arch_record("gru", s, v) for s, v in enumerate(gru)])
    assert gated_decay_claim(records([-0.5, -0.52, -0.48], [-0.1, -0.12, -0.09], [-0.05, -0.06, -0.04])).verdict \
        == REPRODUCED
    assert gated_decay_claim(records([-0.5, -0.52, -0.48], [-0.9, -0.92, -0.88], [-0.05, -0.06, -0.04])).verdict \
        == NOT_REPRODUCED
    assert gated_decay_claim(records([-0.5, -0.1, -0.3], [-0.2, -0.4, -0.3], [-0.05, -0.06, -0.04])).verdict \
        == INCONCLUSIVE
    missing = gated_decay_claim(records([], [-0.1, -0.12], [-0.05, -0.06]))
    assert missing.verdict == INCONCLUSIVE and "missing" in missing.why


def clip_record(arch: str, clip, seed: int, diverged: int, replicates: int = 10) -> dict:
    return {"config": {"task": "clipping", "seed": seed, "model": {"arch": arch}}, "label": arch, "status": "ok",
            "metrics": {"clip": clip, "replicates": replicates, "diverged": diverged,
                        "diverged_fraction": diverged / replicates, "loss_spikes": 1.0, "clipped_fraction": 0.5,
                        "final_loss": 3.0, "replicas": []}}


def test_clipping_claim_verdicts():
    def records(unclipped, clipped, arch="rnn_tanh"):
        return ([clip_record(arch, None, s, d) for s, d in enumerate(unclipped)]
                + [clip_record(arch, 1.0, s, d) for s, d in enumerate(clipped)]
                + [clip_record(arch, 10.0, s, 10) for s in range(len(clipped))])  # only the smallest counts
    assert clipping_claim(records([9, 10, 8], [0, 1, 0])).verdict == REPRODUCED
    assert clipping_claim(records([0, 1, 0], [9, 10, 8])).verdict == NOT_REPRODUCED
    assert clipping_claim(records([3, 4, 2], [2, 3, 2])).verdict == INCONCLUSIVE
    nothing = clipping_claim(records([0, 0, 0], [0, 0, 0]))
    assert nothing.verdict == INCONCLUSIVE and "nothing to reduce" in nothing.why
    table = clipping_table(records([9, 10, 8], [0, 1, 0]))
    assert table["clipping"].tolist() == ["no clipping", "clip 10", "clip 1"]
    assert table["diverged_fraction"].tolist() == pytest.approx([0.9, 1.0, 1 / 30])
