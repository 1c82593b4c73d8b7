"""The tagging sentences: words, tags, what decides each tag, and how far ahead the deciding word lies.

"the film was terribly truly , simply exciting , the old dog sleeps , but really dull ."
An intensifier ("terribly", "really") is tagged with the polarity of the adjective after it, `distance`
tokens on (1 = the next word; the words between are polarity-free adverbs and commas), so the right
context always decides it. In the first clause nothing earlier tells that polarity (kind `right_only`: a
tagger that emits each tag as it reads the word can only guess, and a reader that emits it `k` words later
knows it exactly when distance ≤ k). A later clause is joined by "and" (same polarity as the adjective
before) or "but" (the opposite), after a neutral aside: its intensifier is decided by the adjective after it
*and* entailed by the earlier adjective and the conjunction (kind `both_sides`). Every other word's tag is
fixed by the word itself (kind `local`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from suite.data.grammar import Grammar

# Subjects of the opening clause; none is also a verb of the grammar the asides come from ('talk' was).
NOUNS = ["film", "book", "play", "meal", "trip", "game", "show", "tour", "song", "party"]
INTENSIFIERS = ["terribly", "awfully", "incredibly", "really", "pretty", "so"]
GAP_ADVERBS = ["truly", "frankly", "honestly", "simply"]  # between an intensifier and its adjective
POSITIVE = ["exciting", "delightful", "brilliant", "charming", "moving", "gripping", "wonderful", "fun"]
NEGATIVE = ["boring", "dull", "tedious", "clumsy", "bland", "shallow", "predictable", "messy"]
CONJUNCTIONS = {"and": True, "but": False}  # does the next clause keep the polarity?
# Words a neutral clause must not contain: they would hint at (or be confused with) the polarity.
RESERVED = frozenset(INTENSIFIERS + GAP_ADVERBS + POSITIVE + NEGATIVE + list(CONJUNCTIONS))
# Grammar word classes (upper-cased) tag the asides; the polarity tags are this task's own.
TAGS = ["DET", "NOUN", "VERB", "ADJ", "ADV", "COMP", "PREP", "PUNCT", "CONJ", "ADJ+", "ADJ-", "INT+", "INT-"]
LOCAL, RIGHT_ONLY, BOTH_SIDES = "local", "right_only", "both_sides"  # what decides a token's tag
KINDS = (LOCAL, RIGHT_ONLY, BOTH_SIDES)
SPLIT_OFFSETS = {"train": 0, "valid": 1, "test": 2}
BARE_ADJECTIVES = 0.2  # share of adjectives without an intensifier, so an adjective is not always announced


def split_seed(run_seed: int, split: str) -> int:
    return run_seed * 1000 + SPLIT_OFFSETS[split]


@dataclass
class Tagged:
    words: list[str]
    tags: list[str]
    kinds: list[str]  # LOCAL: the word decides; RIGHT_ONLY / BOTH_SIDES: see the module docstring
    distances: list[int] = field(default_factory=list)  # intensifiers: tokens on to the deciding adjective; else 0

    def add(self, word: str, tag: str, kind: str = LOCAL, distance: int = 0) -> None:
        self.words.append(word)
        self.tags.append(tag)
        self.kinds.append(kind)
        self.distances.append(distance)

    def positions(self, kind: str) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == kind]


class NeutralText:
    """Words from the suite's grammar (without sentence ends) that carry no polarity, with their classes."""

    def __init__(self, seed: int):
        self.grammar = Grammar(random.Random(seed), max_modifiers=3)

    def words(self, n: int) -> tuple[list[str], list[str]]:
        words: list[str] = []
        classes: list[str] = []
        while len(words) < n:
            s = self.grammar.sentence()
            if not RESERVED.intersection(s.tokens):
                words.extend(s.tokens[:-1])
                classes.extend(s.classes[:-1])
        return words[:n], classes[:n]


def gap(rng: random.Random, n: int) -> list[str]:
    """n polarity-free words: adverbs, with a comma now and then (never first, last or twice in a row), so
    that the distance is not a count of adverbs."""
    words: list[str] = []
    for i in range(n):
        comma_allowed = 0 < i < n - 1 and words[-1] != ","
        words.append("," if comma_allowed and rng.random() < 0.25 else rng.choice(GAP_ADVERBS))
    return words


def sentiment_phrase(rng: random.Random, distances: tuple[int, int], out: Tagged, positive: bool,
                     kind: str) -> None:
    """Append '[intensifier gap…] adjective' of the given polarity: the intensifier (kind `kind`) lies a
    distance drawn uniformly from `distances` (inclusive) before its adjective."""
    sign = "+" if positive else "-"
    if rng.random() >= BARE_ADJECTIVES:
        distance = rng.randint(*distances)
        out.add(rng.choice(INTENSIFIERS), "INT" + sign, kind, distance)
        for word in gap(rng, distance - 1):
            out.add(word, "PUNCT" if word == "," else "ADV")
    out.add(rng.choice(POSITIVE if positive else NEGATIVE), "ADJ" + sign)


def opening(rng: random.Random) -> Tagged:
    """'the film was' (tagged)."""
    out = Tagged([], [], [])
    for word, tag in (("the", "DET"), (rng.choice(NOUNS), "NOUN"), (rng.choice(["was", "is"]), "VERB")):
        out.add(word, tag)
    return out


def tagged_sentence(rng: random.Random, neutral: NeutralText, distances: tuple[int, int], max_clauses: int,
                    asides: tuple[int, int]) -> Tagged:
    """'the film was terribly exciting , <aside> , but really dull .' with tags, token kinds and distances;
    1..max_clauses later clauses, each after an aside of asides[0]..asides[1] neutral words."""
    out = opening(rng)
    positive = rng.random() < 0.5
    sentiment_phrase(rng, distances, out, positive, RIGHT_ONLY)
    for _ in range(rng.randint(1, max_clauses)):
        aside, classes = neutral.words(rng.randint(*asides))
        if aside:
            for word, cls in zip([","] + aside + [","], ["punct"] + classes + ["punct"]):
                out.add(word, cls.upper())
        conjunction = rng.choice(sorted(CONJUNCTIONS))
        out.add(conjunction, "CONJ")
        positive = positive if CONJUNCTIONS[conjunction] else not positive
        sentiment_phrase(rng, distances, out, positive, BOTH_SIDES)
    out.add(".", "PUNCT")
    return out
