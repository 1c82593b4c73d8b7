"""Schuster & Paliwal's baseline for a bidirectional network: a forward network whose output is delayed.

A forward tagger with delay k reads k more words before it emits the tag of word t: its input is the
sentence followed by k end-of-sentence markers, its output at step t + k is scored against the tag of word
t (the first k outputs are not scored). It sees the word that decides an intensifier's tag exactly when that
word lies at most k tokens on, but it must then hold the last k words' tags until it emits them — the trade
Schuster & Paliwal (1997, §2–§4) describe and the bidirectional network avoids. It is parameter-matched to
its bidirectional twin by its hidden size (both embed words in the same size, so the comparison is of what
the recurrent part does with the same number of weights).
"""
from __future__ import annotations

import dataclasses

import torch

from suite.core.config import ModelConfig
from suite.data.batches import IGNORE, Example
from suite.models.zoo import build_model
from suite.run.preflight import parameter_count

COUNTING_VOCAB = 50  # the embedding has the same size in both twins, so its row count does not matter


def delayed_example(ids: list[int], tags: list[int], delay: int, filler: int) -> Example:
    """The words then `delay` fillers in; no target for the first `delay` outputs, then the tags in order."""
    return Example(ids + [filler] * delay, [IGNORE] * delay + tags)


def undelay(predicted: list[int], delay: int, words: int) -> list[int]:
    """The outputs that answer for the sentence's words (the first `delay` outputs answer for none)."""
    return predicted[delay:delay + words]


def parameters(model: ModelConfig, num_outputs: int) -> int:
    """Weights of a tagger with this configuration, counted on torch's meta device (nothing is allocated, so
    a sweep with an absurd --hidden reaches the preflight check instead of running out of memory here)."""
    return parameter_count(model, "tag", COUNTING_VOCAB, num_outputs)


def reads_both_ways(model: ModelConfig) -> bool:
    """Whether the architecture builds a real bidirectional layer: a cell registered with `register_cell`
    reads one way only (its "bidirectional" model would not even run), so it gets no twin here."""
    shape = dataclasses.replace(model, hidden=2, embed=2, bidirectional=True, init="default", spectral_radius=None,
                                forget_bias=None)
    with torch.device("meta"):
        layers = list(getattr(build_model(shape, COUNTING_VOCAB, "tag", 2), "layers", []))
    return bool(layers) and all(getattr(layer, "bidirectional", False) for layer in layers)


def matched_hidden(model: ModelConfig, num_outputs: int) -> int:
    """The hidden size of a forward tagger whose weight count is closest to the bidirectional twin of `model`
    (the embedding size fixed at the twin's). Counts grow with the hidden size, so bisect."""
    fixed = dataclasses.replace(model, embed=model.embed_size)
    target = parameters(dataclasses.replace(fixed, bidirectional=True), num_outputs)

    def count(hidden: int) -> int:
        return parameters(dataclasses.replace(fixed, hidden=hidden, bidirectional=False), num_outputs)

    low, high = model.hidden, 4 * model.hidden
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) <= target else (low, middle)
    return min((low, high), key=lambda h: abs(count(h) - target))
