"""The agreement tasks' data: a training corpus with a stated, natural-like attractor distribution, and
probe items built as frames on which attraction varies while everything else stays fixed.

A *frame* is one draw of the grammar's words with n intervening nouns between subject and verb; its
variants give k = 0…n of those nouns the other number (the attractors), so within a frame distance,
structure and words are held fixed. Frames come in six shapes — the subject first ("plain"), a fronted
prepositional phrase with a noun ("near the tables , the writer …"), a sentential complement ("the managers
say that the writer …"), and the three shapes of shapes.py that drop the comma or the "that" or front a whole
clause ("when the managers smile the writer …") — so the subject is neither always the first noun nor always
the first noun after a fixed cue. Test frames pair a subject with a verb never seen agreeing with it in
training (held-out noun–verb pairs).
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from suite.data.batches import EOS, Example, Vocab, lm_example
from suite.data.grammar import (ADJECTIVES, ADVERBS, COMPLEMENT_VERBS, DETERMINERS, LEXICON, PREPOSITIONS,
                           SENTENCE_ADVERBS, Grammar, Lexicon, Sentence, heldout_pairs, nonce_variant,
                           split_grammars)
from suite.evaluate.testsets import MinimalPair

from .shapes import CUELESS, SUBORDINATORS, sentence_of_shape

# Probe frames cycle through these. The cueless shapes come twice: a positional template (metrics.py) errs
# only on a cueless frame whose fronted noun differs in number from the subject (half of them, by the
# design's balance), so with two thirds of the frames cueless it errs on about a third of the attractor items,
# clear of the 25 % its check asks for; with half it would sit on the line.
PROBE_SHAPES = ("plain", "preposed_pp", "complement", *CUELESS, *CUELESS)
# training shapes: 3 in 8 sentences start with their subject (or an adverb), 5 in 8 have a noun before it, of
# those 3 without a fixed cue — the probes' shapes, so no probe shape is new to a model
TRAIN_SHAPES = ("plain", "plain", "adverb", "preposed_pp", "complement", *CUELESS)
SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2, "valid_probes": 3}


@dataclass(frozen=True)
class CorpusSpec:
    """What the agreement data of one seed is made of (a slice of the task's options)."""

    train_sentences: int
    valid_sentences: int
    items_per_cell: int  # frames per intervening-noun count; each frame gives one item per attractor count
    max_intervening: int  # most nouns between subject and verb in a probe (and in training)
    modifier_prob: float  # training: each further modifier (one noun each) with this probability
    heldout_fraction: float
    nonce: bool = False


@dataclass
class Corpus:
    train: list[Sentence]
    valid: list[Sentence]
    test: list[Sentence]  # probe sentences, frame by frame (k = 0…n within a frame)
    valid_probes: list[Sentence]  # the same design on other frames: for choosing budgets, never test items
    frames: list[int]  # frame number of each test sentence
    held: set[tuple[str, str]]


def make_corpus(seed: int, spec: CorpusSpec, lexicon: Lexicon = LEXICON) -> Corpus:
    """Training/validation sentences and probe items for one seed (deterministic)."""
    held = heldout_pairs(seed, spec.heldout_fraction, lexicon)
    train_grammar, test_grammar = split_grammars(seed * 1000, held, lexicon, spec.max_intervening,
                                                 spec.modifier_prob)
    def training_sentence() -> Sentence:
        return sentence_of_shape(train_grammar, train_grammar.rng.choice(TRAIN_SHAPES))
    train = [training_sentence() for _ in range(spec.train_sentences)]
    valid = [training_sentence() for _ in range(spec.valid_sentences)]
    test, frames = probe_frames(test_grammar, random.Random(seed * 1000 + SPLIT_SEEDS["test"]), spec)
    valid_probes, _ = probe_frames(test_grammar, random.Random(seed * 1000 + SPLIT_SEEDS["valid_probes"]), spec)
    if spec.nonce:
        test = [nonce_variant(s, random.Random(seed * 10**6 + f), lexicon) for s, f in zip(test, frames)]
    return Corpus(train, valid, test, valid_probes, frames, held)


def probe_frames(grammar: Grammar, rng: random.Random, spec: CorpusSpec) -> tuple[list[Sentence], list[int]]:
    """`items_per_cell` frames for each n = 0…max_intervening, each expanded into k = 0…n attractors.

    Shapes, subject number and the fronted noun's number cycle through a balanced design (4 × the shapes);
    which of the n nouns are the attractors is drawn per variant."""
    sentences: list[Sentence] = []
    frames: list[int] = []
    frame = 0
    for n in range(spec.max_intervening + 1):
        for f in range(spec.items_per_cell):
            shape, rest = PROBE_SHAPES[f % len(PROBE_SHAPES)], f // len(PROBE_SHAPES)
            design = {"subject_plural": rest % 2 == 1, "fronted_plural": (rest // 2) % 2 == 1}
            state = rng.getrandbits(64)
            for k in range(n + 1):
                flips = set(rng.sample(range(n), k))
                grammar.rng = random.Random(state)  # the same words in every variant of the frame
                sentences.append(sentence_of_shape(grammar, shape, mismatches=[i in flips for i in range(n)],
                                                   **design))
                frames.append(frame)
            frame += 1
    return sentences, frames


def cell_counts(sentences: Sequence[Sentence]) -> dict[str, int]:
    """Sentences per (intervening nouns, attractors) cell, keyed "n,k" (JSON-friendly)."""
    counts = Counter(f"{s.intervening_nouns},{s.attractors}" for s in sentences)
    return dict(sorted(counts.items()))


def lexicon_words(lexicon: Lexicon = LEXICON) -> set[str]:
    """Every word the grammar can emit, so every generated item is representable."""
    words = {f for n in lexicon.nouns for f in (n.singular, n.plural)}
    words |= {f for v in (*lexicon.verbs, *COMPLEMENT_VERBS) for f in (v.singular, v.plural)}
    words |= {*ADJECTIVES, *ADVERBS, *PREPOSITIONS, *SENTENCE_ADVERBS, *SUBORDINATORS, "that", ",", "."}
    return words | {d for ds in DETERMINERS.values() for d in ds}


def build_vocab(train: Sequence[Sentence]) -> Vocab:
    vocab = Vocab.from_corpus([EOS, *s.tokens] for s in train)
    for word in sorted(lexicon_words()):  # rare forms a small corpus missed still get an id
        vocab.add(word)
    return vocab


def to_item(s: Sentence, source: str = "grammar") -> MinimalPair:
    """The probe of a sentence: prefix up to the main verb, correct and wrong verb forms, annotations."""
    return MinimalPair((EOS, *s.tokens[:s.verb_index]), (s.correct_form,), (s.wrong_form,), source,
                       s.attractors, s.construction, s.distance, s.subject_plural, s.nearest_noun_plural,
                       s.intervening_nouns, meta={"shape": s.shape})


def lm_examples(sentences: Sequence[Sentence], vocab: Vocab) -> list[Example]:
    return [lm_example(vocab.encode([EOS, *s.tokens, EOS])) for s in sentences]


def number_examples(sentences: Sequence[Sentence], vocab: Vocab) -> list[Example]:
    """Linzen's number prediction: the prefix up to the verb, labelled 1 when the subject is plural."""
    return [Example(vocab.encode([EOS, *s.tokens[:s.verb_index]]), int(s.subject_plural)) for s in sentences]
