"""Unidirectional vs bidirectional recurrent models on two tasks where the whole input is known.

`bidir_tag` tags every word of sentences like "the film was terribly , truly exciting ." The tag of
an intensifier ("terribly") is the polarity of the adjective that comes *after* it, so a left-to-right
tagger can only guess it (50 %), while the backward direction of a bidirectional tagger has read it.
`bidir_classify` labels a sentence by the polarity of its first clause, followed by a neutral filler
clause of random length: a left-to-right reader must carry the label across the filler, the backward
direction reads it last. Each unidirectional recurrent model of a preset also runs as its
bidirectional counterpart (see `variants`).
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from suite.claims import INCONCLUSIVE, REPRODUCED, Claim, combine_verdicts, less_than
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig, replace
from suite.data import Example, SentenceBatcher, Vocab
from suite.grammar import Grammar
from suite.models import ARCHITECTURES
from suite.plots import colour, new_figure, save
from suite.stats import Interval, mean_ci, wilson_ci
from suite.tasks import Task, TaskData, TaskSettings, register_task

NOUNS = ["film", "book", "play", "meal", "trip", "game", "show", "talk", "song", "party"]
INTENSIFIERS = ["terribly", "awfully", "incredibly", "really", "pretty", "so"]
FILLERS = ["truly", "frankly", "honestly", "simply"]  # adverbs between intensifier and adjective
POSITIVE = ["exciting", "delightful", "brilliant", "charming", "moving", "gripping", "wonderful", "fun"]
NEGATIVE = ["boring", "dull", "tedious", "clumsy", "bland", "shallow", "predictable", "messy"]
CONJUNCTIONS = ["and", "but"]
SENTIMENT_WORDS = frozenset(INTENSIFIERS + POSITIVE + NEGATIVE)
# Tags decided by the word itself, and the two decided by a later word.
TAGS = ["DET", "NOUN", "VERB", "CONJ", "PUNCT", "ADV", "ADJ+", "ADJ-", "INT+", "INT-"]
DECIDED_TAGS = ("INT+", "INT-")
SPLIT_OFFSETS = {"train": 0, "valid": 1, "test": 2}
FILLER_PREFIX = [",", "while"]


@dataclass
class Tagged:
    words: list[str]
    tags: list[str]

    @property
    def decided(self) -> list[int]:
        """Positions whose tag only a later word fixes."""
        return [i for i, t in enumerate(self.tags) if t in DECIDED_TAGS]


def sentiment_phrase(rng: random.Random, max_gap: int, words: list[str], tags: list[str]) -> bool:
    """Append '[intensifier] [filler adverbs…] adjective'; return the adjective's polarity (True = +)."""
    positive = rng.random() < 0.5
    sign = "+" if positive else "-"
    if rng.random() < 0.8:  # some adjectives come bare, so an adjective is not always announced
        words.append(rng.choice(INTENSIFIERS))
        tags.append("INT" + sign)
        for _ in range(rng.randint(0, max_gap)):
            if rng.random() < 0.3:
                words.append(",")
                tags.append("PUNCT")
            words.append(rng.choice(FILLERS))
            tags.append("ADV")
    words.append(rng.choice(POSITIVE if positive else NEGATIVE))
    tags.append("ADJ" + sign)
    return positive


def tagged_sentence(rng: random.Random, max_gap: int) -> Tagged:
    """'the film was terribly , truly exciting but really dull .' with its tags."""
    words, tags = ["the", rng.choice(NOUNS), rng.choice(["was", "is"])], ["DET", "NOUN", "VERB"]
    sentiment_phrase(rng, max_gap, words, tags)
    for _ in range(rng.randint(0, 2)):
        words.append(rng.choice(CONJUNCTIONS))
        tags.append("CONJ")
        sentiment_phrase(rng, max_gap, words, tags)
    words.append(".")
    tags.append("PUNCT")
    return Tagged(words, tags)


def classified_sentence(rng: random.Random, filler: list[str], max_gap: int) -> tuple[list[str], int]:
    """'the film was terribly dull , while <filler clause> .' labelled 1 for a positive first clause."""
    words, tags = ["the", rng.choice(NOUNS), rng.choice(["was", "is"])], ["DET", "NOUN", "VERB"]
    positive = sentiment_phrase(rng, max_gap, words, tags)
    return words + FILLER_PREFIX + filler, int(positive)


def filler_clauses(n: int, seed: int, min_words: int, max_words: int) -> list[list[str]]:
    """n neutral clauses from the suite's grammar, each min_words..max_words long (with its '.')."""
    rng = random.Random(seed)
    grammar = Grammar(random.Random(seed + 1), max_modifiers=3)
    clauses = []
    while len(clauses) < n:
        target = rng.randint(min_words, max_words)
        words: list[str] = []
        while len(words) < target:
            tokens = grammar.sentence().tokens[:-1]
            if not SENTIMENT_WORDS.intersection(tokens):  # the filler must not hint at the label
                words.extend(tokens)
        clauses.append(words[:target - 1] + ["."])
    return clauses


def split_seed(run_seed: int, split: str) -> int:
    return run_seed * 1000 + SPLIT_OFFSETS[split]


class BidirectionalTask(Task):
    """Shared sizing and variants of the two tasks: each recurrent model also runs bidirectionally."""

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        arch = ARCHITECTURES.get(model.arch)
        if model.bidirectional or arch is None or not arch.recurrent:
            return [{}]
        return [{}, {"model": {"bidirectional": True}}]

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        for key in ("train_sentences", "eval_sentences"):
            if not isinstance(opts[key], int) or opts[key] < 1:
                raise ConfigError(f"option {key} must be a positive integer (got {opts[key]!r})")
        if not isinstance(opts["max_gap"], int) or opts["max_gap"] < 0:
            raise ConfigError(f"option max_gap must be an integer ≥ 0 (got {opts['max_gap']!r})")

    def settings(self, size: str) -> TaskSettings:
        steps = {"smoke": 30, "quick": 150, "standard": 400, "paper": 1500}[size]
        hidden = {"smoke": 16, "quick": 48, "standard": 64, "paper": 128}[size]
        sentences = {"smoke": 300, "quick": 4000, "standard": 8000, "paper": 20000}[size]
        held_out = {"smoke": 100, "quick": 500, "standard": 1000, "paper": 2000}[size]
        return TaskSettings(train=TrainConfig(steps=steps, batch_size=32, lr=5e-3, clip=1.0,
                                              schedule="cosine", eval_every=max(1, steps // 5)),
                            model={"hidden": hidden},
                            options={"train_sentences": sentences, "eval_sentences": held_out})


@register_task
class BidirectionalTagging(BidirectionalTask):
    name = "bidir_tag"
    description = "tag words whose tag a later word decides ('terribly exciting' vs 'terribly boring')"
    objective = "tag"
    headline = ("decided_accuracy",)
    default_options = {"train_sentences": 4000, "eval_sentences": 500, "max_gap": 2}

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = {**self.default_options, **cfg.options}
        splits = {}
        for split in SPLIT_OFFSETS:
            rng = random.Random(split_seed(cfg.seed, split))
            n = opts["train_sentences"] if split == "train" else opts["eval_sentences"]
            splits[split] = [tagged_sentence(rng, opts["max_gap"]) for _ in range(n)]
        vocab = Vocab.from_corpus(s.words for s in splits["train"])
        tag_ids = {t: i for i, t in enumerate(TAGS)}
        examples = {k: [Example(vocab.encode(s.words), [tag_ids[t] for t in s.tags]) for s in v]
                    for k, v in splits.items()}
        bs = cfg.train.batch_size
        return TaskData(train=SentenceBatcher(examples["train"], bs),
                        valid=SentenceBatcher(examples["valid"], bs, shuffle=False), vocab=vocab,
                        num_outputs=len(TAGS),
                        extra={"test": examples["test"], "test_sentences": splits["test"]})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        predicted = predict_tags(model, data.extra["test"], cfg.device)
        return tag_metrics(data.extra["test_sentences"], [[TAGS[i] for i in p] for p in predicted])

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        if not mine:
            return {}
        return {"bidirectional_tagging": comparison_table(
            mine, {"decided_accuracy": ("decided_correct", "decided_total"),
                   "token_accuracy": ("token_correct", "token_total")})}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        if not mine:
            return []
        return [plot_comparison(mine, "decided_accuracy", ("decided_correct", "decided_total"),
                                "accuracy on right-context-decided tags", Path(out_dir) / "bidir_tag.png")]

    def claims(self, records: list[dict]) -> list[Claim]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        return [bidirectional_claim(mine)]


@register_task
class BidirectionalClassification(BidirectionalTask):
    name = "bidir_classify"
    description = "classify a sentence by its first clause's polarity, read past a neutral filler clause"
    objective = "classify"
    headline = ("accuracy",)
    default_options = {"train_sentences": 4000, "eval_sentences": 500, "max_gap": 1,
                       "min_filler": 4, "max_filler": 24}

    def settings(self, size: str) -> TaskSettings:
        # Long padded bidirectional batches cost more per step than tagging: fewer steps, shorter fillers.
        steps = {"smoke": 30, "quick": 150, "standard": 400, "paper": 2000}[size]
        max_filler = {"smoke": 12, "quick": 16, "standard": 24, "paper": 40}[size]
        base = super().settings(size)
        return TaskSettings(train=replace(base.train, steps=steps, eval_every=max(1, steps // 4)),
                            model=base.model, options={**base.options, "max_filler": max_filler})

    def validate(self, cfg: RunConfig) -> None:
        super().validate(cfg)
        opts = {**self.default_options, **cfg.options}
        if not (isinstance(opts["min_filler"], int) and isinstance(opts["max_filler"], int)
                and 2 <= opts["min_filler"] <= opts["max_filler"]):
            raise ConfigError("options min_filler and max_filler must be integers with 2 ≤ min_filler ≤ "
                              f"max_filler (got {opts['min_filler']!r}, {opts['max_filler']!r})")

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = {**self.default_options, **cfg.options}
        splits, fillers = {}, {}
        for split in SPLIT_OFFSETS:
            seed = split_seed(cfg.seed, split)
            rng = random.Random(seed)
            n = opts["train_sentences"] if split == "train" else opts["eval_sentences"]
            fillers[split] = filler_clauses(n, seed, opts["min_filler"], opts["max_filler"])
            splits[split] = [classified_sentence(rng, f, opts["max_gap"]) for f in fillers[split]]
        vocab = Vocab.from_corpus(words for words, _ in splits["train"])
        examples = {k: [Example(vocab.encode(w), label) for w, label in v] for k, v in splits.items()}
        bs = cfg.train.batch_size
        return TaskData(train=SentenceBatcher(examples["train"], bs),
                        valid=SentenceBatcher(examples["valid"], bs, shuffle=False), vocab=vocab,
                        num_outputs=2, extra={"test": examples["test"],
                                              "filler_lengths": [len(f) for f in fillers["test"]]})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        examples = data.extra["test"]
        predicted = predict_classes(model, examples, cfg.device)
        opts = {**self.default_options, **cfg.options}
        # Long fillers: the upper half of the length range, where a left-to-right reader must remember longest.
        long_from = (opts["min_filler"] + opts["max_filler"]) // 2
        return classify_metrics(predicted, examples, data.extra["filler_lengths"], long_from)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        if not mine:
            return {}
        return {"bidirectional_classification": comparison_table(
            mine, {"accuracy": ("correct", "total"), "long_accuracy": ("long_correct", "long_total")})}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        if not mine:
            return []
        return [plot_comparison(mine, "long_accuracy", ("long_correct", "long_total"),
                                "accuracy, upper half of filler lengths", Path(out_dir) / "bidir_classify.png")]


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def _outputs(model, examples: list[Example], device: str, batch_size: int = 256):
    from suite.data import collate
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
    """Accuracy overall and on sentences whose filler has ≥ `long_from` words (with counts for Wilson CIs)."""
    correct = [int(p == e.target) for p, e in zip(predicted, examples)]
    long = [c for c, n in zip(correct, filler_lengths) if n >= long_from]
    return {"accuracy": sum(correct) / len(correct), "correct": sum(correct), "total": len(correct),
            "long_accuracy": sum(long) / max(1, len(long)), "long_correct": sum(long), "long_total": len(long)}


def tag_metrics(sentences: list[Tagged], predicted: list[list[str]]) -> dict:
    """Accuracy on right-context-decided tokens, on the others, and overall (with counts for Wilson CIs)."""
    counts = defaultdict(int)
    for sent, tags in zip(sentences, predicted):
        decided = set(sent.decided)
        for i, (gold, guess) in enumerate(zip(sent.tags, tags)):
            kind = "decided" if i in decided else "local"
            counts[f"{kind}_total"] += 1
            counts[f"{kind}_correct"] += int(gold == guess)
    counts["token_total"] = counts["decided_total"] + counts["local_total"]
    counts["token_correct"] = counts["decided_correct"] + counts["local_correct"]
    metrics = {k: int(v) for k, v in counts.items()}
    for kind in ("decided", "local", "token"):
        metrics[f"{kind}_accuracy"] = counts[f"{kind}_correct"] / max(1, counts[f"{kind}_total"])
    return metrics


# --------------------------------------------------------------------------- report: tables and the claim


def cell_label(record: dict) -> str:
    """The model label without its direction: 'bi-lstm×2' and 'lstm×2' are the same cell stack."""
    return record["label"].removeprefix("bi-")


def accuracy_interval(records: list[dict], metric: str, correct: str, total: str) -> Interval:
    """95 % t-interval over seeds when ≥ 2 seeds ran; with one seed, a Wilson interval over test items."""
    if len(records) >= 2:
        return mean_ci([r["metrics"][metric] for r in records])
    if len(records) == 1:
        m = records[0]["metrics"]
        return wilson_ci(int(m[correct]), int(m[total]))
    return mean_ci([])


def _groups(records: list[dict]) -> dict[tuple[str, bool], list[dict]]:
    groups: dict[tuple[str, bool], list[dict]] = defaultdict(list)
    for r in records:
        groups[(cell_label(r), bool(r["config"]["model"]["bidirectional"]))].append(r)
    return groups


def comparison_table(records: list[dict], metrics: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """One row per cell stack and direction; each metric as mean with its 95 % interval and its kind."""
    rows = []
    for (cell, bi), group in sorted(_groups(records).items()):
        row = {"model": cell, "direction": "bi" if bi else "uni", "runs": len(group)}
        for metric, (correct, total) in metrics.items():
            ci = accuracy_interval(group, metric, correct, total)
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = ci.mean, ci.low, ci.high
            row["interval"] = "t over seeds" if ci.method == "t" else f"{ci.method} over items (1 seed)"
        rows.append(row)
    return pd.DataFrame(rows)


def plot_comparison(records: list[dict], metric: str, counts: tuple[str, str], ylabel: str, path: Path) -> Path:
    """Bars of one accuracy per cell stack, unidirectional (plain) next to bidirectional (hatched),
    with 95 % interval whiskers; the dotted line is chance for two classes."""
    groups = _groups(records)
    cells = sorted({cell for cell, _ in groups})
    fig, ax = new_figure(max(4.0, 1.2 * len(cells) + 1), 4.0)
    for x, cell in enumerate(cells):
        for offset, bi in ((-0.2, False), (0.2, True)):
            if (cell, bi) not in groups:
                continue
            ci = accuracy_interval(groups[(cell, bi)], metric, *counts)
            # max(0, …): at p = 1 the Wilson bound can sit a rounding error below the mean.
            err = None if math.isnan(ci.low) else [[max(0.0, ci.mean - ci.low)], [max(0.0, ci.high - ci.mean)]]
            ax.bar(x + offset, ci.mean, 0.38, yerr=err, capsize=3, color=colour(cell),
                   alpha=0.9 if bi else 0.45, hatch="//" if bi else None, edgecolor="black",
                   label=("bidirectional" if bi else "unidirectional") if x == 0 else None)
    ax.axhline(0.5, color="black", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(cells)), cells)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("cell stack")
    ax.legend(fontsize="small", loc="lower right")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return Path(path)


def bidirectional_claim(records: list[dict]) -> Claim:
    """Decided-token accuracy of each bidirectional stack against its unidirectional twin."""
    groups = _groups(records)
    cells = sorted({cell for cell, _ in groups})
    parts, evidence, whys = [], [], []
    for cell in cells:
        uni, bi = groups.get((cell, False), []), groups.get((cell, True), [])
        if not uni or not bi:
            whys.append(f"{cell}: missing {'unidirectional' if not uni else 'bidirectional'} runs")
            parts.append(INCONCLUSIVE)
            continue
        a = accuracy_interval(uni, "decided_accuracy", "decided_correct", "decided_total")
        b = accuracy_interval(bi, "decided_accuracy", "decided_correct", "decided_total")
        verdict, why = less_than(a, b)
        parts.append(verdict)
        evidence.append(f"{cell}: uni {a.format()} vs bi {b.format()} ({a.method})")
        if why:
            whys.append(f"{cell}: {why}")
    verdict = combine_verdicts(parts)
    if not cells:
        whys.append("no bidir_tag runs")
    return Claim(
        id="bidirectional.right_context",
        statement="bidirectional models win when the right context decides",
        source="lecture: bidirectional RNNs help whenever the whole input is known (but cannot be LMs)",
        rule="on bidir_tag, for every cell stack, the bidirectional model's accuracy on tokens whose tag a "
             "later word decides has a 95 % interval wholly above the unidirectional model's (t over "
             "seeds; Wilson over tokens with 1 seed); any interval wholly below → not reproduced",
        verdict=verdict, evidence="; ".join(evidence) or "–",
        why="" if verdict == REPRODUCED else "; ".join(whys))
