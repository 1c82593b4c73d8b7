"""Gradient flow through time: ‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ for every j ≤ i in one backward pass, the spectral bound
of Pascanu, Mikolov & Bengio (2013) for vanilla RNNs, and exponential-decay fits of the resulting curves.

The measurement runs the model's `step_by_step` path with a zero-valued probe added to every layer's
h⁽ᵗ⁾ (and LSTM c⁽ᵗ⁾): one forward and one backward pass give ∂J/∂probe[t] = ∂J/∂h⁽ᵗ⁾ for all t at once.
J is a sum of per-example losses, and examples never interact, so the gradient of the summed loss with
respect to example b's state is that example's own ∂J_b/∂h_b — per-example norms come for free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

VANILLA_ACTIVATIONS = {"rnn_tanh": "tanh", "rnn_relu": "relu"}
BOUND_RTOL = 1e-6  # relative slack for float rounding when comparing a measured norm with its bound
SATURATION = 0.1  # σ′ below this counts as a saturated unit (tanh: |h| > 0.949)


@dataclass
class GradientProfile:
    """Per-example norms of ∂J⁽ⁱ⁾/∂state⁽ⁱ⁻ᵈ⁾ against distance d, per state kind and layer.

    per_example[kind][layer] is [B, D+1] (NaN where an example's loss position is closer than d
    to the sequence start); kind is "h" or, for LSTM layers, "c".
    """

    per_example: dict[str, list[torch.Tensor]]
    positions: torch.Tensor  # [B] loss position i of each example
    trace: list[dict[str, torch.Tensor]] = field(repr=False, default_factory=list)  # states, [B, T, H]
    output: torch.Tensor | None = field(repr=False, default=None)  # the step-by-step path's logits

    def curve(self, kind: str = "h", layer: int = -1) -> list[float]:
        """Batch-mean norm at each distance d = 0..D (examples without that distance are left out)."""
        return nanmean_over_examples(self.per_example[kind][layer]).tolist()

    @property
    def kinds(self) -> list[str]:
        return list(self.per_example)


def nanmean_over_examples(x: torch.Tensor) -> torch.Tensor:
    """Column means of [B, D+1] ignoring NaN (examples without that distance)."""
    valid = ~torch.isnan(x)
    total = torch.where(valid, x, torch.zeros_like(x)).sum(0)
    return total / valid.sum(0).clamp_min(1)


def position_loss(output: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """J = Σ_b CE(output of example b at its position i_b, target_b); [B, C] outputs use the last step."""
    if output.dim() == 2:
        return F.cross_entropy(output, targets, reduction="sum")
    rows = torch.arange(output.shape[0], device=output.device)
    return F.cross_entropy(output[rows, positions], targets, reduction="sum")


def measure(model: nn.Module, inputs: torch.Tensor, positions: torch.Tensor,
            targets: torch.Tensor) -> GradientProfile:
    """‖∂J_b/∂h_b⁽ⁱ⁻ᵈ⁾‖ (and c for LSTM) for all d, every layer, in one forward and one backward pass."""
    batch, steps = inputs.shape
    dtype = next(model.parameters()).dtype
    device = inputs.device
    layers = list(model.layers)
    widths = {layer.hidden for layer in layers}
    if len(widths) != 1:
        raise ValueError("all layers must have the same hidden size to share one probe tensor")
    hidden = widths.pop()
    probes = {"h": torch.zeros(len(layers), steps, batch, hidden, dtype=dtype, device=device,
                               requires_grad=True)}
    if any(getattr(layer, "has_cell_state", False) for layer in layers):
        probes["c"] = torch.zeros_like(probes["h"], requires_grad=True)
    output, _, trace = model.step_by_step(inputs, probes=probes)
    loss = position_loss(output, positions, targets)
    grads = torch.autograd.grad(loss, list(probes.values()), allow_unused=True)
    per_example: dict[str, list[torch.Tensor]] = {}
    for kind, grad in zip(probes, grads):
        if grad is None:
            continue
        kept = [i for i, layer in enumerate(layers) if kind == "h" or getattr(layer, "has_cell_state", False)]
        norms = grad.detach().norm(dim=-1).transpose(1, 2)  # [L, B, T]
        per_example[kind] = [by_distance(norms[i], positions) for i in kept]
    trace = [{k: v.detach() for k, v in layer_trace.items()} for layer_trace in trace]
    return GradientProfile(per_example, positions.detach().cpu(), trace, output.detach())


def by_distance(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Re-index [B, T] per-timestep values to [B, D+1] by distance d = i_b − t (NaN past the start)."""
    batch = values.shape[0]
    span = int(positions.max()) + 1
    d = torch.arange(span, device=values.device)
    t = positions.to(values.device).unsqueeze(1) - d.unsqueeze(0)  # [B, D+1]
    picked = values.gather(1, t.clamp_min(0))
    return torch.where(t >= 0, picked, torch.full_like(picked, math.nan)).reshape(batch, span).cpu()


# --------------------------------------------------------------------------- vanilla-RNN bound


def activation_derivative(h: torch.Tensor, activation: str) -> torch.Tensor:
    """σ′(a⁽ᵗ⁾) recovered from h⁽ᵗ⁾ = σ(a⁽ᵗ⁾): 1 − h² for tanh, 1[h > 0] for ReLU."""
    if activation == "tanh":
        return 1 - h * h
    if activation == "relu":
        return (h > 0).to(h.dtype)
    if activation == "identity":
        return torch.ones_like(h)
    raise ValueError(f"unknown activation '{activation}'; valid: tanh, relu, identity")


def saturated_fraction(h: torch.Tensor, activation: str, threshold: float = SATURATION) -> float:
    """Share of units whose derivative σ′ is below `threshold` (tanh: |h| > 0.949 for 0.1): units that
    pass almost no gradient, which is how a tanh network at ρ > 1 can still see its gradients shrink."""
    return float((activation_derivative(h, activation) < threshold).double().mean())


def spectral_norm(w: torch.Tensor) -> float:
    """‖W‖₂, the largest singular value."""
    return float(torch.linalg.matrix_norm(w.detach().double(), ord=2))


def spectral_radius(w: torch.Tensor) -> float:
    """ρ(W), the largest |eigenvalue|."""
    return float(torch.linalg.eigvals(w.detach().double()).abs().max())


def spectral_bound(profile: GradientProfile, w_h: torch.Tensor, activation: str, layer: int = -1) -> torch.Tensor:
    """‖∂J⁽ⁱ⁾/∂h⁽ⁱ⁾‖ · ‖W_h‖^(i−j) · Π_{j<t≤i} ‖diag σ′(a⁽ᵗ⁾)‖ per example and distance: [B, D+1].

    Valid for the top layer of a stack (its h⁽ʲ⁾ reaches J⁽ⁱ⁾ only through h⁽ʲ⁺¹⁾); evaluated in
    log space so that ‖W_h‖^200 cannot overflow.
    """
    h = profile.trace[layer]["h"].double()  # [B, T, H]
    log_deriv = activation_derivative(h, activation).abs().amax(-1).log().cpu()  # log ‖diag σ′‖₂, [B, T]
    measured = profile.per_example["h"][layer].double()
    batch, span = measured.shape
    log_w = math.log(spectral_norm(w_h))
    # Σ_{t=i−d+1..i} log‖diag σ′(a⁽ᵗ⁾)‖ for each d, from the distance-indexed derivatives (d = 0 is t = i).
    by_d = by_distance(log_deriv, profile.positions)  # [B, D+1], entry d holds t = i − d
    shifted = torch.cat([torch.zeros(batch, 1, dtype=by_d.dtype), by_d[:, :-1]], dim=1)
    log_product = torch.where(torch.isnan(shifted), torch.zeros_like(shifted), shifted).cumsum(1)
    distances = torch.arange(span, dtype=torch.float64)
    log_bound = measured[:, :1].log() + distances * log_w + log_product
    return torch.where(torch.isnan(measured), measured, log_bound.exp())


def bound_violations(measured: torch.Tensor, bound: torch.Tensor, rtol: float = BOUND_RTOL) -> tuple[int, int]:
    """(violations, comparisons): entries where the measured norm exceeds its bound beyond rounding."""
    valid = ~torch.isnan(measured)
    over = measured.double() > bound.double() * (1 + rtol)
    return int((over & valid).sum()), int(valid.sum())


# --------------------------------------------------------------------------- decay fits


@dataclass(frozen=True)
class DecayFit:
    """Least-squares fit of log‖∂J/∂h⁽ⁱ⁻ᵈ⁾‖ = a + slope · d."""

    slope: float  # per-step change of the log-norm (< 0 decays, > 0 grows)
    intercept: float
    points: int  # distances with a positive, finite norm that entered the fit

    @property
    def ratio_per_step(self) -> float:
        return math.exp(self.slope)

    @property
    def half_life(self) -> float | None:
        """Steps for the norm to halve; None when it does not decay."""
        return math.log(2) / -self.slope if self.slope < 0 else None

    @property
    def doubling_steps(self) -> float | None:
        """Steps for the norm to double; None when it does not grow."""
        return math.log(2) / self.slope if self.slope > 0 else None


def fit_decay(norms: Sequence[float], start: int = 0) -> DecayFit:
    """Fit the per-step decay rate of a norm-against-distance curve (index = distance)."""
    points = [(d, math.log(v)) for d, v in enumerate(norms)
              if d >= start and v is not None and math.isfinite(v) and v > 0]
    if len(points) < 2:
        return DecayFit(math.nan, math.nan, len(points))
    n = len(points)
    mean_d = sum(d for d, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((d - mean_d) ** 2 for d, _ in points)
    slope = sum((d - mean_d) * (y - mean_y) for d, y in points) / sxx
    return DecayFit(slope, mean_y - slope * mean_d, n)


def example_slopes(per_example: torch.Tensor, start: int = 0) -> list[float]:
    """One decay slope per example: the items a single-seed bootstrap interval resamples."""
    return [fit_decay(row.tolist(), start).slope for row in per_example]
