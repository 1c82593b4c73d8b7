"""Long-distance recall ("she finally printed her ___"): accuracy against distance and memory span.

A story names a key item ("she tried to print her tickets ."), then runs d tokens of filler
sentences (which may mention other items, never the key), then a recall phrase ("she finally
printed her") after which the language model must predict the key. Accuracy among the K items is
measured on a fixed grid of d, including distances longer than any seen in training.
By default the loss counts only the recalled key (loss_on="key"; "all" trains a plain LM on
every token): under the suite's budgets no architecture learnt the dependency from the full LM loss.
"""
from __future__ import annotations

import functools
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch

from suite.claims import INCONCLUSIVE, Claim, combine_verdicts, less_than
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data import IGNORE, SentenceBatcher, Vocab, lm_example
from suite.grammar import generate
from suite.plots import colour, line_style, new_figure, save
from suite.probes import next_token_logprobs
from suite.stats import Interval, mean_ci, wilson_ci
from suite.tasks import Task, TaskData, TaskSettings, register_task

# Plural objects that the grammar corpus does not use, so only planted distractors mention them.
ITEMS = ("tickets", "photos", "letters", "gloves", "boots", "maps", "coins", "stamps", "shells",
         "candles", "lamps", "shoes", "scarves", "hats", "cups", "plates", "pens", "rings", "bags",
         "socks", "towels", "cards", "blankets", "pillows")
# (introducing phrase, recall phrase): the key follows both.
TEMPLATES = (
    ("she tried to print her", "she finally printed her"),
    ("he wanted to pack his", "at last he packed his"),
    ("they forgot to bring their", "in the end they brought their"),
    ("she went out to buy her", "she finally bought her"),
    ("he started to clean his", "after all that he cleaned his"),
    ("we hoped to find our", "at last we found our"),
)
# Filler sentences that mention a distractor item in the same possessive frame as the key; test
# stories use their own templates, so no filler sentence of a test story occurs in training.
DISTRACTOR_TEMPLATES = {
    "train": ("she also saw her {} .", "someone moved our {} .", "the {} were on the table .",
              "they talked about their {} for a while ."),
    "test": ("he looked at his {} .", "we lost our {} .", "the {} were in the car .",
             "she told me about her {} again ."),
}
# Train on the recalled key only (a cloze through the LM head), or on every next token (a plain LM).
LOSS_ON = ("key", "all")
LSTM_FORGET_BIAS = 3.0
SPLIT_OFFSETS = {"train": 10, "valid": 11, "test": 12}  # seed offsets of the filler pools


# --------------------------------------------------------------------------- the story generator


@dataclass(frozen=True)
class Story:
    intro: tuple[str, ...]  # introducing sentence, ending with the key and "."
    filler: tuple[tuple[str, ...], ...]  # filler sentences, exactly `distance` tokens in all
    recall: tuple[str, ...]  # recall phrase; the key is the next word
    key: str
    distractors: tuple[str, ...]  # items mentioned in the filler, in order

    @property
    def distance(self) -> int:
        return sum(len(s) for s in self.filler)

    @property
    def prefix(self) -> list[str]:
        """Everything before the recalled key: the scoring prefix."""
        return [*self.intro, *(w for s in self.filler for w in s), *self.recall]

    @property
    def tokens(self) -> list[str]:
        return [*self.prefix, self.key, "."]


class FillerPool:
    """Sentences grouped by length, so that a filler of exactly d tokens can be sampled."""

    def __init__(self, sentences: Sequence[Sequence[str]], distractor_templates: Sequence[str] = ()):
        self.distractors: dict[int, list[str]] = defaultdict(list)  # templates by token length
        for t in distractor_templates:
            self.distractors[len(t.split())].append(t)
        self.by_length: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for s in sentences:
            self.by_length[len(s)].append(tuple(s))
        if not self.by_length:
            raise ConfigError("the filler pool is empty; supply more filler sentences")
        self.lengths = sorted(self.by_length)
        self._reachable = [True]

    def reachable(self, d: int) -> bool:
        """Whether some sequence of pool sentences has exactly d tokens (dynamic programming)."""
        while len(self._reachable) <= d:
            n = len(self._reachable)
            self._reachable.append(any(self._reachable[n - L] for L in self.lengths if L <= n))
        return self._reachable[d]

    def fits(self, remaining: int, lengths: Sequence[int]) -> list[int]:
        """Lengths that can be used now and still leave a fillable remainder."""
        return [L for L in lengths if L <= remaining and self.reachable(remaining - L)]


def make_story(rng: random.Random, distance: int, pool: FillerPool, items: Sequence[str],
               distractor_rate: float) -> Story:
    """One story with exactly `distance` filler tokens; each filler sentence is a distractor
    mention (of an item other than the key) with probability `distractor_rate`."""
    if not pool.reachable(distance):
        raise ConfigError(f"no combination of filler sentences has exactly {distance} tokens "
                          f"(sentence lengths {pool.lengths[:5]}…); choose another distance")
    intro, recall = rng.choice(TEMPLATES)
    key = rng.choice(items)
    others = [i for i in items if i != key]
    filler: list[tuple[str, ...]] = []
    distractors: list[str] = []
    remaining = distance
    while remaining > 0:
        use_distractor = rng.random() < distractor_rate
        fitting = pool.fits(remaining, sorted(pool.distractors)) if use_distractor else []
        if fitting:
            template = rng.choice(pool.distractors[rng.choice(fitting)])
            item = rng.choice(others)
            filler.append(tuple(template.format(item).split()))
            distractors.append(item)
        else:
            lengths = pool.fits(remaining, pool.lengths)
            weights = [len(pool.by_length[L]) for L in lengths]  # as often as the corpus has them
            length = rng.choices(lengths, weights)[0]
            filler.append(rng.choice(pool.by_length[length]))
        remaining -= len(filler[-1])
    return Story(tuple(intro.split()) + (key, "."), tuple(filler), tuple(recall.split()), key,
                 tuple(distractors))


def make_stories(n: int, distances: Sequence[int] | tuple[int, int], pool: FillerPool,
                 items: Sequence[str], distractor_rate: float, seed: int) -> list[Story]:
    """n stories, each with a fillable distance in [low, high] drawn with probability ∝ 1/(d + m),
    m the shortest sentence: roughly log-uniform, so the short distances at which the dependency is
    first learnt are common while every octave up to `high` keeps its share."""
    rng = random.Random(seed)
    low, high = distances
    choices = [d for d in range(low, high + 1) if pool.reachable(d)]
    if not choices:
        what = f"distance {low} cannot" if low == high else f"no distance in [{low}, {high}] can"
        raise ConfigError(f"{what} be filled with exactly that many filler tokens (shortest "
                          f"filler sentence: {pool.lengths[0]} tokens); choose longer distances")
    weights = [1 / (d + pool.lengths[0]) for d in choices]
    return [make_story(rng, rng.choices(choices, weights)[0], pool, items, distractor_rate) for _ in range(n)]


# --------------------------------------------------------------------------- filler corpora


def filler_pools(opts: dict[str, Any], seed: int) -> dict[str, FillerPool]:
    """Train / valid / test filler pools with no sentence shared between train and the others."""
    banned = set(ITEMS)
    if opts["filler_file"]:
        sentences = read_filler_file(opts["filler_file"])
        rng = random.Random(seed)
        unique = sorted(set(sentences))
        rng.shuffle(unique)
        usable = [s for s in unique if not banned.intersection(s)]
        if len(usable) < 30:
            raise ConfigError(f"{opts['filler_file']}: only {len(usable)} distinct usable sentences; "
                              "need at least 30 (sentences naming a recall item are dropped)")
        cut_valid, cut_test = int(0.7 * len(usable)), int(0.8 * len(usable))
        splits = {"train": usable[:cut_valid], "valid": usable[cut_valid:cut_test],
                  "test": usable[cut_test:]}
    else:
        n = opts["pool_sentences"]
        splits = {name: [tuple(s.tokens) for s in generate(n, seed=seed * 1000 + offset)]
                  for name, offset in SPLIT_OFFSETS.items()}
        splits = {k: [s for s in v if not banned.intersection(s)] for k, v in splits.items()}
        seen = set(splits["train"])
        splits["valid"] = [s for s in splits["valid"] if s not in seen]
        splits["test"] = [s for s in splits["test"] if s not in seen]
    templates = {"train": DISTRACTOR_TEMPLATES["train"], "valid": DISTRACTOR_TEMPLATES["train"],
                 "test": DISTRACTOR_TEMPLATES["test"]}
    return {k: FillerPool(v, templates[k]) for k, v in splits.items()}


@functools.lru_cache(maxsize=8)
def cached_pools(filler_file: str, pool_sentences: int, seed: int) -> dict[str, FillerPool]:
    """filler_pools for validation, built once per process for each (corpus, seed)."""
    return filler_pools({"filler_file": filler_file, "pool_sentences": pool_sentences}, seed)


def read_filler_file(path: str) -> list[tuple[str, ...]]:
    """One sentence per line, whitespace-separated tokens; blank lines are skipped."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"filler_file '{path}' does not exist or is not a file")
    sentences = []
    with file.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            tokens = tuple(line.split())
            if len(tokens) > 200:
                raise ConfigError(f"{path}:{number}: sentence of {len(tokens)} tokens; at most 200 allowed")
            if tokens:
                sentences.append(tokens)
    return sentences


# --------------------------------------------------------------------------- scoring


def recall_metrics(model: torch.nn.Module, stories_by_distance: dict[int, list[Story]], vocab: Vocab,
                   items: Sequence[str], trained_max: int, device: str = "cpu") -> dict[str, Any]:
    """Per-distance accuracy among the K items, key log-probability and recency choices; the span."""
    item_ids = torch.tensor(vocab.encode(items))
    chance = 1 / len(items)
    rows = []
    for d, stories in sorted(stories_by_distance.items()):
        prefixes = [[vocab.eos_id, *vocab.encode(s.prefix)] for s in stories]
        logp = next_token_logprobs(model, prefixes, device)
        chosen = [items[i] for i in logp[:, item_ids].argmax(1).tolist()]
        key_logp = logp[torch.arange(len(stories)), torch.tensor(vocab.encode([s.key for s in stories]))]
        with_distractor = [(s, c) for s, c in zip(stories, chosen) if s.distractors]
        rows.append(distance_row(d, trained_max, [c == s.key for s, c in zip(stories, chosen)],
                                 key_logp.tolist(), [c == s.distractors[-1] for s, c in with_distractor]))
    accuracies = {row["d"]: row["accuracy"] for row in rows}
    metrics: dict[str, Any] = {
        "chance": chance, "num_items": len(items), "trained_max_distance": trained_max,
        "span": memory_span(accuracies, chance),
        "mean_accuracy": sum(accuracies.values()) / len(accuracies), "by_distance": rows}
    for row in rows:  # flat scalars, so the generic summaries can average them across seeds
        metrics[f"accuracy@{row['d']}"] = row["accuracy"]
        metrics[f"key_logprob@{row['d']}"] = row["key_logprob"]
        metrics[f"recency_rate@{row['d']}"] = row["recency_rate"]
    return metrics


def distance_row(d: int, trained_max: int, correct: Sequence[bool], key_logprobs: Sequence[float],
                 recency: Sequence[bool]) -> dict[str, Any]:
    n = len(correct)
    return {"d": d, "extrapolation": d > trained_max, "n": n, "correct": int(sum(correct)),
            "accuracy": sum(correct) / n, "key_logprob": sum(key_logprobs) / n,
            "recency_n": len(recency), "recency_choices": int(sum(recency)),
            "recency_rate": sum(recency) / len(recency) if recency else math.nan}


def span_threshold(chance: float) -> float:
    """Halfway from chance to perfect recall."""
    return chance + (1 - chance) / 2


def memory_span(accuracies: dict[int, float], chance: float) -> int:
    """Largest tested distance up to which accuracy stays at or above the halfway threshold
    (every shorter tested distance passes too); 0 when the shortest one already fails."""
    span = 0
    for d in sorted(accuracies):
        if accuracies[d] < span_threshold(chance):
            break
        span = d
    return span


# --------------------------------------------------------------------------- the task


@register_task
class Recall(Task):
    name = "recall"
    description = "recall a key item across d tokens of filler: accuracy vs distance, memory span"
    objective = "lm"
    headline = ("span", "mean_accuracy")
    default_options = {
        "num_items": len(ITEMS), "train_distances": [0, 40], "test_distances": [5, 10, 20, 50, 100, 200],
        "train_stories": 20000, "valid_stories": 400, "test_stories": 200, "distractor_rate": 0.2,
        "pool_sentences": 4000, "filler_file": "", "loss_on": "key"}

    def settings(self, size: str) -> TaskSettings:
        # Measured, seed 0: on quick (800 steps) lstm (forget bias 3) and gru reach ~100 % at every
        # tested d up to 200, rnn_tanh stays at chance, lstm×2 reaches ~20 %; with standard's 3000
        # steps rnn_tanh reaches ~15 % (span 0) and lstm×2+res ~100 % (≈ 90 s on one thread). Full-LM
        # training (loss_on="all") learnt the dependency for no architecture within 3000 steps.
        steps = {"smoke": 30, "quick": 800, "standard": 3000, "paper": 8000}[size]
        hidden = {"smoke": 16, "quick": 64, "standard": 64, "paper": 128}[size]
        options = {"smoke": {"train_stories": 400, "valid_stories": 64, "test_stories": 20,
                             "test_distances": [5, 20, 50], "train_distances": [0, 20],
                             "pool_sentences": 500},
                   "quick": {"train_stories": 20000, "test_stories": 200},
                   # Longer test distances than quick: gated models are at ceiling at 200 steps.
                   "standard": {"train_stories": 50000, "test_stories": 300,
                                "test_distances": [5, 10, 20, 50, 100, 200, 500, 1000]},
                   "paper": {"train_stories": 150000, "test_stories": 500}}[size]
        return TaskSettings(
            train=TrainConfig(steps=steps, batch_size=32, lr=3e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, steps // 5)),
            model={"hidden": hidden}, options=options)

    def variants(self, model: ModelConfig, size: str) -> list[dict[str, dict[str, Any]]]:
        """LSTMs start with a forget-gate bias of 3 (Gers et al. 2000; chrono init, Tallec & Ollivier
        2018: b_f ≈ log T for dependencies of T ≈ 20 steps); with torch's default (f ≈ 0.5 per step)
        no LSTM learnt the task within 1500 steps. GRU and the vanilla RNN keep torch's defaults."""
        if model.arch == "lstm" and model.forget_bias is None:
            return [{"model": {"forget_bias": LSTM_FORGET_BIAS}}]
        return [{}]

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        k = opts["num_items"]
        if not isinstance(k, int) or not 2 <= k <= len(ITEMS):
            raise ConfigError(f"num_items must be an integer in [2, {len(ITEMS)}] (got {k!r})")
        train = opts["train_distances"]
        if (not isinstance(train, (list, tuple)) or len(train) != 2 or not all(isinstance(x, int) for x in train)
                or not 0 <= train[0] <= train[1]):
            raise ConfigError(f"train_distances must be [low, high] with 0 ≤ low ≤ high (got {train!r})")
        test = opts["test_distances"]
        if (not isinstance(test, (list, tuple)) or not test or not all(isinstance(x, int) and x > 0 for x in test)):
            raise ConfigError(f"test_distances must be a non-empty list of positive integers (got {test!r})")
        if not 0 <= opts["distractor_rate"] <= 1:
            raise ConfigError(f"distractor_rate must be in [0, 1] (got {opts['distractor_rate']!r})")
        for key in ("train_stories", "valid_stories", "test_stories", "pool_sentences"):
            if not isinstance(opts[key], int) or opts[key] <= 0:
                raise ConfigError(f"{key} must be a positive integer (got {opts[key]!r})")
        if opts["loss_on"] not in LOSS_ON:
            raise ConfigError(f"unknown loss_on '{opts['loss_on']}'; valid: {', '.join(LOSS_ON)}")
        if opts["filler_file"] and not Path(opts["filler_file"]).is_file():
            raise ConfigError(f"filler_file '{opts['filler_file']}' does not exist or is not a file")
        pools = cached_pools(opts["filler_file"], opts["pool_sentences"], cfg.seed)
        if not any(pools["train"].reachable(d) for d in range(train[0], train[1] + 1)):
            raise ConfigError(f"no train distance in {train} can be filled with exactly that many filler "
                              f"tokens (shortest filler sentence: {pools['train'].lengths[0]} tokens)")
        test_pool = pools["test"]
        for d in test:
            if not test_pool.reachable(d):
                raise ConfigError(f"test distance {d} cannot be filled with exactly that many filler tokens "
                                  f"(shortest filler sentence: {test_pool.lengths[0]} tokens); choose another")

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = {**self.default_options, **cfg.options}
        items = ITEMS[:opts["num_items"]]
        pools = filler_pools(opts, cfg.seed)
        rate, train_range = opts["distractor_rate"], tuple(opts["train_distances"])
        base = cfg.seed * 1000
        train = make_stories(opts["train_stories"], train_range, pools["train"], items, rate, base + 1)
        valid = make_stories(opts["valid_stories"], train_range, pools["valid"], items, rate, base + 2)
        test = {d: make_stories(opts["test_stories"], (d, d), pools["test"], items, rate, base + 3 + d)
                for d in sorted(set(opts["test_distances"]))}
        vocab = Vocab.from_corpus([*(s.tokens for s in train), list(items)])
        return TaskData(
            train=SentenceBatcher([story_example(s, vocab, opts["loss_on"]) for s in train],
                                  cfg.train.batch_size),
            valid=SentenceBatcher([story_example(s, vocab, opts["loss_on"]) for s in valid],
                                  cfg.train.batch_size, shuffle=False),
            vocab=vocab, extra={"test": test, "items": items, "trained_max": train_range[1]})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        return recall_metrics(model, data.extra["test"], data.vocab, data.extra["items"],
                              data.extra["trained_max"], cfg.device)

    # ----- report hooks

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        mine = ok_records(records, self.name)
        if not mine:
            return {}
        return {"recall_accuracy": accuracy_table(mine), "recall_span": span_table(mine),
                "recall_detail": detail_table(mine)}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        mine = ok_records(records, self.name)
        if not mine:
            return []
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return [plot_accuracy(mine, out_dir / "recall_accuracy.png")]

    def claims(self, records: list[dict]) -> list:
        return [gated_span_claim([r for r in records if r["config"]["task"] == self.name])]


def story_example(story: Story, vocab: Vocab, loss_on: str = "all"):
    """The story as one LM sequence from a fresh state (<eos> opens and closes it); with
    loss_on="key" only the recalled key is a target."""
    example = lm_example([vocab.eos_id, *vocab.encode(story.tokens), vocab.eos_id])
    if loss_on == "key":
        key_at = len(story.prefix)  # target index of the recalled key (inputs start with <eos>)
        example.target = [t if i == key_at else IGNORE for i, t in enumerate(example.target)]
    return example


# --------------------------------------------------------------------------- tables, plot, claim


def ok_records(records: list[dict], task: str = "recall") -> list[dict]:
    return [r for r in records if r["config"]["task"] == task and r.get("status") == "ok" and r.get("metrics")]


def by_label(records: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r.get("label", r["config"]["model"]["arch"]), []).append(r)
    return groups


def accuracy_interval(records: list[dict], d: int) -> Interval:
    """Accuracy at distance d: t-interval over seeds, or with one seed a Wilson interval over items."""
    rows = [row for r in records for row in r["metrics"]["by_distance"] if row["d"] == d]
    if len(rows) == 1:
        return wilson_ci(rows[0]["correct"], rows[0]["n"])
    return mean_ci([row["accuracy"] for row in rows])


def span_interval(records: list[dict], resamples: int = 1000, seed: int = 0) -> Interval:
    """Span: t-interval over seeds; with one seed a parametric bootstrap over test items."""
    if len(records) != 1:
        return mean_ci([r["metrics"]["span"] for r in records])
    m = records[0]["metrics"]
    generator = torch.Generator().manual_seed(seed)
    # Resampling n items with replacement makes the correct count Binomial(n, accuracy) per distance.
    counts = {row["d"]: torch.binomial(torch.full((resamples,), float(row["n"])),
                                       torch.full((resamples,), float(row["accuracy"])), generator=generator)
              / row["n"] for row in m["by_distance"]}
    spans = sorted(memory_span({d: float(c[i]) for d, c in counts.items()}, m["chance"])
                   for i in range(resamples))
    return Interval(m["span"], spans[int(0.025 * resamples)], spans[int(0.975 * resamples) - 1], 1, "bootstrap")


def distance_columns(records: list[dict]) -> list[tuple[int, str]]:
    """(distance, column name) for every tested distance; extrapolation columns are starred."""
    extrapolated = {row["d"]: row["extrapolation"] for r in records for row in r["metrics"]["by_distance"]}
    return [(d, f"d={d}*" if extrapolated[d] else f"d={d}") for d in sorted(extrapolated)]


def ci_method(records: list[dict], item_method: str) -> str:
    return f"{item_method} over items (1 seed)" if len(records) == 1 else f"t over {len(records)} seeds"


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """Architecture × distance top-1 accuracy among K, mean [95 % CI]; * marks extrapolation."""
    rows = []
    for label, group in by_label(records).items():
        row: dict[str, Any] = {"model": label, "seeds": len(group), "ci": ci_method(group, "Wilson"),
                               "chance": group[0]["metrics"]["chance"]}
        for d, column in distance_columns(records):
            ci = accuracy_interval(group, d)
            row[column], row[f"{column}_low"], row[f"{column}_high"] = ci.mean, ci.low, ci.high
        rows.append(row)
    return pd.DataFrame(rows)


def span_table(records: list[dict]) -> pd.DataFrame:
    """Memory span (largest d still halfway from chance to 1) and mean accuracy per architecture."""
    rows = []
    for label, group in by_label(records).items():
        span = span_interval(group)
        acc = mean_ci([r["metrics"]["mean_accuracy"] for r in group])
        rows.append({"model": label, "seeds": len(group), "ci": ci_method(group, "bootstrap"),
                     "trained_max_d": max(r["metrics"]["trained_max_distance"] for r in group),
                     "span": span.mean, "span_low": span.low, "span_high": span.high,
                     "mean_accuracy": acc.mean, "mean_accuracy_low": acc.low, "mean_accuracy_high": acc.high})
    return pd.DataFrame(rows)


def detail_table(records: list[dict]) -> pd.DataFrame:
    """Long form: per architecture and distance, accuracy, key log-prob, recency rate (means over seeds)."""
    rows = []
    for label, group in by_label(records).items():
        for d, column in distance_columns(records):
            cells = [row for r in group for row in r["metrics"]["by_distance"] if row["d"] == d]
            recency = [c["recency_rate"] for c in cells if c["recency_n"]]
            rows.append({"model": label, "d": d, "extrapolation": cells[0]["extrapolation"],
                         "seeds": len(cells), "accuracy": sum(c["accuracy"] for c in cells) / len(cells),
                         "chance": group[0]["metrics"]["chance"],
                         "key_logprob": sum(c["key_logprob"] for c in cells) / len(cells),
                         "chance_logprob": math.log(group[0]["metrics"]["chance"]),
                         "recency_rate": sum(recency) / len(recency) if recency else math.nan})
    return pd.DataFrame(rows)


def plot_accuracy(records: list[dict], path: Path) -> Path:
    """Accuracy vs distance (log x), one line per architecture with its CI band, chance dashed."""
    fig, ax = new_figure()
    columns = distance_columns(records)
    distances = [d for d, _ in columns]
    for label, group in by_label(records).items():
        cis = [accuracy_interval(group, d) for d in distances]
        ax.plot(distances, [c.mean for c in cis], marker="o", color=colour(label), linestyle=line_style(label),
                label=f"{label} ({len(group)} seed{'s' if len(group) > 1 else ''})")
        if not any(math.isnan(c.low) for c in cis):
            ax.fill_between(distances, [max(0.0, c.low) for c in cis], [min(1.0, c.high) for c in cis],
                            color=colour(label), alpha=0.15)
    chance = records[0]["metrics"]["chance"]
    ax.axhline(chance, color="black", linestyle=":", label=f"chance (1/{round(1 / chance)})")
    trained_max = max(r["metrics"]["trained_max_distance"] for r in records)
    if trained_max < max(distances):
        ax.axvspan(max(trained_max, min(distances)), max(distances), color="grey", alpha=0.08,
                   label="longer than training")
    ax.set_xscale("log")
    ax.set_xticks(distances, [str(d) for d in distances])
    ax.minorticks_off()
    ax.set_xlabel("distance d (filler tokens between key and recall)")
    ax.set_ylabel("top-1 recall accuracy among K items")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    save(fig, path)
    return path


GATED, VANILLA = ("lstm", "gru"), "rnn_tanh"


def gated_span_claim(records: list[dict], min_seeds: int = 2) -> Claim:
    """Rule: for both LSTM and GRU (one layer), rnn_tanh's span CI lies wholly below theirs → reproduced;
    either lies wholly below rnn_tanh's → not reproduced; otherwise (overlap, < 2 seeds, missing) inconclusive."""
    groups = by_label(ok_records(records))
    claim = Claim(
        id="recall.gated_span", statement="LSTM and GRU recall over longer distances than a vanilla RNN",
        source="lecture (vanishing gradients); Hochreiter & Schmidhuber 1997; Cho et al. 2014",
        rule="memory span (largest tested d with accuracy ≥ halfway from chance to 1), 95 % t-CI over "
             f"≥ {min_seeds} seeds: reproduced if rnn_tanh's CI lies wholly below both lstm's and gru's; "
             "not reproduced if it lies wholly above either; otherwise inconclusive",
        verdict=INCONCLUSIVE, evidence="")
    missing = [name for name in (VANILLA, *GATED) if name not in groups]
    if missing:
        claim.why = f"missing runs: {', '.join(missing)}"
        claim.evidence = "; ".join(f"{k}: span {mean_ci([r['metrics']['span'] for r in v]).format()}"
                                   for k, v in groups.items() if k in (VANILLA, *GATED))
        return claim
    spans = {name: mean_ci([r["metrics"]["span"] for r in groups[name]]) for name in (VANILLA, *GATED)}
    claim.evidence = "; ".join(f"{name} span {ci.format()} (n={ci.n})" for name, ci in spans.items())
    claim.details = {name: {"mean": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n} for name, ci in spans.items()}
    verdicts = {name: less_than(spans[VANILLA], spans[name], min_seeds) for name in GATED}
    claim.verdict = combine_verdicts(v for v, _ in verdicts.values())
    claim.why = "; ".join(f"{name}: {why}" for name, (v, why) in verdicts.items() if why)
    return claim
