"""The agreement grammar: annotations recomputed independently from tokens and the lexicon."""
import hashlib
import random

from hypothesis import given, settings, strategies as st

from suite.data.grammar import (ADJECTIVES, COMPLEMENT_VERBS, DETERMINERS, LEXICON, Grammar, generate,
                           heldout_pairs, nonce_variant, split_grammars)

NOUN_NUMBER = {}
for noun in LEXICON.nouns:
    NOUN_NUMBER[noun.singular], NOUN_NUMBER[noun.plural] = False, True
VERB_LEMMA = {}
for verb in LEXICON.verbs:
    VERB_LEMMA[verb.singular] = VERB_LEMMA[verb.plural] = verb.singular
NOUN_LEMMA = {f: n.singular for n in LEXICON.nouns for f in (n.singular, n.plural)}
VERB_PLURAL = {v.plural for v in LEXICON.verbs}
DETS = {d for ds in DETERMINERS.values() for d in ds}


def surface_parse(tokens):
    """Subject, main verb and the nouns between them, from the surface alone: the main verb is the
    last verb form (objects are plain noun phrases); the subject is the first noun after a preposed
    phrase's comma, else the first noun."""
    verb = max(i for i, t in enumerate(tokens) if t in VERB_LEMMA)
    start = tokens.index(",") + 1 if "," in tokens[:verb] else 0
    subject = next(i for i in range(start, verb) if tokens[i] in NOUN_NUMBER)
    between = [i for i in range(subject + 1, verb) if tokens[i] in NOUN_NUMBER]
    return subject, verb, between


def test_lexicon_is_large_with_irregular_forms():
    assert len(LEXICON.nouns) >= 100 and len(LEXICON.verbs) >= 50
    plurals = {n.singular: n.plural for n in LEXICON.nouns}
    assert plurals["child"] == "children" and plurals["mouse"] == "mice" and plurals["tooth"] == "teeth"
    forms = {(v.singular, v.plural) for v in LEXICON.verbs}
    assert {("is", "are"), ("has", "have"), ("was", "were"), ("praises", "praise")} <= forms
    # no form is both a noun and a verb: number look-ups are unambiguous
    assert not set(NOUN_NUMBER) & set(VERB_LEMMA)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), attractors=st.integers(0, 4))
def test_annotation_matches_an_independent_parse(seed, attractors):
    s = Grammar(random.Random(seed), max_modifiers=4).sentence(attractors=attractors)
    subject, verb, between = surface_parse(s.tokens)
    assert (s.subject_index, s.verb_index) == (subject, verb)
    assert NOUN_NUMBER[s.tokens[subject]] == s.subject_plural
    # the correct form agrees with the subject; the wrong form is the same verb in the other number
    assert (s.correct_form in VERB_PLURAL) == s.subject_plural
    assert VERB_LEMMA[s.wrong_form] == VERB_LEMMA[s.correct_form] and s.wrong_form != s.correct_form
    recount = sum(NOUN_NUMBER[s.tokens[i]] != s.subject_plural for i in between)
    assert s.attractors == recount == attractors
    assert s.distance == verb - subject
    nouns_before = [i for i in range(verb) if s.tokens[i] in NOUN_NUMBER]
    assert s.nearest_noun_plural == NOUN_NUMBER[s.tokens[nouns_before[-1]]]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_free_sentences_parse_too(seed):
    for s in generate(5, seed, max_modifiers=4):
        subject, verb, between = surface_parse(s.tokens)
        assert (s.subject_index, s.verb_index) == (subject, verb)
        assert s.attractors == sum(NOUN_NUMBER[s.tokens[i]] != s.subject_plural for i in between)


def test_generation_is_deterministic_in_the_seed():
    a, b, c = generate(50, 3), generate(50, 3), generate(50, 4)
    assert [s.tokens for s in a] == [s.tokens for s in b]
    assert [s.tokens for s in a] != [s.tokens for s in c]


def test_heldout_pairs_leave_every_word_some_training_pairs():
    held = heldout_pairs(0, 0.2)
    pairs = {(n.singular, v.singular) for n in LEXICON.nouns for v in LEXICON.verbs if LEXICON.selects(v, n)}
    assert held < pairs and 0.15 * len(pairs) < len(held) <= 0.2 * len(pairs) + 1
    for n in LEXICON.nouns:
        assert any((n.singular, v.singular) in pairs - held for v in LEXICON.verbs)
    for v in LEXICON.verbs:
        assert any((n.singular, v.singular) in pairs - held for n in LEXICON.nouns)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10**5))
def test_no_test_item_occurs_in_training(seed):
    held = heldout_pairs(seed, 0.2)
    train_grammar, test_grammar = split_grammars(seed, held)
    train = [train_grammar.sentence() for _ in range(300)]
    test = [test_grammar.sentence(attractors=k % 5) for k in range(50)]
    # every agreement pair in training (main and relative-clause verbs) is a training pair
    for s in train:
        for noun_index, verb_index in s.agreements:
            assert (NOUN_LEMMA[s.tokens[noun_index]], VERB_LEMMA[s.tokens[verb_index]]) not in held
    train_prefixes = {tuple(s.tokens[:s.verb_index + 1]) for s in train}
    for s in test:
        subject, verb, _ = surface_parse(s.tokens)
        assert (NOUN_LEMMA[s.tokens[subject]], VERB_LEMMA[s.tokens[verb]]) in held
        assert tuple(s.tokens[:verb + 1]) not in train_prefixes


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), attractors=st.integers(0, 4))
def test_nonce_variant_keeps_structure_and_numbers(seed, attractors):
    s = Grammar(random.Random(seed), max_modifiers=4).sentence(attractors=attractors)
    n = nonce_variant(s, random.Random(seed + 1))
    assert len(n.tokens) == len(s.tokens) and n.tokens[n.verb_index] == s.tokens[s.verb_index]
    for old, new, cls in zip(s.tokens, n.tokens, s.classes):
        if cls == "noun":
            assert NOUN_NUMBER[old] == NOUN_NUMBER[new]
        elif cls == "verb":
            assert (old in VERB_PLURAL) == (new in VERB_PLURAL)
        elif cls == "adj":
            assert new in ADJECTIVES
        elif cls not in ("adv",):
            assert old == new  # function words stay
    _, _, between = surface_parse(n.tokens)
    assert n.attractors == attractors == sum(NOUN_NUMBER[n.tokens[i]] != n.subject_plural for i in between)


def test_legacy_interface_used_by_grammar_lm():
    sentences = generate(20, 0, max_modifiers=3)
    assert all(s.tokens[-1] == "." and s.attractors <= 3 for s in sentences)
    assert max(len(s.modifiers) for s in generate(300, 0, max_modifiers=1)) == 1


# --------------------------------------------------------------------------- shapes and probe frames

COMPLEMENT_FORMS = {f for v in COMPLEMENT_VERBS for f in (v.singular, v.plural)}


def test_default_output_is_unchanged_for_the_tasks_that_use_it():
    """grammar_lm, recall, gradients and bidirectional build corpora with generate()/Grammar(): the digests
    were taken from the grammar before shapes and frames were added (commit 20e24d8)."""
    def digest(ss):
        text = "|".join(" ".join(s.tokens) + str(s.subject_index) + str(s.verb_index) + s.construction + s.shape
                        for s in ss)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    assert digest(generate(300, 7, max_modifiers=3)) == "0de4660db68bb614"
    assert digest(generate(300, 11, max_modifiers=4, modifier_prob=0.35)) == "551c31a2acb25686"
    g = Grammar(random.Random(5), max_modifiers=4)
    assert digest([g.sentence(attractors=i % 5) for i in range(100)]) == "a0d191ada6b1216c"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), shape=st.sampled_from(["plain", "preposed_pp", "complement"]),
       flags=st.lists(st.booleans(), max_size=4), subject=st.booleans(), fronted=st.booleans())
def test_explicit_frames_parse_and_count(seed, shape, flags, subject, fronted):
    s = Grammar(random.Random(seed)).sentence(shape=shape, subject_plural=subject, mismatches=flags,
                                              fronted_plural=fronted)
    verb = max(i for i, t in enumerate(s.tokens) if t in VERB_LEMMA)
    # the subject: first noun after the fronted phrase's comma or the complement's 'that'
    start = 0
    if shape == "preposed_pp":
        start = s.tokens.index(",") + 1
    elif shape == "complement":
        start = s.tokens.index("that") + 1
        matrix_verb = s.tokens[start - 2]  # "the managers say that …": it agrees with the fronted noun
        assert matrix_verb in COMPLEMENT_FORMS and matrix_verb.endswith("s") != fronted
    subject_index = next(i for i in range(start, verb) if s.tokens[i] in NOUN_NUMBER)
    between = [i for i in range(subject_index + 1, verb) if s.tokens[i] in NOUN_NUMBER]
    assert (s.subject_index, s.verb_index) == (subject_index, verb)
    assert NOUN_NUMBER[s.tokens[subject_index]] == subject == s.subject_plural
    assert [NOUN_NUMBER[s.tokens[i]] != subject for i in between] == flags
    assert s.intervening_nouns == len(flags) and s.attractors == sum(flags)
    first = next(i for i, t in enumerate(s.tokens) if t in NOUN_NUMBER)
    assert NOUN_NUMBER[s.tokens[first]] == (subject if shape == "plain" else fronted) == s.first_noun_plural


def test_variants_of_a_frame_differ_only_in_number():
    def variant(flags):
        return Grammar(random.Random(42)).sentence(shape="complement", subject_plural=False, mismatches=flags,
                                                   fronted_plural=True)
    a, b = variant([False, False, False]), variant([True, False, True])
    assert len(a.tokens) == len(b.tokens) and a.classes == b.classes
    for x, y in zip(a.tokens, b.tokens):
        if x != y:  # a noun, a determiner or a verb form agreeing with a noun: never another word
            lemma = lambda w: NOUN_LEMMA.get(w) or VERB_LEMMA.get(w) or ("det" if w in DETS else w)
            assert lemma(x) == lemma(y)
    assert (a.attractors, b.attractors) == (0, 2)
