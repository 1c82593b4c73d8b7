"""The model zoo: embedding → stack of recurrent layers → output head, registered by name.

Training always runs torch's fused nn.RNN / nn.LSTM / nn.GRU. `step_by_step` recomputes the same
network one timestep at a time from the *same parameters*; it exists so that per-timestep
quantities (e.g. ∂J⁽ⁱ⁾/∂h⁽ʲ⁾) can be measured, and is tested to match the fused path.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from suite.core.config import ConfigError, ModelConfig, check_fields
from suite.core.families import BUILTIN_RECURRENT
from suite.models.registry import ARCHITECTURES, Architecture, register_architecture
from suite.models.softmax import output_layer

OBJECTIVES = ("lm", "classify", "tag")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# --------------------------------------------------------------------------- recurrent layers


class FusedLayer(nn.Module):
    """One layer of a fused torch RNN, with a step-by-step path over the same weights."""

    def __init__(self, kind: str, input_size: int, hidden: int, bidirectional: bool):
        super().__init__()
        self.kind, self.hidden, self.bidirectional = kind, hidden, bidirectional
        if kind == "lstm":
            self.rnn = nn.LSTM(input_size, hidden, batch_first=True, bidirectional=bidirectional)
        elif kind == "gru":
            self.rnn = nn.GRU(input_size, hidden, batch_first=True, bidirectional=bidirectional)
        else:
            act = kind.split("_")[1]
            self.rnn = nn.RNN(input_size, hidden, nonlinearity=act, batch_first=True,
                              bidirectional=bidirectional)

    @property
    def has_cell_state(self) -> bool:
        return self.kind == "lstm"

    def recurrent_weights(self) -> list[torch.Tensor]:
        """W_h of each direction (for LSTM/GRU the stacked gate blocks)."""
        suffixes = ["", "_reverse"] if self.bidirectional else [""]
        return [getattr(self.rnn, f"weight_hh_l0{s}") for s in suffixes]

    def forward(self, x, state=None, lengths=None):
        if lengths is not None and self.bidirectional:
            # The backward direction must start at each sequence's own last token.
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            y, state = self.rnn(packed, state)
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
            return y, state
        return self.rnn(x, state)

    def step_by_step(self, x, state=None, probe_h=None, probe_c=None):
        """Same computation as forward, one timestep at a time.

        probe_h / probe_c ([T, B, H], forward direction) are added to h⁽ᵗ⁾ / c⁽ᵗ⁾ as they are
        produced; with zero-valued probes, ∂J/∂probe[t] = ∂J/∂h⁽ᵗ⁾.
        Returns (outputs [B, T, D], final state, {"h": [B, T, H], "c": [B, T, H] for LSTM}).
        """
        directions = [("", False)] + ([("_reverse", True)] if self.bidirectional else [])
        outputs, finals, trace = [], [], {}
        for d, (suffix, reverse) in enumerate(directions):
            s0 = None if state is None else _direction_state(state, d)
            probes = (probe_h, probe_c) if d == 0 else (None, None)
            hs, cs, final = self._run_direction(x, s0, suffix, reverse, *probes)
            outputs.append(hs)
            finals.append(final)
            if d == 0:
                trace["h"] = hs
                if cs is not None:
                    trace["c"] = cs
        y = torch.cat(outputs, dim=2)
        return y, _stack_direction_states(finals, self.has_cell_state), trace

    def _run_direction(self, x, state, suffix, reverse, probe_h, probe_c):
        w_ih, w_hh, b_ih, b_hh = (getattr(self.rnn, f"{n}_l0{suffix}")
                                  for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        batch, steps, _ = x.shape
        zeros = x.new_zeros(batch, self.hidden)
        h, c = (zeros, zeros) if state is None else (state if self.has_cell_state else (state, None))
        x_proj = torch.nn.functional.linear(x, w_ih, b_ih)  # all input projections in one matmul
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        hs, cs = [None] * steps, [None] * steps
        for t in order:
            h_proj = torch.nn.functional.linear(h, w_hh, b_hh)
            h, c = self._cell(x_proj[:, t], h_proj, h, c)
            if probe_c is not None and c is not None:
                c = c + probe_c[t]
            if probe_h is not None:
                h = h + probe_h[t]
            hs[t], cs[t] = h, c
        final = (h, c) if self.has_cell_state else h
        return torch.stack(hs, 1), (torch.stack(cs, 1) if self.has_cell_state else None), final

    def _cell(self, xp, hp, h, c):
        if self.kind == "lstm":
            i, f, g, o = (xp + hp).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        if self.kind == "gru":
            x_r, x_z, x_n = xp.chunk(3, 1)
            h_r, h_z, h_n = hp.chunk(3, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            return (1 - z) * n + z * h, None
        pre = xp + hp
        return (torch.tanh(pre) if self.kind == "rnn_tanh" else torch.relu(pre)), None


def _direction_state(state, d):
    if isinstance(state, tuple):
        return state[0][d], state[1][d]
    return state[d]


def _stack_direction_states(finals, has_cell):
    if has_cell:
        return torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals])
    return torch.stack(finals)


class CellLayer(nn.Module):
    """A user-supplied cell run by a Python loop over time (no fused kernel).

    The cell's contract: `cell(x_t [B, D], state) -> state` where state is h [B, H] or a tuple
    whose first element is h; `cell.init_state(batch, device)` gives the initial state.
    """

    has_cell_state = False
    bidirectional = False

    def __init__(self, cell: nn.Module, hidden: int):
        super().__init__()
        self.cell, self.hidden = cell, hidden

    def recurrent_weights(self) -> list[torch.Tensor]:
        return []

    def forward(self, x, state=None, lengths=None):
        y, state, _ = self.step_by_step(x, state)
        return y, state

    def step_by_step(self, x, state=None, probe_h=None, probe_c=None):
        state = self.cell.init_state(x.shape[0], x.device) if state is None else state
        hs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            if probe_h is not None:
                state = _add_to_h(state, probe_h[t])
            hs.append(state[0] if isinstance(state, tuple) else state)
        y = torch.stack(hs, 1)
        return y, state, {"h": y}


def _add_to_h(state, delta):
    if isinstance(state, tuple):
        return (state[0] + delta,) + tuple(state[1:])
    return state + delta


# --------------------------------------------------------------------------- the network


class RecurrentModel(nn.Module):
    """Embedding → stacked recurrent layers (optional residual/highway skips) → head for the objective."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, objective: str, num_outputs: int,
                 make_layer: Callable[[int, int, bool], nn.Module]):
        super().__init__()
        self.cfg, self.objective = cfg, objective
        width = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.embedding = nn.Embedding(vocab_size, cfg.embed_size)
        self.layers = nn.ModuleList(
            make_layer(cfg.embed_size if i == 0 else width, cfg.hidden, cfg.bidirectional)
            for i in range(cfg.layers))
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.skip == "highway":  # one transform gate per layer above the first
            self.gates = nn.ModuleList(nn.Linear(width, width) for _ in range(cfg.layers - 1))
        self.head = output_layer(cfg, width, num_outputs, objective)
        if cfg.tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, tokens, state=None, lengths=None):
        """tokens [B, T] → (logits [B, T, V] or [B, C] for 'classify', new state per layer).

        Under the adaptive softmax the [B, T, V] output is log-probabilities (see AdaptiveHead)."""
        x, new_state = self.features(tokens, state, lengths)
        return self._head(x, lengths), new_state

    def features(self, tokens, state=None, lengths=None):
        """tokens [B, T] → (top-layer outputs [B, T, D] that the head reads, new state per layer)."""
        x = self.drop(self.embedding(tokens))
        new_state = []
        for i, layer in enumerate(self.layers):
            y, s = layer(x, None if state is None else state[i], lengths)
            x = self._combine(i, x, y)
            new_state.append(s)
        return x, new_state

    def step_by_step(self, tokens, state=None, probes=None):
        """The forward pass one timestep at a time, same parameters.

        probes: optional {"h": [L, T, B, H], "c": [L, T, B, H]} added to each layer's states.
        Returns (logits, state, trace) with trace[layer] = {"h": [B, T, H], ("c": ...)}.
        """
        probes = probes or {}
        x = self.drop(self.embedding(tokens))
        new_state, trace = [], []
        for i, layer in enumerate(self.layers):
            ph = probes["h"][i] if "h" in probes else None
            pc = probes["c"][i] if "c" in probes else None
            y, s, tr = layer.step_by_step(x, None if state is None else state[i], ph, pc)
            x = self._combine(i, x, y)
            new_state.append(s)
            trace.append(tr)
        return self._head(x, None), new_state, trace

    def _combine(self, i, x, y):
        if i > 0 and self.cfg.skip == "residual":
            y = y + x  # identity skip: gradient reaches lower layers undiminished
        elif i > 0 and self.cfg.skip == "highway":
            gate = torch.sigmoid(self.gates[i - 1](x))  # Srivastava et al. 2015: learned carry
            y = gate * y + (1 - gate) * x
        return self.drop(y)

    def _head(self, x, lengths):
        if self.objective != "classify":
            return self.head(x)
        last = (torch.full((x.shape[0],), x.shape[1], device=x.device) if lengths is None
                else lengths.to(x.device)) - 1
        rows = torch.arange(x.shape[0], device=x.device)
        pooled = x[rows, last]
        if self.cfg.bidirectional:
            # The backward direction has read the whole sentence at position 0.
            h = self.cfg.hidden
            pooled = torch.cat([pooled[:, :h], x[:, 0, h:]], dim=1)
        return self.head(pooled)

    def recurrent_weights(self) -> list[list[torch.Tensor]]:
        return [layer.recurrent_weights() for layer in self.layers]


# --------------------------------------------------------------------------- initialisation


def initialise(model: RecurrentModel, cfg: ModelConfig) -> None:
    """Apply the init scheme, the spectral-radius rescaling and the LSTM forget-gate bias."""
    with torch.no_grad():
        for layer in model.layers:
            if not isinstance(layer, FusedLayer):
                continue
            gates = GATES[layer.kind]
            for name, p in layer.rnn.named_parameters():
                if cfg.init != "default":
                    _init_param(name, p, cfg.init, gates)
                if cfg.spectral_radius is not None and name.startswith("weight_hh"):
                    for block in p.chunk(gates, 0):
                        block.mul_(cfg.spectral_radius / spectral_radius(block).clamp_min(1e-12))
                if cfg.forget_bias is not None and layer.kind == "lstm" and name.startswith("bias"):
                    h = layer.hidden
                    p[h:2 * h] = cfg.forget_bias if name.startswith("bias_ih") else 0.0


def _init_param(name, p, scheme, gates):
    if name.startswith("bias"):
        nn.init.zeros_(p)
    elif name.startswith("weight_ih"):
        if scheme == "identity":
            nn.init.normal_(p, std=0.001)  # IRNN (Le et al. 2015): tiny input weights
        else:
            for block in p.chunk(gates, 0):
                nn.init.xavier_uniform_(block)
    else:
        for block in p.chunk(gates, 0):
            if scheme == "identity":
                block.copy_(torch.eye(block.shape[0]))
            else:
                nn.init.orthogonal_(block)


def spectral_radius(w: torch.Tensor) -> torch.Tensor:
    """Largest |eigenvalue| of a square matrix."""
    return torch.linalg.eigvals(w.detach().double()).abs().max().to(w.dtype)


# --------------------------------------------------------------------------- registry


def recurrent_architecture(name: str, description: str,
                           make_layer: Callable[[int, int, bool], nn.Module], **flags) -> Architecture:
    def build(cfg, vocab_size, objective, num_outputs):
        model = RecurrentModel(cfg, vocab_size, objective, num_outputs, make_layer)
        initialise(model, cfg)
        return model
    return register_architecture(Architecture(name, description, build, **flags))


def register_cell(name: str, make_cell: Callable[[int, int], nn.Module], description: str) -> Architecture:
    """Register a custom recurrent cell: make_cell(input_size, hidden) -> cell (see CellLayer)."""
    def make_layer(input_size, hidden, bidirectional):
        return CellLayer(make_cell(input_size, hidden), hidden)
    return recurrent_architecture(name, description, make_layer, fused=False, tunable_init=False)


for _kind, _text in [
    ("rnn_tanh", "vanilla RNN, h = tanh(W_h h + W_x x + b)"),
    ("rnn_relu", "vanilla RNN with ReLU activation"),
    ("lstm", "long short-term memory (Hochreiter & Schmidhuber 1997)"),
    ("gru", "gated recurrent unit (Cho et al. 2014)"),
]:
    recurrent_architecture(_kind, _text, lambda i, h, b, k=_kind: FusedLayer(k, i, h, b))
assert tuple(GATES) == BUILTIN_RECURRENT, "suite/core/families.py names the zoo's built-in cells"


def validate_model_config(cfg: ModelConfig, objective: str) -> None:
    """Raise ConfigError for a model that cannot be built: an unregistered architecture or objective, a field
    outside its declared range (ModelConfig), or a combination of fields or of a field and the architecture."""
    if cfg.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture '{cfg.arch}'; valid: {', '.join(sorted(ARCHITECTURES))}")
    arch = ARCHITECTURES[cfg.arch]
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective '{objective}'; valid: {', '.join(OBJECTIVES)}")
    check_fields(cfg, "model")  # each field's own range or choices, as declared in ModelConfig
    if cfg.sized_as and cfg.sized_as not in ARCHITECTURES:
        raise ConfigError(f"model sized_as must be an architecture (or empty); got '{cfg.sized_as}'; "
                          f"valid: {', '.join(sorted(ARCHITECTURES))}")
    if cfg.bidirectional and objective == "lm":
        raise ConfigError("a bidirectional language model is impossible: its backward direction sees "
                          "the future tokens it must predict; use bidirectional only with classify/tag tasks")
    if cfg.bidirectional and not arch.recurrent:
        raise ConfigError(f"architecture '{cfg.arch}' has no bidirectional variant")
    if cfg.tie_weights and (objective != "lm" or cfg.embed_size != cfg.hidden):
        raise ConfigError("tie_weights needs a language model with embed == hidden "
                          f"(got objective={objective}, embed={cfg.embed_size}, hidden={cfg.hidden})")
    if cfg.softmax == "adaptive" and (objective != "lm" or cfg.tie_weights or not arch.recurrent):
        raise ConfigError("the adaptive softmax needs a recurrent language model with untied output weights "
                          f"(got objective={objective}, arch={cfg.arch}, tie_weights={cfg.tie_weights})")
    if list(cfg.adaptive_cutoffs) != sorted(set(cfg.adaptive_cutoffs)):
        raise ConfigError("model adaptive_cutoffs must be increasing positive ranks; "
                          f"got {list(cfg.adaptive_cutoffs)}")
    custom = cfg.init != "default" or cfg.spectral_radius is not None or cfg.forget_bias is not None
    if custom and not arch.tunable_init:
        raise ConfigError(f"architecture '{cfg.arch}' does not support init/spectral_radius/forget_bias")
    if arch.check is not None:
        arch.check(cfg)


def build_model(cfg: ModelConfig, vocab_size: int, objective: str = "lm", num_outputs: int | None = None) -> nn.Module:
    """Build a registered architecture for an objective ('lm' predicts the vocabulary)."""
    validate_model_config(cfg, objective)
    outputs = vocab_size if objective == "lm" else num_outputs
    if not outputs:
        raise ConfigError(f"objective '{objective}' needs num_outputs")
    return ARCHITECTURES[cfg.arch].build(cfg, vocab_size, objective, outputs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights are counted once by parameters()

