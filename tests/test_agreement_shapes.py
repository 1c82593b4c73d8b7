"""The cueless sentence shapes: what each takes away, and that every annotation still points at the right word.
Ground truth comes from the tokens and the lexicon, never from the editing code."""
import random

import pytest

from suite.data.grammar import COMPLEMENT_VERBS, LEXICON, Grammar
from tasks.agreement.items import CorpusSpec, make_corpus
from tasks.agreement.shapes import CUELESS, SUBORDINATORS, sentence_of_shape

NOUN_NUMBER = LEXICON.noun_number
VERB_NUMBER = {**LEXICON.verb_number, **{f: pl for v in COMPLEMENT_VERBS
                                         for f, pl in ((v.singular, False), (v.plural, True))}}
COMPLEMENT_FORMS = {f for v in COMPLEMENT_VERBS for f in (v.singular, v.plural)}
NOUN_LEMMA = {f: n.singular for n in LEXICON.nouns for f in (n.singular, n.plural)}
VERB_LEMMA = {f: v.singular for v in LEXICON.verbs for f in (v.singular, v.plural)}


def sentences(shape, n=300, seed=5):
    grammar = Grammar(random.Random(seed))
    return [sentence_of_shape(grammar, shape) for _ in range(n)]


@pytest.mark.parametrize("shape", [*CUELESS, "plain", "preposed_pp", "complement"])
def test_every_annotation_points_at_a_word_of_the_right_number(shape):
    for s in sentences(shape):
        assert s.shape == shape and len(s.tokens) == len(s.classes)
        assert NOUN_NUMBER[s.tokens[s.subject_index]] == s.subject_plural
        assert VERB_NUMBER[s.tokens[s.verb_index]] == s.subject_plural
        assert s.correct_form == s.tokens[s.verb_index] and s.wrong_form != s.correct_form
        assert [NOUN_NUMBER[s.tokens[i]] for i, _ in s.nouns_before_verb] == [pl for _, pl in s.nouns_before_verb]
        for noun, verb in s.agreements:  # every controller agrees with its verb
            assert NOUN_NUMBER[s.tokens[noun]] == VERB_NUMBER[s.tokens[verb]]


def test_the_bare_fronted_phrase_has_no_comma_and_a_noun_before_the_subject():
    for s in sentences("preposed_pp_bare"):
        assert "," not in s.tokens
        assert min(s.nouns_before_verb)[0] < s.subject_index


def test_the_bare_complement_has_no_that_after_its_verb():
    for s in sentences("complement_bare"):
        c = next(i for i, t in enumerate(s.tokens) if t in COMPLEMENT_FORMS)
        assert s.tokens[c + 1] != "that" and c < s.subject_index


def test_the_adverbial_clause_opens_with_a_subordinator_and_has_a_subject_and_verb_of_its_own():
    seen = set()
    for s in sentences("adverbial_clause"):
        seen.add(s.tokens[0])
        assert s.tokens[0] in SUBORDINATORS and not COMPLEMENT_FORMS & set(s.tokens)
        clause_noun = min(s.nouns_before_verb)[0]
        clause_verb = next(i for i in range(clause_noun + 1, s.subject_index) if s.tokens[i] in VERB_NUMBER)
        assert (clause_noun, clause_verb) in s.agreements
        assert s.tokens[clause_verb + 1] in ("the", "a", "this", "these", "some")  # the subject's NP right after
    assert seen == set(SUBORDINATORS)


def test_variants_of_a_probe_frame_differ_only_in_number():
    corpus = make_corpus(2, CorpusSpec(200, 5, 18, 3, 0.35, 0.2))
    by_frame = {}
    for s, frame in zip(corpus.test, corpus.frames):
        lemmas = [NOUN_LEMMA.get(t, VERB_LEMMA.get(t, t)) for t in s.tokens]
        by_frame.setdefault(frame, []).append((s.shape, lemmas))
    cueless_frames = 0
    for variants in by_frame.values():
        shapes = {shape for shape, _ in variants}
        assert len(shapes) == 1
        cueless_frames += shapes <= set(CUELESS)
        # determiners follow number ("this"/"these"): compare the content words only
        content = [[w for w in lemmas if w in NOUN_LEMMA.values() or w in VERB_LEMMA.values()]
                   for _, lemmas in variants]
        assert all(c == content[0] for c in content)
    assert cueless_frames / len(by_frame) == pytest.approx(2 / 3, abs=0.05)
