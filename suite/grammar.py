"""A seeded probabilistic grammar of English-like sentences with subject–verb number agreement.

Every generated sentence carries its own annotation (main subject, main verb, the nouns between
them), so tasks can build agreement probes, language-model corpora or recall filler from it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

# (singular, plural): regular and irregular plurals.
NOUNS = [
    ("writer", "writers"), ("book", "books"), ("author", "authors"), ("critic", "critics"),
    ("teacher", "teachers"), ("student", "students"), ("doctor", "doctors"), ("patient", "patients"),
    ("farmer", "farmers"), ("dog", "dogs"), ("cat", "cats"), ("child", "children"), ("man", "men"),
    ("woman", "women"), ("mouse", "mice"), ("goose", "geese"), ("person", "people"),
    ("key", "keys"), ("cabinet", "cabinets"), ("table", "tables"), ("painter", "painters"),
    ("pilot", "pilots"), ("senator", "senators"), ("manager", "managers"), ("friend", "friends"),
]
# (singular, plural) present-tense forms; transitive verbs can take an object.
VERBS_TRANSITIVE = [
    ("praises", "praise"), ("likes", "like"), ("sees", "see"), ("admires", "admire"),
    ("knows", "know"), ("follows", "follow"), ("has", "have"), ("meets", "meet"),
]
VERBS_INTRANSITIVE = [
    ("is here", "are here"), ("was late", "were late"), ("sleeps", "sleep"), ("smiles", "smile"),
    ("laughs", "laugh"), ("waits", "wait"), ("is happy", "are happy"), ("works", "work"),
]
ADJECTIVES = ["old", "young", "famous", "quiet", "tall", "clever", "small", "new"]
ADVERBS = ["often", "never", "always", "rarely", "really"]
PREPOSITIONS = ["of", "near", "behind", "with", "beside"]


@dataclass
class Sentence:
    tokens: list[str]
    subject_index: int  # index of the main subject's head noun
    subject_plural: bool
    verb_index: int  # index of the main verb's first token
    construction: str  # simple | pp | src | orc | …
    nouns_before_verb: list[tuple[int, bool]] = field(default_factory=list)  # (index, plural)

    @property
    def attractors(self) -> int:
        """Nouns between subject and verb whose number differs from the subject's."""
        return sum(1 for i, pl in self.nouns_before_verb
                   if self.subject_index < i < self.verb_index and pl != self.subject_plural)


class Grammar:
    """Samples sentences; `rng` is the only source of randomness."""

    def __init__(self, rng: random.Random, nouns=NOUNS, max_modifiers: int = 3):
        self.rng, self.nouns, self.max_modifiers = rng, nouns, max_modifiers

    def noun_phrase(self, out: list[str], nouns: list[tuple[int, bool]], plural: bool | None = None) -> tuple[int, bool]:
        plural = self.rng.random() < 0.5 if plural is None else plural
        out.append("the")
        if self.rng.random() < 0.3:
            out.append(self.rng.choice(ADJECTIVES))
        out.append(self.rng.choice(self.nouns)[int(plural)])
        nouns.append((len(out) - 1, plural))
        return len(out) - 1, plural

    def verb(self, out: list[str], plural: bool, transitive: bool) -> int:
        pairs = VERBS_TRANSITIVE if transitive else VERBS_INTRANSITIVE
        index = len(out)
        out.extend(self.rng.choice(pairs)[int(plural)].split())
        return index

    def modifier(self, out: list[str], nouns: list, head_plural: bool) -> str:
        kind = self.rng.choice(["pp", "src", "orc"])
        if kind == "pp":
            out.append(self.rng.choice(PREPOSITIONS))
            self.noun_phrase(out, nouns)
        elif kind == "src":  # the writer that praises the critics
            out.append("that")
            self.verb(out, head_plural, transitive=True)
            self.noun_phrase(out, nouns)
        else:  # the writer that the critics praise
            out.append("that")
            _, inner_plural = self.noun_phrase(out, nouns)
            self.verb(out, inner_plural, transitive=True)
        return kind

    def sentence(self) -> Sentence:
        out: list[str] = []
        nouns: list[tuple[int, bool]] = []
        subject, plural = self.noun_phrase(out, nouns)
        kinds = [self.modifier(out, nouns, plural) for _ in range(self.rng.randint(0, self.max_modifiers))]
        if self.rng.random() < 0.2:
            out.append(self.rng.choice(ADVERBS))
        transitive = self.rng.random() < 0.5
        verb_index = self.verb(out, plural, transitive)
        nouns_before = list(nouns)
        if transitive:
            self.noun_phrase(out, nouns)
        out.append(".")
        construction = "+".join(kinds) if kinds else "simple"
        return Sentence(out, subject, plural, verb_index, construction, nouns_before)


def generate(n: int, seed: int, **kwargs) -> list[Sentence]:
    """n sentences from a grammar seeded with `seed` (deterministic)."""
    grammar = Grammar(random.Random(seed), **kwargs)
    return [grammar.sentence() for _ in range(n)]
