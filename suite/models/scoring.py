"""Scoring continuations under a language model: the one function every probe uses."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from suite.data.batches import IGNORE, Example, collate
from suite.models.softmax import log_probabilities


@torch.no_grad()
def continuation_logprobs(model: nn.Module, prefixes: Sequence[Sequence[int]],
                          continuations: Sequence[Sequence[int]], device: str = "cpu",
                          batch_size: int = 128) -> list[float]:
    """log P(continuation | prefix), summed over the continuation's tokens, for each pair.

    Each pair is scored from a fresh hidden state, so items never leak into each other; a
    multi-piece word (subword tokenizers) sums the log-probabilities of its pieces.
    """
    if len(prefixes) != len(continuations):
        raise ValueError("need one continuation per prefix")
    was_training = model.training
    model.eval()
    examples = []
    for prefix, cont in zip(prefixes, continuations):
        if not prefix or not cont:
            raise ValueError("prefix and continuation must be non-empty")
        seq = list(prefix) + list(cont)
        targets = [IGNORE] * (len(prefix) - 1) + list(cont)
        examples.append(Example(seq[:-1], targets))
    # Batch similar lengths together: less padding, same results (causal model, right padding).
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].tokens))
    scores = [0.0] * len(examples)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate([examples[i] for i in idx]).to(device)
        output, _ = model(batch.inputs)
        logp = log_probabilities(output, model)
        mask = batch.targets != IGNORE
        picked = logp.gather(2, batch.targets.clamp_min(0).unsqueeze(-1)).squeeze(-1) * mask
        for row, i in enumerate(idx):
            scores[i] = float(picked[row].sum())
    model.train(was_training)
    return scores


@torch.no_grad()
def next_token_logprobs(model: nn.Module, prefixes: Sequence[Sequence[int]], device: str = "cpu",
                        batch_size: int = 128) -> torch.Tensor:
    """log P(next token | prefix) over the whole vocabulary: [N, V], each prefix from a fresh state."""
    was_training = model.training
    model.eval()
    rows = []
    for start in range(0, len(prefixes), batch_size):
        chunk = prefixes[start:start + batch_size]
        batch = collate([Example(list(p), [IGNORE] * len(p)) for p in chunk]).to(device)
        output, _ = model(batch.inputs)
        last = batch.lengths.to(output.device) - 1
        rows.append(log_probabilities(output[torch.arange(len(chunk)), last], model).cpu())
    model.train(was_training)
    return torch.cat(rows)
