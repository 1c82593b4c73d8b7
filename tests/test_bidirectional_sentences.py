"""The tagging sentences: what decides each tag, and how far ahead the deciding word lies."""
import random
from collections import Counter

from hypothesis import given, settings, strategies as st

from tasks.bidirectional.sentences import (
    BOTH_SIDES, GAP_ADVERBS, INTENSIFIERS, LOCAL, NEGATIVE, POSITIVE, RESERVED, RIGHT_ONLY, NeutralText,
    tagged_sentence)


def polarity(word: str) -> bool | None:
    return True if word in POSITIVE else False if word in NEGATIVE else None


def sentences(seed: int, n: int, distances=(1, 8), asides=(0, 6), clauses=2):
    rng, neutral = random.Random(seed), NeutralText(seed + 1)
    return [tagged_sentence(rng, neutral, distances, clauses, asides) for _ in range(n)]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_an_intensifier_is_tagged_by_the_adjective_exactly_its_distance_on(seed):
    for sent in sentences(seed, 5):
        assert len(sent.words) == len(sent.tags) == len(sent.kinds) == len(sent.distances)
        for i, word in enumerate(sent.words):
            if word in INTENSIFIERS:
                d = sent.distances[i]
                assert 1 <= d <= 8 and polarity(sent.words[i + d]) is not None
                assert all(polarity(w) is None for w in sent.words[i + 1:i + d])  # nothing nearer decides
                assert set(sent.words[i + 1:i + d]) <= set(GAP_ADVERBS) | {","}
                assert sent.tags[i] == ("INT+" if polarity(sent.words[i + d]) else "INT-")
                assert sent.kinds[i] in (RIGHT_ONLY, BOTH_SIDES)
            else:
                assert sent.kinds[i] == LOCAL and sent.distances[i] == 0


@settings(max_examples=15, deadline=None)
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
            assert sent.tags[i] == ("INT+" if (p if conjunctions[0] == "and" else not p) else "INT-")


def test_distances_cover_the_range_evenly_and_the_gap_is_not_an_adverb_count():
    corpus = sentences(0, 1600, distances=(1, 8))
    right = Counter(s.distances[i] for s in corpus for i in s.positions(RIGHT_ONLY))
    assert set(right) == set(range(1, 9))
    assert min(right.values()) > 0.7 * max(right.values())  # uniform: ≈ 160 each
    gaps = [s.words[i + 1:i + s.distances[i]] for s in corpus for i in s.positions(RIGHT_ONLY)]
    with_comma = [g for g in gaps if "," in g]
    assert len(with_comma) > 0.2 * sum(len(g) >= 3 for g in gaps)
    for g in with_comma:  # never first, last or twice in a row
        assert g[0] != "," and g[-1] != "," and ", ," not in " ".join(g)


def test_only_intensifiers_need_context_and_both_kinds_are_common():
    corpus = sentences(0, 1000, clauses=1)
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
    assert 720 < right < 880 and 720 < both < 880  # 80 % of adjectives come with an intensifier


def test_asides_are_neutral_and_as_long_as_asked():
    for s in sentences(3, 200, asides=(5, 5)):
        for i, w in enumerate(s.words):
            if w in ("and", "but"):
                aside = s.words[i - 6:i - 1]
                assert s.words[i - 1] == "," and s.words[i - 7] == ","
                assert not RESERVED.intersection(aside) and len(aside) == 5
    for s in sentences(4, 50, asides=(0, 0)):  # no aside: 'exciting but really dull'
        assert all(polarity(s.words[i - 1]) is not None for i, w in enumerate(s.words) if w in ("and", "but"))
