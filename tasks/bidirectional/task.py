"""bidir_tag: a bidirectional tagger against forward taggers with delayed output (Schuster & Paliwal's own
baseline), parameter-matched, on tags the right context decides at stated distances.

Each recurrent model of a preset runs as its bidirectional twin and as forward taggers with each delay of
the size's grid (`Sizing.delays`), all with the same seed and therefore the same sentences, so the report
compares them seed by seed; the delay of the forward tagger is chosen per seed on validation (`tuning`).
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass

import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, option
from suite.core.options import TaskOptions
from suite.data.batches import Example, SentenceBatcher, Vocab, collate
from suite.models.registry import ARCHITECTURES
from suite.task import Task, TaskData, TaskSettings, by_size, register_task

from .delay import delayed_example, matched_hidden, reads_both_ways, undelay
from .sentences import KINDS, RIGHT_ONLY, SPLIT_OFFSETS, TAGS, NeutralText, Tagged, split_seed, tagged_sentence


@dataclass(frozen=True)
class TagOptions(TaskOptions):
    train_sentences: int = option(4000, low=1, help="sentences generated for training")
    eval_sentences: int = option(500, low=1, help="sentences generated for validation and for test")
    min_distance: int = option(1, low=1, high=40, help="fewest tokens from an intensifier on to its adjective")
    max_distance: int = option(8, low=1, high=40, help="most tokens from an intensifier on to its adjective")
    max_clauses: int = option(1, low=1, high=6, help="most 'and'/'but' clauses after the first")
    min_aside: int = option(0, low=0, high=200, help="fewest words of the neutral aside before a conjunction")
    max_aside: int = option(6, low=0, high=200, help="most words of the neutral aside before a conjunction")
    delay: int = option(0, low=0, high=60, help="forward taggers: words read before the tag of a word is "
                                                "emitted (Schuster & Paliwal's delayed output)")


@dataclass(frozen=True)
class Sizing:
    """Per preset size (smoke, quick, standard, paper)."""

    steps: tuple = (30, 150, 400, 1500)
    hidden: tuple = (16, 48, 64, 128)  # of each direction of the bidirectional tagger; words embed in this size
    sentences: tuple = (300, 4000, 8000, 20000)
    held_out: tuple = (100, 500, 500, 2000)
    # Intensifier → adjective distances are drawn uniformly from 1..max_distance (1–8 at standard); a delay of
    # k covers distances ≤ k. The grid always holds 0 (the plain forward tagger: no right-only tag in reach)
    # and max_distance (every deciding word in reach, at the price of holding the last 8 words' tags until they
    # are emitted), so no distance lies beyond every delay by construction, and delays between, densest where
    # the choice fell. Standard, exploratory seeds 0–2 (test token accuracy; bidirectional 1.000): vanilla
    # cells chose delay 4 (0.974–0.975; delay 2 0.969–0.970, 0 0.96, 8 0.80–0.82), gated ones delay 2
    # (0.968–0.973; 0 0.962); at delay 8 the gated taggers get 97–98 % of the right-only tags but 86–88 % of
    # the words that decide their own tag: Schuster & Paliwal's trade-off. Distances beyond 8 would lengthen
    # every sentence, and a run's cost grows with its length.
    max_distance: tuple = (4, 6, 8, 8)
    delays: tuple = ((0, 4), (0, 3, 6), (0, 2, 4, 8), (0, 2, 4, 6, 8))


def check_range(opts: TaskOptions, low: str, high: str) -> None:
    if getattr(opts, low) > getattr(opts, high):
        raise ConfigError(f"options {low} and {high} must satisfy {low} ≤ {high} "
                          f"(got {getattr(opts, low)}, {getattr(opts, high)})")


@register_task
class BidirectionalTagging(Task):
    name = "bidir_tag"
    description = ("tag intensifiers by the adjective up to max_distance tokens after them ('terribly … "
                   "exciting' vs 'terribly … boring'): bidirectional taggers against parameter-matched "
                   "forward taggers with delayed output")
    objective = "tag"
    numeric_metrics = ("right_only_accuracy", "token_accuracy")
    Options = TagOptions
    sizing = Sizing()
    tuning = ("options.delay",)  # the forward tagger's delay, chosen per seed on validation (its report)

    def seed_count(self, size: str) -> int | None:
        """4 seeds at standard. At the between-seed SDs of the paired difference measured on exploratory seeds
        0–2 (largest: lstm 0.0053) times the planning margin 1.25, 3 seeds give the four-part claim 60 % power
        at Δ = 0.03 (the power guard, at the SD three values happen to show, often asks for a fourth), 4 seeds
        99.5 % (tests/test_bidirectional_rules.py simulates it)."""
        return 4 if size == "standard" else None

    def delays(self, size: str) -> tuple[int, ...]:
        return by_size(size, delays=self.sizing.delays)["delays"]

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """A recurrent model runs as its bidirectional twin and as a forward tagger per delay of the grid,
        each forward one with the hidden size that matches the twin's weight count (a cell that cannot read
        backwards runs once, as a plain forward tagger). Stacks run only at
        `paper` size: the claim is about the direction of reading, judged on one-layer cells, and every
        stack would add (1 + delays) × seeds runs to the budget."""
        arch = ARCHITECTURES.get(model.arch)
        if model.bidirectional or arch is None or not arch.recurrent or not reads_both_ways(model):
            return [{}]
        if model.layers > 1 and size != "paper":
            return []
        embed = model.embed_size
        hidden = matched_hidden(model, len(TAGS))
        return [{"model": {"bidirectional": True, "embed": embed}}] + [
            {"model": {"hidden": hidden, "embed": embed}, "options": {"delay": k}} for k in self.delays(size)]

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, **dataclasses.asdict(self.sizing))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=32, lr=5e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, s["steps"] // 4)),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"], "eval_sentences": s["held_out"],
                     "max_distance": s["max_distance"]})

    def validate(self, cfg: RunConfig) -> None:
        opts = self.options(cfg)
        check_range(opts, "min_distance", "max_distance")
        check_range(opts, "min_aside", "max_aside")
        if opts.delay and cfg.model.bidirectional:
            raise ConfigError("option delay is for forward taggers: a bidirectional tagger already reads the "
                              "whole sentence before it emits any tag")

    def sentences(self, cfg: RunConfig) -> dict[str, list[Tagged]]:
        """Train, valid and test sentences, each split from its own seed derived from the run's."""
        opts = self.options(cfg)

        def make(seed: int, n: int) -> list[Tagged]:
            rng, neutral = random.Random(seed), NeutralText(seed + 1)
            return [tagged_sentence(rng, neutral, (opts.min_distance, opts.max_distance), opts.max_clauses,
                                    (opts.min_aside, opts.max_aside)) for _ in range(n)]

        return {split: make(split_seed(cfg.seed, split), opts.train_sentences if split == "train"
                            else opts.eval_sentences) for split in SPLIT_OFFSETS}

    def prepare(self, cfg: RunConfig) -> TaskData:
        delay = self.options(cfg).delay
        splits = self.sentences(cfg)
        vocab = Vocab.from_corpus(s.words for s in splits["train"])
        tag_ids = {t: i for i, t in enumerate(TAGS)}
        examples = {k: [delayed_example(vocab.encode(s.words), [tag_ids[t] for t in s.tags], delay, vocab.eos_id)
                        for s in v] for k, v in splits.items()}
        bs = cfg.train.batch_size
        return TaskData(train=SentenceBatcher(examples["train"], bs),
                        valid=SentenceBatcher(examples["valid"], bs, shuffle=False), vocab=vocab,
                        num_outputs=len(TAGS), extra={"examples": examples, "sentences": splits, "delay": delay})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        """Test metrics, and the validation accuracies the delay is chosen by (prefixed `valid_`)."""
        out = {}
        for split, prefix in (("test", ""), ("valid", "valid_")):
            sentences = data.extra["sentences"][split]
            predicted = predict_tags(model, data.extra["examples"][split], data.extra["delay"], cfg.device)
            metrics = tag_metrics(sentences, [[TAGS[i] for i in p] for p in predicted])
            out.update(metrics if not prefix else
                       {prefix + k: v for k, v in metrics.items() if k in ("right_only_accuracy", "token_accuracy")})
        return out


# --------------------------------------------------------------------------- prediction and metrics


@torch.no_grad()
def predict_tags(model, examples: list[Example], delay: int = 0, device: str = "cpu",
                 batch_size: int = 256) -> list[list[int]]:
    """Most likely tag id of every word of each example, read `delay` outputs later."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        batch = collate(chunk).to(device)
        logits, _ = model(batch.inputs, None, batch.lengths)
        best = logits.argmax(-1).cpu()
        out.extend(undelay(best[row].tolist(), delay, len(e.tokens) - delay) for row, e in enumerate(chunk))
    model.train(was_training)
    return out


def tag_metrics(sentences: list[Tagged], predicted: list[list[str]]) -> dict:
    """Accuracy (with counts) per token kind — local, right_only, both_sides — and over all tokens; the
    right_only tokens also per distance to their adjective (`right_only_d3_accuracy`, …)."""
    counts: Counter = Counter()
    for sent, tags in zip(sentences, predicted):
        for kind, distance, gold, guess in zip(sent.kinds, sent.distances, sent.tags, tags):
            groups = [kind, "token"] + ([f"{RIGHT_ONLY}_d{distance}"] if kind == RIGHT_ONLY else [])
            for group in groups:
                counts[f"{group}_total"] += 1
                counts[f"{group}_correct"] += int(gold == guess)
    distances = sorted({d for sent in sentences for k, d in zip(sent.kinds, sent.distances) if k == RIGHT_ONLY})
    groups = [*KINDS, "token"] + [f"{RIGHT_ONLY}_d{d}" for d in distances]
    metrics: dict = {}
    for group in groups:
        correct, total = counts[f"{group}_correct"], counts[f"{group}_total"]
        metrics.update({f"{group}_correct": correct, f"{group}_total": total,
                        f"{group}_accuracy": correct / max(1, total)})
    return metrics
