"""Next-token perplexity on a corpus generated from the suite's probabilistic grammar."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch

from suite.core.config import RunConfig, TrainConfig
from suite.data.batches import StreamBatcher, Vocab, sentence_stream
from suite.data.grammar import generate
from suite.core.options import TaskOptions, option
from suite.task import Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import evaluate_loss

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


@register_task
class GrammarLM(Task):
    name = "grammar_lm"
    description = "language modelling on a generated English-like corpus (perplexity)"
    objective = "lm"
    headline = ("test_ppl",)
    Options = GrammarOptions

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=(40, 600, 1200, 6000), hidden=(32, 128, 128, 256),
                    sentences=(2000, 20000, 40000, 100000))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=32, bptt=64, lr=3e-3, clip=1.0, schedule="cosine"),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"]})

    def prepare(self, cfg: RunConfig) -> TaskData:
        vocab, streams = grammar_streams(self.options(cfg), cfg.seed)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        unigram = unigram_perplexity(streams["train"], streams["test"], len(vocab))
        return TaskData(train=StreamBatcher(streams["train"], bs, bptt),
                        valid=StreamBatcher(streams["valid"], bs, bptt), vocab=vocab,
                        extra={"test": StreamBatcher(streams["test"], bs, bptt), "unigram_ppl": unigram})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        test_loss = evaluate_loss(model, data.extra["test"], cfg.device)
        valid_loss = evaluate_loss(model, data.valid, cfg.device)
        return {"test_loss": test_loss, "test_ppl": math.exp(test_loss),
                "valid_ppl": math.exp(valid_loss), "unigram_ppl": data.extra["unigram_ppl"]}


def unigram_perplexity(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of an add-one unigram model: the floor any LM should beat."""
    counts = Counter(train.tolist())
    total = len(train) + vocab_size
    log_prob = sum(math.log((counts.get(t, 0) + 1) / total) for t in test.tolist())
    return math.exp(-log_prob / len(test))
