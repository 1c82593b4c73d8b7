"""The two bidirectional tasks: options, preset sizes, data, and the metrics their report judges.

Each unidirectional recurrent model of a preset also runs as its bidirectional twin (`variants`), with
the same seed and therefore the same sentences, so the report can compare them seed by seed.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.batches import Example, SentenceBatcher, Vocab, collate
from suite.core.options import TaskOptions, option
from suite.models.registry import ARCHITECTURES
from suite.task import Task, TaskData, TaskSettings, by_size, register_task

from .sentences import (BOTH_SIDES, KINDS, SPLIT_OFFSETS, TAGS, NeutralText, Tagged, classified_sentence,
                        filler_clauses, split_seed, tagged_sentence)


@dataclass(frozen=True)
class SentenceOptions(TaskOptions):
    train_sentences: int = option(4000, low=1, help="sentences generated for training")
    eval_sentences: int = option(500, low=1, help="sentences generated for validation and for test")
    max_gap: int = option(2, low=0, high=10, help="most adverbs between an intensifier and its adjective")


@dataclass(frozen=True)
class TagOptions(SentenceOptions):
    max_clauses: int = option(1, low=1, high=6, help="most 'and'/'but' clauses after the first")
    min_aside: int = option(0, low=0, high=200, help="fewest words of the neutral aside before a conjunction")
    max_aside: int = option(6, low=0, high=200, help="most words of the neutral aside before a conjunction")


@dataclass(frozen=True)
class ClassifyOptions(SentenceOptions):
    max_gap: int = option(1, low=0, high=10, help="most adverbs between an intensifier and its adjective")
    min_filler: int = option(4, low=2, high=400, help="fewest words of the neutral clause after the label")
    max_filler: int = option(40, low=2, high=400, help="most words of the neutral clause after the label")


def check_length_range(opts: TaskOptions, low: str, high: str) -> None:
    """Cross-field check of a min/max pair of options (each is range-checked on its own already)."""
    if getattr(opts, low) > getattr(opts, high):
        raise ConfigError(f"options {low} and {high} must satisfy {low} ≤ {high} "
                          f"(got {getattr(opts, low)}, {getattr(opts, high)})")


@dataclass(frozen=True)
class Sizing:
    """A task's rows per preset size (smoke, quick, standard, paper): training steps, and the min/max option
    pair of the span a left-to-right reader must carry the polarity across — the knob that makes the
    unidirectional model's job hard but not impossible."""

    steps: tuple
    span_options: tuple[str, str]
    span_low: tuple
    span_high: tuple


class BidirectionalTask(Task):
    """Shared sizing, data splits and variants: each recurrent model also runs bidirectionally."""

    sizing: Sizing

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        arch = ARCHITECTURES.get(model.arch)
        if model.bidirectional or arch is None or not arch.recurrent:
            return [{}]
        return [{}, {"model": {"bidirectional": True}}]

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=self.sizing.steps, hidden=(16, 48, 64, 128), sentences=(300, 4000, 8000, 20000),
                    held_out=(100, 500, 1000, 2000), low=self.sizing.span_low, high=self.sizing.span_high)
        low, high = self.sizing.span_options
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=32, lr=5e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, s["steps"] // 4)),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"], "eval_sentences": s["held_out"],
                     low: s["low"], high: s["high"]})

    def validate(self, cfg: RunConfig) -> None:
        check_length_range(self.options(cfg), *self.sizing.span_options)

    def splits(self, cfg: RunConfig, make: Callable[[int, int], list]) -> dict[str, list]:
        """make(seed, n) for train, valid and test, each from its own seed derived from the run's."""
        opts = self.options(cfg)
        return {split: make(split_seed(cfg.seed, split),
                            opts.train_sentences if split == "train" else opts.eval_sentences)
                for split in SPLIT_OFFSETS}

    def task_data(self, examples: dict[str, list[Example]], cfg: RunConfig, vocab: Vocab, num_outputs: int,
                  **extra) -> TaskData:
        bs = cfg.train.batch_size
        return TaskData(train=SentenceBatcher(examples["train"], bs),
                        valid=SentenceBatcher(examples["valid"], bs, shuffle=False), vocab=vocab,
                        num_outputs=num_outputs, extra={"test": examples["test"], **extra})


@register_task
class BidirectionalTagging(BidirectionalTask):
    name = "bidir_tag"
    description = ("tag intensifiers by the adjective after them ('terribly exciting' vs 'terribly boring'); "
                   "in later clauses the earlier adjective and 'and'/'but' entail the tag too")
    objective = "tag"
    headline = ("both_sides_accuracy", "token_accuracy")
    Options = TagOptions
    # Asides of 0..max words: with none (standard budget, seed 0) a unidirectional LSTM and GRU learned the
    # 'and'/'but' rule (both_sides accuracy 1.0), with 2–12 words they stayed at 0.5; a range from 0 spans both.
    sizing = Sizing((30, 150, 400, 1500), ("min_aside", "max_aside"), (0, 0, 0, 0), (2, 2, 6, 16))

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = self.options(cfg)

        def make(seed: int, n: int) -> list[Tagged]:
            rng, neutral = random.Random(seed), NeutralText(seed + 1)
            return [tagged_sentence(rng, neutral, opts.max_gap, opts.max_clauses, opts.min_aside, opts.max_aside)
                    for _ in range(n)]

        splits = self.splits(cfg, make)
        vocab = Vocab.from_corpus(s.words for s in splits["train"])
        tag_ids = {t: i for i, t in enumerate(TAGS)}
        examples = {k: [Example(vocab.encode(s.words), [tag_ids[t] for t in s.tags]) for s in v]
                    for k, v in splits.items()}
        return self.task_data(examples, cfg, vocab, len(TAGS), test_sentences=splits["test"])

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        predicted = predict_tags(model, data.extra["test"], cfg.device)
        return tag_metrics(data.extra["test_sentences"], [[TAGS[i] for i in p] for p in predicted])


@register_task
class BidirectionalClassification(BidirectionalTask):
    name = "bidir_classify"
    description = "classify a sentence by its first clause's polarity, read past a neutral filler clause"
    objective = "classify"
    headline = ("accuracy",)
    Options = ClassifyOptions
    # Across up to 24 filler words (the old standard size) unidirectional LSTMs and GRUs carried the label
    # at accuracy 1.0 (3 seeds), leaving nothing to measure; at 48 a unidirectional LSTM stayed at chance
    # after 400 steps (seed 0). Standard takes 40, quick 20 (was 16): a run's cost grows with its length.
    sizing = Sizing((30, 150, 400, 2000), ("min_filler", "max_filler"), (4, 4, 4, 4), (12, 20, 40, 80))

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = self.options(cfg)

        def make(seed: int, n: int) -> list[tuple[list[str], int, int]]:
            rng = random.Random(seed)
            return [(*classified_sentence(rng, filler, opts.max_gap), len(filler))
                    for filler in filler_clauses(n, seed, opts.min_filler, opts.max_filler)]

        splits = self.splits(cfg, make)
        vocab = Vocab.from_corpus(words for words, _, _ in splits["train"])
        examples = {k: [Example(vocab.encode(w), label) for w, label, _ in v] for k, v in splits.items()}
        return self.task_data(examples, cfg, vocab, 2, filler_lengths=[n for _, _, n in splits["test"]])

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        examples = data.extra["test"]
        predicted = predict_classes(model, examples, cfg.device)
        opts = self.options(cfg)
        # Long fillers: the upper half of the length range, where a left-to-right reader must remember longest.
        long_from = (opts.min_filler + opts.max_filler) // 2
        return classify_metrics(predicted, examples, data.extra["filler_lengths"], long_from)


# --------------------------------------------------------------------------- prediction and metrics


@torch.no_grad()
def _outputs(model, examples: list[Example], device: str, batch_size: int = 256):
    was_training = model.training
    model.eval()
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        batch = collate(chunk).to(device)
        output, _ = model(batch.inputs, None, batch.lengths)
        yield chunk, output
    model.train(was_training)


def predict_tags(model, examples: list[Example], device: str = "cpu") -> list[list[int]]:
    """Most likely tag id of every real (unpadded) token of each example."""
    out = []
    for chunk, logits in _outputs(model, examples, device):
        best = logits.argmax(-1).cpu()
        out.extend(best[row, :len(e.tokens)].tolist() for row, e in enumerate(chunk))
    return out


def predict_classes(model, examples: list[Example], device: str = "cpu") -> list[int]:
    out: list[int] = []
    for _, logits in _outputs(model, examples, device):
        out.extend(logits.argmax(-1).cpu().tolist())
    return out


def classify_metrics(predicted: list[int], examples: list[Example], filler_lengths: list[int],
                     long_from: int) -> dict:
    """Accuracy overall and on sentences whose filler has ≥ `long_from` words (with counts for intervals)."""
    correct = [int(p == e.target) for p, e in zip(predicted, examples)]
    long = [c for c, n in zip(correct, filler_lengths) if n >= long_from]
    return {"accuracy": sum(correct) / len(correct), "correct": sum(correct), "total": len(correct),
            "long_accuracy": sum(long) / max(1, len(long)), "long_correct": sum(long), "long_total": len(long)}


def tag_metrics(sentences: list[Tagged], predicted: list[list[str]]) -> dict:
    """Accuracy (with counts) per token kind — local, right_only, both_sides — over all tokens, and on the
    both_sides tokens with no aside (`no_aside`: the earlier adjective 2–3 words back)."""
    counts: Counter = Counter()
    for sent, tags in zip(sentences, predicted):
        for kind, aside, gold, guess in zip(sent.kinds, sent.asides, sent.tags, tags):
            groups = (kind, "token", "no_aside") if kind == BOTH_SIDES and aside == 0 else (kind, "token")
            for group in groups:
                counts[f"{group}_total"] += 1
                counts[f"{group}_correct"] += int(gold == guess)
    metrics: dict = {}
    for group in (*KINDS, "token", "no_aside"):
        correct, total = counts[f"{group}_correct"], counts[f"{group}_total"]
        metrics.update({f"{group}_correct": correct, f"{group}_total": total,
                        f"{group}_accuracy": correct / max(1, total)})
    return metrics
