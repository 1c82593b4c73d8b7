"""Next-token perplexity on a corpus generated from the suite's probabilistic grammar."""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd
import torch

from suite.config import RunConfig, TrainConfig
from suite.data import StreamBatcher, Vocab, sentence_stream
from suite.results import summarise
from suite.grammar import generate
from suite.tasks import Task, TaskData, TaskSettings, register_task
from suite.train import evaluate_loss

SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2}


def grammar_streams(opts: dict, seed: int) -> tuple[Vocab, dict[str, torch.Tensor]]:
    """Train/valid/test token streams from the grammar (disjoint seeds), vocabulary from train."""
    splits = {}
    for split, offset in SPLIT_SEEDS.items():
        n = opts["train_sentences"] if split == "train" else opts["eval_sentences"]
        splits[split] = generate(n, seed=seed * 1000 + offset, max_modifiers=opts["max_modifiers"])
    vocab = Vocab.from_corpus(s.tokens for s in splits["train"])
    return vocab, {k: sentence_stream((s.tokens for s in v), vocab) for k, v in splits.items()}


@register_task
class GrammarLM(Task):
    name = "grammar_lm"
    description = "language modelling on a generated English-like corpus (perplexity)"
    objective = "lm"
    headline = ("test_ppl",)
    default_options = {"train_sentences": 20000, "eval_sentences": 2000, "max_modifiers": 3}

    def settings(self, size: str) -> TaskSettings:
        steps = {"smoke": 40, "quick": 600, "standard": 1200, "paper": 6000}[size]
        hidden = {"smoke": 32, "quick": 128, "standard": 128, "paper": 256}[size]
        sentences = {"smoke": 2000, "quick": 20000, "standard": 40000, "paper": 100000}[size]
        return TaskSettings(
            train=TrainConfig(steps=steps, batch_size=32, bptt=64, lr=3e-3, clip=1.0, schedule="cosine"),
            model={"hidden": hidden},
            options={"train_sentences": sentences})

    def prepare(self, cfg: RunConfig) -> TaskData:
        vocab, streams = grammar_streams({**self.default_options, **cfg.options}, cfg.seed)
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

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        mine = [r for r in records if r["config"]["task"] == self.name]
        if not mine:
            return {}
        return {"grammar_lm_perplexity": summarise(mine, ["test_ppl", "valid_ppl", "unigram_ppl"])}


def unigram_perplexity(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of an add-one unigram model: the floor any LM should beat."""
    counts = Counter(train.tolist())
    total = len(train) + vocab_size
    log_prob = sum(math.log((counts.get(t, 0) + 1) / total) for t in test.tolist())
    return math.exp(-log_prob / len(test))
