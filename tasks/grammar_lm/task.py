"""Next-token perplexity on a corpus generated from the suite's probabilistic grammar."""
from __future__ import annotations

import math

from suite.core.config import ModelConfig, RunConfig, TrainConfig
from suite.data.batches import StreamBatcher
from suite.data.grammar_corpus import GrammarOptions, grammar_streams, unigram_perplexity
from suite.task import Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import evaluate_loss


@register_task
class GrammarLM(Task):
    name = "grammar_lm"
    description = "language modelling on a generated English-like corpus (perplexity)"
    objective = "lm"
    numeric_metrics = ("test_ppl",)
    Options = GrammarOptions

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=(40, 600, 1200, 6000), hidden=(32, 128, 128, 256),
                    sentences=(2000, 20000, 40000, 100000))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=32, bptt=64, lr=3e-3, clip=1.0, schedule="cosine"),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"]})

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """Every model of the preset, but no stack at standard: no claim reads one there (the quality claim
        compares single layers), and the 2-layer lstm cost 4 of the reference run's 162 run-minutes."""
        return [] if size == "standard" and model.layers > 1 else [{}]

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
