"""A small causal Transformer LM (torch's own nn.TransformerEncoder), registered in the zoo as a reference.

It has the zoo's interface, `forward(tokens, state=None, lengths=None) -> (output, None)`, so every
task, the trainer and the probes can use it unchanged. It keeps no state between calls: on a stream
task (truncated BPTT) it sees each `bptt` window on its own, so its context is at most one window,
while a recurrent model carries its state across windows. Mapping of ModelConfig fields:
`layers` → encoder layers, `hidden` → d_model (and embedding width), `dropout` → dropout,
`tie_weights` → embedding/output sharing; `skip` must stay "none" (every block is already residual).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from suite.core.config import ConfigError, ModelConfig
from suite.models.registry import Architecture, register_architecture

POSITIONS = ("sinusoidal", "learned")
MAX_LEARNED_POSITIONS = 512  # longest sequence a learned position table covers


def heads_for(width: int) -> int:
    """Most heads (≤ 8) that divide the width with at least 16 dimensions per head (else 1)."""
    for heads in (8, 4, 2):
        if width % heads == 0 and width // heads >= 16:
            return heads
    return 1


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """Vaswani et al. (2017) position encodings: [length, width], sin on even and cos on odd columns."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : width // 2]
    return table


def causal_mask(length: int, device=None) -> torch.Tensor:
    """Additive attention mask: position t may attend to positions ≤ t only."""
    return torch.full((length, length), float("-inf"), device=device).triu(1)


def check_config(cfg: ModelConfig) -> None:
    """ConfigError for ModelConfig fields a Transformer cannot honour."""
    if cfg.skip != "none":
        raise ConfigError(f"the transformer's blocks are residual already; skip must be 'none' "
                          f"(got '{cfg.skip}')")


class TransformerLM(nn.Module):
    """Embedding + positions → causal pre-LayerNorm encoder stack → head for the objective."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, objective: str, num_outputs: int,
                 positions: str = "sinusoidal"):
        super().__init__()
        if positions not in POSITIONS:
            raise ConfigError(f"unknown positions '{positions}'; valid: {', '.join(POSITIONS)}")
        check_config(cfg)
        self.cfg, self.objective, self.positions = cfg, objective, positions
        width = cfg.hidden
        self.embedding = nn.Embedding(vocab_size, cfg.embed_size)
        # An embedding narrower or wider than the model is projected, like the recurrent input layer.
        self.project = nn.Identity() if cfg.embed_size == width else nn.Linear(cfg.embed_size, width)
        if positions == "learned":
            self.position = nn.Embedding(MAX_LEARNED_POSITIONS, width)
        layer = nn.TransformerEncoderLayer(width, heads_for(width), 4 * width, cfg.dropout,
                                           batch_first=True, norm_first=True)
        # Pre-LN blocks leave the residual stream un-normalised: one final LayerNorm before the head.
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, norm=nn.LayerNorm(width),
                                             enable_nested_tensor=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, num_outputs)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if cfg.tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        """tokens [B, T] → (logits [B, T, V] or [B, C] for 'classify', None: there is no state).

        `state` is accepted and ignored. Padding needs no key mask: it is always on the right, and
        the causal mask already stops every real position from attending to later (padded) ones.
        """
        steps = tokens.shape[1]
        x = self.project(self.embedding(tokens) * math.sqrt(self.cfg.embed_size))
        x = self.drop(x + self._positions(steps, x.device))
        x = self.encoder(x, mask=causal_mask(steps, x.device), is_causal=True)
        return self._head(x, lengths), None

    def _positions(self, steps: int, device) -> torch.Tensor:
        if self.positions == "sinusoidal":
            return sinusoidal_positions(steps, self.cfg.hidden).to(device)
        if steps > MAX_LEARNED_POSITIONS:
            raise ConfigError(f"sequence of {steps} tokens is longer than the learned position table "
                              f"({MAX_LEARNED_POSITIONS}); use transformer (sinusoidal) instead")
        return self.position(torch.arange(steps, device=device))

    def _head(self, x, lengths):
        if self.objective != "classify":
            return self.head(x)
        # Causal attention: the last real token is the only one that has seen the whole sentence.
        last = (torch.full((x.shape[0],), x.shape[1], device=x.device) if lengths is None
                else lengths.to(x.device)) - 1
        return self.head(x[torch.arange(x.shape[0], device=x.device), last])


def _builder(positions: str):
    def build(cfg: ModelConfig, vocab_size: int, objective: str, num_outputs: int) -> nn.Module:
        return TransformerLM(cfg, vocab_size, objective, num_outputs, positions)
    return build


register_architecture(Architecture(
    name="transformer", description="causal Transformer reference (pre-LN, sinusoidal positions)",
    build=_builder("sinusoidal"), recurrent=False, tunable_init=False, check=check_config))
register_architecture(Architecture(
    name="transformer_learned",
    description=f"causal Transformer reference with learned positions (≤ {MAX_LEARNED_POSITIONS} tokens)",
    build=_builder("learned"), recurrent=False, tunable_init=False, check=check_config))
