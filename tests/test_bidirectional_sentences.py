"""The bidirectional tasks' sentences: what decides each tag, and what a label depends on."""
import random

from hypothesis import given, settings, strategies as st

from tasks.bidirectional.sentences import (
    BOTH_SIDES, INTENSIFIERS, LOCAL, NEGATIVE, POSITIVE, RESERVED, RIGHT_ONLY, NeutralText, classified_sentence,
    filler_clauses, tagged_sentence)


def polarity(word: str) -> bool | None:
    return True if word in POSITIVE else False if word in NEGATIVE else None


def sentences(seed: int, n: int, min_aside: int = 0, max_aside: int = 6):
    rng, neutral = random.Random(seed), NeutralText(seed + 1)
    return [tagged_sentence(rng, neutral, 2, 2, min_aside, max_aside) for _ in range(n)]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_an_intensifier_is_tagged_with_the_polarity_of_the_next_adjective(seed):
    for sent in sentences(seed, 5):
        assert len(sent.words) == len(sent.tags) == len(sent.kinds)
        for i, word in enumerate(sent.words):
            if word in INTENSIFIERS:
                following = next(p for w in sent.words[i + 1:] if (p := polarity(w)) is not None)
                assert sent.tags[i] == ("INT+" if following else "INT-")
                assert sent.kinds[i] in (RIGHT_ONLY, BOTH_SIDES)
            else:
                assert sent.kinds[i] == LOCAL


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_left_context_entails_exactly_the_both_sides_tags(seed):
    """Reading left to right: no earlier adjective → right_only; otherwise the earlier adjective and
    the conjunction since ('and' keeps the polarity, 'but' flips it) give the tag."""
    for sent in sentences(seed, 5):
        for i in sent.positions(RIGHT_ONLY) + sent.positions(BOTH_SIDES):
            earlier = [(j, p) for j, w in enumerate(sent.words[:i]) if (p := polarity(w)) is not None]
            if not earlier:
                assert sent.kinds[i] == RIGHT_ONLY
                continue
            assert sent.kinds[i] == BOTH_SIDES
            j, p = earlier[-1]
            conjunctions = [w for w in sent.words[j + 1:i] if w in ("and", "but")]
            assert len(conjunctions) == 1
            entailed = p if conjunctions[0] == "and" else not p
            assert sent.tags[i] == ("INT+" if entailed else "INT-")


def test_only_intensifiers_need_context_and_both_kinds_are_common():
    corpus = sentences(0, 2000)
    tags_of: dict[str, set[str]] = {}
    for s in corpus:
        for w, t in zip(s.words, s.tags):
            tags_of.setdefault(w, set()).add(t)
    for word, tags in tags_of.items():
        if word in INTENSIFIERS:
            assert tags == {"INT+", "INT-"}, word  # a tagger must look at the context
        else:
            assert len(tags) == 1, (word, tags)  # the word itself decides (asides included)
    right = sum(len(s.positions(RIGHT_ONLY)) for s in corpus)
    both = sum(len(s.positions(BOTH_SIDES)) for s in corpus)
    assert 1200 < right < 2000 and 1800 < both < 3000  # 80 % of clauses have an intensifier; 1–2 later clauses


def test_asides_are_neutral_and_as_long_as_asked():
    for s in sentences(3, 200, min_aside=5, max_aside=5):
        commas_around = [i for i, w in enumerate(s.words) if w in ("and", "but")]
        for i in commas_around:
            aside = s.words[i - 6:i - 1]
            assert s.words[i - 1] == "," and s.words[i - 7] == ","
            assert not RESERVED.intersection(aside) and len(aside) == 5
        assert all(s.asides[i] == 5 for i in s.positions(BOTH_SIDES))
    for s in sentences(4, 50, min_aside=0, max_aside=0):  # no aside: 'exciting but really dull'
        assert set(s.asides) == {0}
        assert all(polarity(s.words[i - 1]) is not None for i, w in enumerate(s.words) if w in ("and", "but"))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_sentence_label_is_the_polarity_of_its_only_adjective(seed):
    filler = filler_clauses(1, seed, 4, 12)[0]
    words, label = classified_sentence(random.Random(seed), filler, 1)
    adjectives = [w for w in words if polarity(w) is not None]
    assert len(adjectives) == 1 and label == int(polarity(adjectives[0]))
    assert words.index(adjectives[0]) < 7 and words[-len(filler):] == filler  # the label comes first
    assert 4 <= len(filler) <= 12 and filler[-1] == "."
    assert not RESERVED.intersection(filler)
