"""The generated-grammar corpus several tasks train on (grammar_lm, depth, gradients): its options, its
train/valid/test token streams from disjoint seeds, and the add-one unigram baseline every LM must beat."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch

from suite.core.config import option
from suite.core.options import TaskOptions
from suite.data.batches import Vocab, sentence_stream
from suite.data.grammar import generate

SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2}


@dataclass(frozen=True)
class GrammarOptions(TaskOptions):
    train_sentences: int = option(20000, low=1, help="sentences generated for training")
    eval_sentences: int = option(2000, low=1, help="sentences generated for validation and for test")
    max_modifiers: int = option(3, low=0, high=8, help="most PPs / relative clauses on one noun")


def grammar_streams(opts: GrammarOptions, seed: int) -> tuple[Vocab, dict[str, torch.Tensor]]:
    """Train/valid/test token streams from the grammar (disjoint seeds), vocabulary from train."""
    splits = {}
    for split, offset in SPLIT_SEEDS.items():
        n = opts.train_sentences if split == "train" else opts.eval_sentences
        splits[split] = generate(n, seed=seed * 1000 + offset, max_modifiers=opts.max_modifiers)
    vocab = Vocab.from_corpus(s.tokens for s in splits["train"])
    return vocab, {k: sentence_stream((s.tokens for s in v), vocab) for k, v in splits.items()}


def unigram_perplexity(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of an add-one unigram model: the floor any LM should beat."""
    counts = Counter(train.tolist())
    total = len(train) + vocab_size
    log_prob = sum(math.log((counts.get(t, 0) + 1) / total) for t in test.tolist())
    return math.exp(-log_prob / len(test))
