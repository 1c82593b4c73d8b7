"""How much gradient reaches the bottom of a stack: per-step norms of the first and last layer's gradients."""
from __future__ import annotations

import math

import torch

EARLY_FRACTION = 0.1  # "early" gradient norms: the first 10 % of steps, before the stack adapts


class LayerGradientMeter:
    """Records, at every backward pass, the gradient norm of the first and last layer's parameters."""

    def __init__(self, model: torch.nn.Module):
        self.squares: dict[str, list[list[float]]] = {}
        self.handles = []
        for name, layer in (("first", model.layers[0]), ("last", model.layers[-1])):
            params = [p for p in layer.parameters() if p.requires_grad]
            self.squares[name] = [[] for _ in params]
            for p, store in zip(params, self.squares[name]):
                # Fires once p.grad is complete for the step, before the trainer clips it.
                self.handles.append(p.register_post_accumulate_grad_hook(
                    lambda param, store=store: store.append(float(param.grad.pow(2).sum()))))

    def norms(self, name: str) -> list[float]:
        """Per-step gradient norm of a layer's parameters (all of them together)."""
        return [math.sqrt(sum(step)) for step in zip(*self.squares[name])]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def gradient_metrics(first: list[float], last: list[float]) -> dict[str, float]:
    """Mean first/last-layer norms, the early mean, and the geometric mean of the per-step ratio."""
    if not first:
        return {}
    early = first[:max(1, int(len(first) * EARLY_FRACTION))]
    logs = [math.log(f / l) for f, l in zip(first, last) if f > 0 and l > 0]
    return {"first_layer_grad_norm": sum(first) / len(first),
            "first_layer_grad_norm_early": sum(early) / len(early),
            "last_layer_grad_norm": sum(last) / len(last),
            "first_to_last_grad_ratio": math.exp(sum(logs) / len(logs)) if logs else math.nan}
