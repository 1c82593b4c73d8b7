"""Output layers of language models: the full softmax (a Linear head) or the adaptive softmax.

The adaptive softmax (Grave et al. 2017, torch's nn.AdaptiveLogSoftmaxWithLoss) gives frequent words a
small head and rare words cheaper, narrower clusters. Its log-probabilities are exact over the whole
vocabulary; what it saves is the cost of computing them during training, where only the target's
cluster is needed.
"""
from __future__ import annotations

import torch
from torch import nn

from suite.core.config import ConfigError, ModelConfig


def default_cutoffs(vocab_size: int) -> tuple[int, ...]:
    """Cluster boundaries by frequency rank: a head of the V/16 most frequent ids, then V/16–V/4, then the rest.

    Word vocabularies here are frequency-sorted (suite.data.Vocab, suite.tokenizers), so an id is its rank.
    On WikiText-2 (33,278 words) that is 2,079 / 8,319: the head then holds 77.7 % of the training tokens
    and the first tail another 13.7 %, so most targets never touch the wide rare-word clusters — what makes
    the adaptive softmax cheap (Grave et al. 2017)."""
    return tuple(sorted({c for c in (vocab_size // 16, vocab_size // 4) if 0 < c < vocab_size - 1}))


class AdaptiveHead(nn.Module):
    """torch's adaptive softmax as an output layer.

    Called like a Linear head, it returns exact log-probabilities over the whole vocabulary (normalised,
    so log_softmax leaves them unchanged): every probe and metric reads the same distribution as with a
    full softmax. Training and validation call `target_log_prob`, which computes only the clusters the
    targets fall in — the part that makes it fast.
    """

    def __init__(self, width: int, vocab_size: int, cutoffs: tuple[int, ...]):
        super().__init__()
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(width, vocab_size, list(cutoffs), div_value=4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _full_precision(x):
            return self.softmax.log_prob(self._own_dtype(x).reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)

    def target_log_prob(self, x: torch.Tensor, targets: torch.Tensor, ignore_index: int) -> torch.Tensor:
        """log P(target) for each position (0 where target == ignore_index), shape of `targets`."""
        flat, keep = targets.reshape(-1), targets.reshape(-1) != ignore_index
        x = self._own_dtype(x)
        out = torch.zeros(flat.shape, dtype=x.dtype, device=x.device)
        if keep.any():
            with _full_precision(x):
                out[keep] = self.softmax(x.reshape(-1, x.shape[-1])[keep], flat[keep]).output
        return out.reshape(targets.shape)

    def _own_dtype(self, x: torch.Tensor) -> torch.Tensor:
        """Features in the head's dtype: bf16 ones from autocast go up to fp32, a float64 copy stays float64."""
        return x.to(self.softmax.head.weight.dtype)


def _full_precision(x: torch.Tensor):
    """Autocast off: torch's adaptive softmax mixes its fp32 buffers with bf16 cluster outputs and fails
    (index_copy_ dtype mismatch). Its matrices are small — that is the point of it — so fp32 costs little."""
    return torch.autocast(x.device.type, enabled=False)


def output_layer(cfg: ModelConfig, width: int, num_outputs: int, objective: str) -> nn.Module:
    """The head: a Linear layer (logits), or for an adaptive-softmax language model an AdaptiveHead."""
    if cfg.softmax == "adaptive" and objective == "lm":
        cutoffs = cfg.adaptive_cutoffs or default_cutoffs(num_outputs)
        if not cutoffs or max(cutoffs) >= num_outputs - 1:
            raise ConfigError(f"adaptive_cutoffs {list(cutoffs)} do not split a vocabulary of {num_outputs}: "
                              f"need at least one rank in 1..{num_outputs - 2}")
        return AdaptiveHead(width, num_outputs, cutoffs)
    return nn.Linear(width, num_outputs)


def is_adaptive(model: nn.Module) -> bool:
    return isinstance(getattr(model, "head", None), AdaptiveHead)


def log_probabilities(output: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """log P over the vocabulary from a model's output: exact under both softmaxes, in float32."""
    return output.float() if is_adaptive(model) else torch.log_softmax(output.float(), dim=-1)
