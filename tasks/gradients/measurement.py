"""One gradient-flow measurement of a model (a "stage"), the inputs it is measured on, and the
identity-activation copy of a vanilla RNN that shows the linear regime of the same weights.

Every stage is measured in float64 on a copy of the model, so ρ = 2 over 200 steps neither overflows nor
underflows and training is untouched. A stage is a plain dict (it goes into the run record):

    curves / slopes       batch-mean ‖∂J⁽ⁱ⁾/∂state⁽ⁱ⁻ᵈ⁾‖ and its fitted log-slope, per state kind and layer
    slope                 the top layer's h slope (mean of the examples' own slopes)
    max_example_slope     the steepest-growing example's slope (a check: < 0 whenever ‖W_h‖₂ < 1)
    fused_max_abs_diff    |fused logits − step-by-step logits|, max (zoo models only; a check), with the
                          logits' scale and the largest ‖∂J/∂h⁽ⁱ⁻ᵈ⁾‖ / ‖∂J/∂h⁽ⁱ⁾‖ (amplification)
    vanilla RNNs also:    rho, spectral_norm, bound_violations/bound_checks, bound_curve, mean_sigma_prime,
                          saturated_fraction
"""
from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from suite.training.gradients import (activation_derivative, bound_violations, example_slopes, measure,
                             nanmean_over_examples, saturated_fraction, spectral_bound, spectral_norm,
                             spectral_radius)
from suite.models.zoo import CellLayer

FUSED_RTOL = 1e-9  # float64 fused vs step-by-step logits: measured ≈ 1e-15 relative on CPU (non-chaotic)


def stage_metrics(model: nn.Module, inputs: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor,
                  activation: str | None, fused: bool = True) -> dict[str, Any]:
    """Measure ‖∂J⁽ⁱ⁾/∂h⁽ⁱ⁻ᵈ⁾‖ for every d on a float64 copy of `model`.

    activation: the vanilla RNN's σ ('tanh', 'relu', 'identity'), None for gated cells (no bound);
    fused: whether the model has a fused path to compare the step-by-step logits with."""
    probe = copy.deepcopy(model).double().eval().cpu()
    inputs, positions, targets = inputs.cpu(), positions.cpu(), targets.cpu()
    profile = measure(probe, inputs, positions, targets)
    top = profile.per_example["h"][-1]
    slopes = example_slopes(top)
    out: dict[str, Any] = {
        "curves": {k: [profile.curve(k, i) for i in range(len(v))] for k, v in profile.per_example.items()},
        # A curve's slope is the mean of its examples' own slopes: each example decays from its own
        # ‖∂J/∂h⁽ⁱ⁾‖, and the set of examples reaching distance d shrinks with d on padded batches.
        "slopes": {k: [mean_finite(example_slopes(pe)) for pe in per_layer]
                   for k, per_layer in profile.per_example.items()},
        "slope": mean_finite(slopes), "max_example_slope": max_finite(slopes)}
    if fused:
        with torch.no_grad():
            logits, _ = probe(inputs)
        out["fused_max_abs_diff"] = float((logits - profile.output).abs().max())
        out["fused_scale"] = float(logits.abs().max())
        # How much the network amplifies a perturbation of an earlier state: rounding differences between
        # the two paths grow by as much (a tanh RNN at ρ = 2 is chaotic: 1e-15 grows to ~1e-6 over 200 steps).
        out["amplification"] = max_finite((top / top[:, :1]).flatten().tolist())
    if activation is not None:
        out.update(vanilla_metrics(probe, profile, top, activation))
    return out


def vanilla_metrics(probe: nn.Module, profile, top: torch.Tensor, activation: str) -> dict[str, Any]:
    """The quantities of Pascanu et al.'s bound: ρ(W_h), ‖W_h‖₂, the bound and how often it is exceeded."""
    w_h = recurrent_matrix(probe)
    bound = spectral_bound(profile, w_h, activation)
    violations, checks = bound_violations(top, bound)
    h = profile.trace[-1]["h"]
    return {"rho": spectral_radius(w_h), "spectral_norm": spectral_norm(w_h), "bound_violations": violations,
            "bound_checks": checks, "bound_curve": nanmean_over_examples(bound).tolist(),
            "mean_sigma_prime": float(activation_derivative(h, activation).mean()),
            "saturated_fraction": saturated_fraction(h, activation)}


def recurrent_matrix(model: nn.Module) -> torch.Tensor:
    """W_h of the top layer (forward direction)."""
    top = model.layers[-1]
    return top.cell.w_hh if isinstance(top, CellLayer) else model.recurrent_weights()[-1][0]


# --------------------------------------------------------------------------- the linear regime


class LinearCell(nn.Module):
    """h⁽ᵗ⁾ = W_h h⁽ᵗ⁻¹⁾ + W_x x⁽ᵗ⁾ + b: a vanilla RNN layer with its activation removed (σ = identity).

    Pascanu et al. (2013, §2.1) state the ρ conditions exactly for this linear case; with the same
    weights as the tanh network it shows what the weights alone do to the gradient, with no unit able
    to saturate."""

    def __init__(self, rnn: nn.RNN):
        super().__init__()
        self.hidden = rnn.hidden_size
        self.w_hh = nn.Parameter(rnn.weight_hh_l0.detach().clone())
        self.w_ih = nn.Parameter(rnn.weight_ih_l0.detach().clone())
        self.bias = nn.Parameter((rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().clone())

    def init_state(self, batch: int, device) -> torch.Tensor:
        return torch.zeros(batch, self.hidden, dtype=self.w_hh.dtype, device=device)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return h @ self.w_hh.T + x @ self.w_ih.T + self.bias


def linearised(model: nn.Module) -> nn.Module:
    """A copy of a one-layer vanilla RNN model whose recurrent layer runs without its activation."""
    if len(model.layers) != 1:
        raise ValueError("the linearised copy is defined for one-layer vanilla RNNs")
    copied = copy.deepcopy(model)
    layer = copied.layers[0]
    copied.layers[0] = CellLayer(LinearCell(layer.rnn), layer.hidden)
    return copied


# --------------------------------------------------------------------------- inputs


def random_token_batch(vocab_size: int, batch: int, steps: int, seed: int):
    """i.i.d. uniform tokens, J = loss of a random target at the last step of every example."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(vocab_size, (batch, steps), generator=generator)
    targets = torch.randint(vocab_size, (batch,), generator=generator)
    return inputs, torch.full((batch,), steps - 1), targets


def stream_windows(stream: torch.Tensor, batch: int, steps: int):
    """`batch` windows of `steps` tokens spread evenly over a token stream, each read from a zero state;
    J = loss of predicting the token that follows the window."""
    room = len(stream) - steps - 1
    if room < 0:
        raise ValueError(f"a stream of {len(stream)} tokens is too short for windows of {steps}")
    starts = torch.linspace(0, room, batch).long()
    inputs = torch.stack([stream[s:s + steps] for s in starts.tolist()])
    targets = stream[starts + steps]
    return inputs, torch.full((batch,), steps - 1), targets


# --------------------------------------------------------------------------- small helpers


def _finite(values) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def mean_finite(values) -> float:
    kept = _finite(values)
    return sum(kept) / len(kept) if kept else math.nan


def max_finite(values) -> float:
    kept = _finite(values)
    return max(kept) if kept else math.nan
