"""ff_depth: the depth task's question asked of a feed-forward stack — does the gradient reach the first layer?

The lecture's summary of vanishing gradients: "not just an RNN problem" — a deep feed-forward stack has it
too, and skip connections (He et al. 2016) are the feed-forward fix. The recurrent half of that claim is
measured by the depth task; this task measures the feed-forward half on the same grammar corpus, budget and
gradient meter, with the recurrence taken out.

The model is an n-gram language model after Bengio et al. (2003): the embeddings of the previous CONTEXT
tokens, concatenated, pass through a stack of fully connected layers to a softmax. The layers use the
nonlinearity of the vanilla RNN the sweep names (rnn_tanh → tanh, rnn_relu → relu) and torch's default
initialisation, which is what a user who stacks `nn.Linear` layers gets. A run's record keeps that
architecture name in its config (it picks the nonlinearity); the report names the runs "ff-tanh", "ff-relu".
"""
from __future__ import annotations

import math

import torch
from torch import nn

from suite.core.config import ModelConfig, RunConfig
from suite.task import TaskData, register_task

from .task import Depth, grid

NONLINEARITIES = {"rnn_tanh": torch.tanh, "rnn_relu": torch.relu}
CONTEXT = 4  # tokens the model sees: the grammar's agreement spans are longer, but this task measures gradients
SKIPS = ("none", "residual")  # the claim compares these two; highway is a recurrent-stack question


class FeedForwardLM(nn.Module):
    """tokens [B, T] → logits [B, T, V] from each position's CONTEXT previous tokens, through `layers`
    fully connected layers (layer 0 reads the concatenated embeddings; the rest are width × width)."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, pad_id: int):
        super().__init__()
        self.act, self.skip, self.pad_id = NONLINEARITIES[cfg.arch], cfg.skip, pad_id
        self.embedding = nn.Embedding(vocab_size, cfg.embed_size)
        widths = [CONTEXT * cfg.embed_size] + [cfg.hidden] * cfg.layers
        # `layers` by that name: the depth task's gradient meter reads layers[0] and layers[-1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Linear(cfg.hidden, vocab_size)

    def forward(self, tokens, state=None, lengths=None):
        """The state is the last CONTEXT − 1 tokens of the previous window, so a stream reads on as one text
        (the stream's start is padded)."""
        past = tokens.new_full((tokens.shape[0], CONTEXT - 1), self.pad_id) if state is None else state
        seq = torch.cat([past, tokens], dim=1)
        x = self.embedding(seq.unfold(1, CONTEXT, 1)).flatten(2)  # [B, T, CONTEXT × embed]
        for i, layer in enumerate(self.layers):
            y = self.act(layer(x))
            x = y + x if i > 0 and self.skip == "residual" else y  # layer 0 changes width: no identity path
        return self.head(x), seq[:, -(CONTEXT - 1):]


@register_task
class FeedForwardDepth(Depth):
    """The depth task with the recurrence taken out: its corpus, budget, width, gradient meter and test loss."""
    name = "ff_depth"
    description = ("feed-forward stacks of 1–8 tanh/relu layers, no skips vs residual: the gradient norm "
                   "reaching the first layer (grammar corpus; the recurrent half is the depth task)")

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """A single-layer vanilla RNN of the sweep asks for the depth × skip grid with its nonlinearity; a stack
        named on the command line runs as it is; other cells add nothing (this task has no cell to vary)."""
        if model.arch not in NONLINEARITIES:
            return []
        if model.layers != 1 or model.skip != "none" or model.bidirectional:
            return [{}]
        return [{"model": {"layers": d, "skip": s}}
                for d in grid(size)["depths"] for s in (SKIPS[:1] if d == 1 else SKIPS)]

    def skip_reason(self, cfg: RunConfig) -> str | None:
        if cfg.model.arch not in NONLINEARITIES:
            return (f"ff_depth builds feed-forward stacks with a vanilla RNN's nonlinearity; valid archs: "
                    f"{', '.join(NONLINEARITIES)} (got '{cfg.model.arch}')")
        m = cfg.model
        if m.skip not in SKIPS:
            return f"ff_depth compares skip={' and skip='.join(SKIPS)}; got skip='{m.skip}'"
        recurrent_only = {"bidirectional": m.bidirectional, "init": m.init != "default", "dropout": m.dropout > 0,
                          "spectral_radius": m.spectral_radius is not None, "forget_bias": m.forget_bias is not None,
                          "tie_weights": m.tie_weights, "softmax": m.softmax != "full"}
        given = [name for name, set_ in recurrent_only.items() if set_]
        if given:
            return (f"ff_depth's feed-forward stacks take layers, hidden, embed and skip only; drop "
                    f"{', '.join(given)}")
        return None

    def build(self, cfg: RunConfig, data: TaskData) -> nn.Module:
        return FeedForwardLM(cfg.model, len(data.vocab), data.vocab.pad_id).to(cfg.device)

    def before_training(self, model, data: TaskData, cfg: RunConfig):
        return super().before_training(model, data, cfg), SignalMeter(model)

    def after_training(self, model, data: TaskData, cfg: RunConfig, training, meters) -> dict:
        weights, signal = meters
        signal.remove()
        return {**super().after_training(model, data, cfg, training, weights), **signal.metrics()}


class SignalMeter:
    """Per step, the norm of the gradient arriving at the first and the last layer's output (∂L/∂z, before the
    nonlinearity): the back-propagated signal itself. A layer's weight gradient is this signal times the
    layer's input, so the two can tell different stories — Glorot & Bengio (2010) saw the back-propagated
    gradient shrink toward the input while the weight gradients stayed of one size across layers."""

    def __init__(self, model: FeedForwardLM):
        self.norms: dict[str, list[float]] = {"first": [], "last": []}
        self.handles = [layer.register_forward_hook(self._watch(name))
                        for name, layer in (("first", model.layers[0]), ("last", model.layers[-1]))]

    def _watch(self, name: str):
        def hook(module, inputs, output):
            if output.requires_grad:  # a training step, not an evaluation under no_grad
                output.register_hook(lambda grad: self.norms[name].append(float(grad.norm())))
        return hook

    def metrics(self) -> dict[str, float]:
        logs = [math.log(f / l) for f, l in zip(self.norms["first"], self.norms["last"]) if f > 0 and l > 0]
        return {"first_to_last_signal_ratio": math.exp(sum(logs) / len(logs)) if logs else math.nan}

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
