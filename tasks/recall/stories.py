"""The recall stories: a key item, d tokens of filler, a recall phrase whose next word is the key.

A story names a key item ("she tried to print her tickets ."), then runs exactly d tokens of filler
sentences (which may mention other items, never the key), then a recall phrase ("she finally printed
her") after which a language model must predict the key — the lecture's "tickets" example made
measurable at any distance d.
"""
from __future__ import annotations

import functools
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from suite.core.config import ConfigError
from suite.data.grammar import generate

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
SPLIT_OFFSETS = {"train": 10, "valid": 11, "test": 12}  # seed offsets of the generated filler pools
MAX_SENTENCE_TOKENS = 200
MIN_FILE_SENTENCES = 30


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


def make_stories(n: int, distances: Sequence[int], pool: FillerPool, items: Sequence[str],
                 distractor_rate: float, seed: int | str) -> list[Story]:
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


def filler_pools(filler_file: str, pool_sentences: int, seed: int) -> dict[str, FillerPool]:
    """Train / valid / test filler pools that share no sentence. Validation stories (on which tuning
    points are chosen) reuse the training distractor templates; test stories have their own."""
    banned = set(ITEMS)
    if filler_file:
        splits = file_splits(filler_file, banned, seed)
    else:
        splits = {name: [tuple(s.tokens) for s in generate(pool_sentences, seed=seed * 1000 + offset)]
                  for name, offset in SPLIT_OFFSETS.items()}
        splits = {k: [s for s in v if not banned.intersection(s)] for k, v in splits.items()}
        seen = set(splits["train"])  # no test sentence occurs in training or in the validation stories
        splits["valid"] = [s for s in splits["valid"] if s not in seen]
        seen |= set(splits["valid"])
        splits["test"] = [s for s in splits["test"] if s not in seen]
    templates = {"train": DISTRACTOR_TEMPLATES["train"], "valid": DISTRACTOR_TEMPLATES["train"],
                 "test": DISTRACTOR_TEMPLATES["test"]}
    return {k: FillerPool(v, templates[k]) for k, v in splits.items()}


def file_splits(path: str, banned: set[str], seed: int) -> dict[str, list[tuple[str, ...]]]:
    """A filler file's distinct sentences without recall items, shuffled and cut 70 / 10 / 20."""
    unique = sorted(set(read_filler_file(path)))
    random.Random(seed).shuffle(unique)
    usable = [s for s in unique if not banned.intersection(s)]
    if len(usable) < MIN_FILE_SENTENCES:
        raise ConfigError(f"{path}: only {len(usable)} distinct usable sentences; need at least "
                          f"{MIN_FILE_SENTENCES} (sentences naming a recall item are dropped)")
    cut_valid, cut_test = int(0.7 * len(usable)), int(0.8 * len(usable))
    return {"train": usable[:cut_valid], "valid": usable[cut_valid:cut_test], "test": usable[cut_test:]}


@functools.lru_cache(maxsize=8)
def cached_pools(filler_file: str, pool_sentences: int, seed: int) -> dict[str, FillerPool]:
    """filler_pools for validation, built once per process for each (corpus, seed)."""
    return filler_pools(filler_file, pool_sentences, seed)


def read_filler_file(path: str) -> list[tuple[str, ...]]:
    """One sentence per line, whitespace-separated tokens, UTF-8; blank lines are skipped. A line that
    is not UTF-8 or too long is a ConfigError naming path:line."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"filler_file '{path}' does not exist or is not a file")
    sentences = []
    for number, raw in enumerate(file.read_bytes().splitlines(), 1):
        try:
            tokens = tuple(raw.decode("utf-8").split())
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                              f"{exc.start + 1}); save the filler file as UTF-8") from None
        if len(tokens) > MAX_SENTENCE_TOKENS:
            raise ConfigError(f"{path}:{number}: sentence of {len(tokens)} tokens; at most "
                              f"{MAX_SENTENCE_TOKENS} allowed")
        if tokens:
            sentences.append(tokens)
    return sentences
