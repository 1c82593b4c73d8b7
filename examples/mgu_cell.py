"""A custom recurrent cell, registered from outside the suite: the Minimal Gated Unit (Zhou et al. 2016).

Run it against the zoo:  python run_suite.py --plugin examples.mgu_cell --archs mgu,lstm,gru
"""
import torch
from torch import nn

from suite.models.zoo import register_cell


class MGUCell(nn.Module):
    """One gate f decides both what to forget and what to write: h = (1 − f)·h + f·tanh(W[f·h, x])."""

    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.forget = nn.Linear(input_size + hidden, hidden)
        self.candidate = nn.Linear(input_size + hidden, hidden)

    def init_state(self, batch: int, device) -> torch.Tensor:
        return torch.zeros(batch, self.hidden, device=device)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        f = torch.sigmoid(self.forget(torch.cat([h, x], dim=1)))
        candidate = torch.tanh(self.candidate(torch.cat([f * h, x], dim=1)))
        return (1 - f) * h + f * candidate


register_cell("mgu", MGUCell, "minimal gated unit (Zhou et al. 2016), a plugin example")
