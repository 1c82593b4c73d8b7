"""The sentences of the two bidirectional tasks, with their tags, token kinds and labels.

Tagging: "the film was terribly , truly exciting , the old dog sleeps , but really dull ."
An intensifier ("terribly", "really") is tagged with the polarity of the adjective after it, so the
right context always decides it. In the first clause nothing earlier tells that polarity (kind
`right_only`: a left-to-right tagger can only guess). A later clause is joined by "and" (same polarity
as the adjective before) or "but" (the opposite), after a neutral aside: its intensifier is decided by
the adjective after it *and* entailed by the earlier adjective and the conjunction (kind `both_sides`),
so a left-to-right tagger is not capped there; it must carry the earlier polarity across the aside,
while the backward direction reads the deciding adjective a few words on.

Classification: "the film was terribly dull , while <neutral clause> ." is labelled by the polarity of
its only adjective: a left-to-right reader carries it across the whole clause, the backward direction
reads it last.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

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


def split_seed(run_seed: int, split: str) -> int:
    return run_seed * 1000 + SPLIT_OFFSETS[split]


@dataclass
class Tagged:
    words: list[str]
    tags: list[str]
    kinds: list[str]  # LOCAL: the word decides; RIGHT_ONLY / BOTH_SIDES: see the module docstring
    asides: list[int]  # words of the neutral aside before a BOTH_SIDES token's clause (0 elsewhere)

    def add(self, word: str, tag: str, kind: str = LOCAL, aside: int = 0) -> None:
        self.words.append(word)
        self.tags.append(tag)
        self.kinds.append(kind)
        self.asides.append(aside)

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


def sentiment_phrase(rng: random.Random, max_gap: int, out: Tagged, positive: bool, kind: str,
                     aside: int = 0) -> None:
    """Append '[intensifier] [gap adverbs…] adjective' of the given polarity; the intensifier gets `kind`."""
    sign = "+" if positive else "-"
    if rng.random() < 0.8:  # some adjectives come bare, so an adjective is not always announced
        out.add(rng.choice(INTENSIFIERS), "INT" + sign, kind, aside)
        for _ in range(rng.randint(0, max_gap)):
            if rng.random() < 0.3:
                out.add(",", "PUNCT")
            out.add(rng.choice(GAP_ADVERBS), "ADV")
    out.add(rng.choice(POSITIVE if positive else NEGATIVE), "ADJ" + sign)


def opening(rng: random.Random) -> Tagged:
    """'the film was' (tagged)."""
    out = Tagged([], [], [], [])
    for word, tag in (("the", "DET"), (rng.choice(NOUNS), "NOUN"), (rng.choice(["was", "is"]), "VERB")):
        out.add(word, tag)
    return out


def tagged_sentence(rng: random.Random, neutral: NeutralText, max_gap: int, max_clauses: int,
                    min_aside: int, max_aside: int) -> Tagged:
    """'the film was terribly exciting , <aside> , but really dull .' with tags and token kinds."""
    out = opening(rng)
    positive = rng.random() < 0.5
    sentiment_phrase(rng, max_gap, out, positive, RIGHT_ONLY)
    for _ in range(rng.randint(1, max_clauses)):
        aside, classes = neutral.words(rng.randint(min_aside, max_aside))
        if aside:
            for word, cls in zip([","] + aside + [","], ["punct"] + classes + ["punct"]):
                out.add(word, cls.upper())
        conjunction = rng.choice(sorted(CONJUNCTIONS))
        out.add(conjunction, "CONJ")
        positive = positive if CONJUNCTIONS[conjunction] else not positive
        sentiment_phrase(rng, max_gap, out, positive, BOTH_SIDES, len(aside))
    out.add(".", "PUNCT")
    return out


def classified_sentence(rng: random.Random, filler: list[str], max_gap: int) -> tuple[list[str], int]:
    """'the film was terribly dull , while <filler clause> .' labelled 1 for a positive first clause."""
    out = opening(rng)
    positive = rng.random() < 0.5
    sentiment_phrase(rng, max_gap, out, positive, RIGHT_ONLY)
    return out.words + [",", "while"] + filler, int(positive)


def filler_clauses(n: int, seed: int, min_words: int, max_words: int) -> list[list[str]]:
    """n neutral clauses, each min_words..max_words long (with its '.')."""
    rng = random.Random(seed)
    neutral = NeutralText(seed + 1)
    return [neutral.words(rng.randint(min_words, max_words) - 1)[0] + ["."] for _ in range(n)]
