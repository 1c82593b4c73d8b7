"""The gradient norm of every optimiser step, as the trainer saw it before clipping it."""
from __future__ import annotations

import math

import torch


class StepNorms:
    """Global gradient norm ‖g‖ of each backward pass, read from per-parameter hooks.

    A hook fires once a parameter's gradient is complete for the step, before the trainer clips it; the
    step's norm is complete when every parameter has reported (the squares are summed in float64)."""

    def __init__(self, model: torch.nn.Module):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.norms: list[float] = []
        self._square, self._reported = 0.0, 0
        self.handles = [p.register_post_accumulate_grad_hook(self._add) for p in self.params]

    def _add(self, param: torch.Tensor) -> None:
        self._square += float(param.grad.detach().double().pow(2).sum())
        self._reported += 1
        if self._reported == len(self.params):
            self.norms.append(math.sqrt(self._square))
            self._square, self._reported = 0.0, 0

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def clip_scales(norms: list[float], threshold: float) -> list[float]:
    """The factor Algorithm 1 multiplied each step's gradient by: threshold/‖g‖ when ‖g‖ ≥ threshold, else 1."""
    return [min(1.0, threshold / g) if g > 0 else 1.0 for g in norms if math.isfinite(g)]
