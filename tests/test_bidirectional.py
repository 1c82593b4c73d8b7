"""Bidirectional tasks: the data's labels, padding-safe bidirectional models, metrics and the claim's rule."""
import random

import pytest
import torch
from hypothesis import given, settings, strategies as st

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data import Example, collate
from suite.models import build_model
from suite.sweep import PRESETS, Overrides, expand
from suite.tasks import check_run_config, get_task
from tasks.bidirectional import (
    DECIDED_TAGS, INTENSIFIERS, NEGATIVE, POSITIVE, SENTIMENT_WORDS, Tagged, bidirectional_claim,
    classified_sentence, classify_metrics, comparison_table, filler_clauses, tag_metrics, tagged_sentence)

torch.set_num_threads(1)


# --------------------------------------------------------------------------- the data


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), max_gap=st.integers(0, 3))
def test_an_intensifier_is_tagged_with_the_polarity_of_the_next_adjective(seed, max_gap):
    sent = tagged_sentence(random.Random(seed), max_gap)
    assert len(sent.words) == len(sent.tags)
    for i in sent.decided:
        assert sent.words[i] in INTENSIFIERS
        adjective = next(w for w in sent.words[i + 1:] if w in POSITIVE or w in NEGATIVE)
        assert sent.tags[i] == ("INT+" if adjective in POSITIVE else "INT-")
        # The deciding word is to the right: nothing up to the intensifier tells the polarity.
        assert not any(w in POSITIVE or w in NEGATIVE for w in sent.words[max(0, i - 1):i + 1])


def test_only_intensifiers_need_the_right_context():
    rng = random.Random(0)
    corpus = [tagged_sentence(rng, 2) for _ in range(2000)]
    tags_of: dict[str, set[str]] = {}
    for s in corpus:
        for w, t in zip(s.words, s.tags):
            tags_of.setdefault(w, set()).add(t)
    for word, tags in tags_of.items():
        if word in INTENSIFIERS:
            assert tags == set(DECIDED_TAGS), word  # a left-to-right tagger must guess
        else:
            assert len(tags) == 1, word  # the word itself decides


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_sentence_label_is_the_polarity_of_its_only_adjective(seed):
    filler = filler_clauses(1, seed, 4, 12)[0]
    words, label = classified_sentence(random.Random(seed), filler, 1)
    adjectives = [w for w in words if w in POSITIVE or w in NEGATIVE]
    assert len(adjectives) == 1 and label == int(adjectives[0] in POSITIVE)
    assert 4 <= len(filler) <= 12 and filler[-1] == "."
    assert not SENTIMENT_WORDS.intersection(filler)


# --------------------------------------------------------------------------- padded bidirectional batches


@pytest.mark.parametrize("arch,layers,skip", [("lstm", 1, "none"), ("gru", 2, "residual"),
                                              ("rnn_tanh", 2, "highway")])
@pytest.mark.parametrize("objective", ["tag", "classify"])
def test_padded_bidirectional_batch_equals_each_sentence_alone(arch, layers, skip, objective):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, layers=layers, skip=skip, hidden=8, bidirectional=True),
                        30, objective, 3).eval()
    sentences = [[3, 4, 5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15]]
    target = (lambda s: [0] * len(s)) if objective == "tag" else (lambda s: 0)
    batch = collate([Example(s, target(s)) for s in sentences])
    with torch.no_grad():
        padded, _ = model(batch.inputs, None, batch.lengths)
        for row, s in enumerate(sentences):
            alone, _ = model(torch.tensor([s]))  # no padding, no lengths: the plain fused path
            got = padded[row, :len(s)] if objective == "tag" else padded[row]
            assert torch.allclose(got, alone[0], atol=1e-5)


# --------------------------------------------------------------------------- metrics


def test_tag_metrics_count_decided_and_local_tokens_separately():
    sent = Tagged(["the", "film", "was", "terribly", "dull", "."],
                  ["DET", "NOUN", "VERB", "INT-", "ADJ-", "PUNCT"])
    guess = ["DET", "NOUN", "VERB", "INT+", "ADJ-", "ADV"]  # wrong on the intensifier and the full stop
    m = tag_metrics([sent, sent], [guess, sent.tags])
    assert (m["decided_correct"], m["decided_total"]) == (1, 2)
    assert (m["local_correct"], m["local_total"]) == (9, 10)
    assert m["token_accuracy"] == pytest.approx(10 / 12)


def test_classify_metrics_split_off_long_fillers():
    examples = [Example([1], 1), Example([1], 0), Example([1], 1)]
    m = classify_metrics([1, 1, 0], examples, filler_lengths=[5, 20, 30], long_from=15)
    assert (m["correct"], m["total"], m["long_correct"], m["long_total"]) == (1, 3, 0, 2)


# --------------------------------------------------------------------------- variants and validation


def test_each_recurrent_model_gets_its_bidirectional_twin():
    task = get_task("bidir_tag")
    assert task.variants(ModelConfig(arch="gru"), "quick") == [{}, {"model": {"bidirectional": True}}]
    assert task.variants(ModelConfig(arch="gru", bidirectional=True), "quick") == [{}]
    assert task.variants(ModelConfig(arch="transformer"), "quick") == [{}]
    labels = {c.model.label for c in expand(PRESETS["quick"], Overrides(tasks=("bidir_tag",)))}
    assert {"lstm", "bi-lstm", "lstm×2", "bi-lstm×2", "bi-rnn_tanh", "bi-gru"} <= labels


def test_bad_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="max_filler"):
        check_run_config(RunConfig("bidir_classify", options={"min_filler": 9, "max_filler": 3}))
    with pytest.raises(ConfigError, match="train_sentences"):
        check_run_config(RunConfig("bidir_tag", options={"train_sentences": 0}))


# --------------------------------------------------------------------------- real training


def test_only_the_bidirectional_tagger_learns_the_right_context_tags():
    task = get_task("bidir_tag")
    train = TrainConfig(steps=80, batch_size=32, lr=1e-2, eval_every=80)
    options = {"train_sentences": 800, "eval_sentences": 200, "max_gap": 1}
    result = {}
    for bi in (False, True):
        cfg = RunConfig("bidir_tag", ModelConfig(arch="gru", hidden=16, bidirectional=bi), train, 0, options)
        result[bi] = task.run(cfg).metrics
    assert result[True]["decided_accuracy"] > 0.95
    assert 0.3 < result[False]["decided_accuracy"] < 0.7  # a coin flip: the deciding word is unseen
    assert result[False]["local_accuracy"] > 0.95


# --------------------------------------------------------------------------- the claim's rule


def record(label, bi, seed, correct, total=400):
    return {"label": ("bi-" if bi else "") + label, "status": "ok",
            "config": {"task": "bidir_tag", "seed": seed, "model": {"bidirectional": bi}},
            "metrics": {"decided_accuracy": correct / total, "decided_correct": correct, "decided_total": total}}


def runs(uni, bi, cells=("lstm", "gru")):
    return [record(c, False, s, x) for c in cells for s, x in enumerate(uni)] + \
           [record(c, True, s, x) for c in cells for s, x in enumerate(bi)]


def test_claim_reproduced_when_every_bidirectional_interval_lies_above():
    claim = bidirectional_claim(runs([200, 205, 198], [398, 400, 399]))
    assert claim.verdict == REPRODUCED and "lstm" in claim.evidence and "gru" in claim.evidence


def test_claim_not_reproduced_when_bidirectional_is_clearly_worse():
    assert bidirectional_claim(runs([390, 392, 391], [200, 210, 205])).verdict == NOT_REPRODUCED


def test_claim_inconclusive_when_intervals_overlap():
    claim = bidirectional_claim(runs([200, 300, 250], [240, 320, 280]))
    assert claim.verdict == INCONCLUSIVE and "overlap" in claim.why


def test_one_seed_uses_a_wilson_interval_over_tokens():
    assert bidirectional_claim(runs([200], [390])).verdict == REPRODUCED
    close = bidirectional_claim(runs([200], [210]))
    assert close.verdict == INCONCLUSIVE and "wilson" in close.evidence


def test_claim_inconclusive_when_a_twin_is_missing():
    claim = bidirectional_claim(runs([200, 201], [399, 398], cells=("lstm",))
                                + [record("gru", False, 0, 200)])
    assert claim.verdict == INCONCLUSIVE and "gru: missing bidirectional runs" in claim.why


def test_comparison_table_marks_its_interval_kind():
    table = comparison_table(runs([200], [390], cells=("lstm",)),
                             {"decided_accuracy": ("decided_correct", "decided_total")})
    assert list(table["direction"]) == ["uni", "bi"] or list(table["direction"]) == ["bi", "uni"]
    assert set(table["interval"]) == {"wilson over items (1 seed)"}
    uni = table[table["direction"] == "uni"].iloc[0]
    assert uni["decided_accuracy"] == pytest.approx(0.5)
    assert uni["decided_accuracy_low"] < 0.5 < uni["decided_accuracy_high"]


def test_plots_are_written(tmp_path):
    for records in (runs([200, 205], [398, 400]), runs([200], [400])):  # t and Wilson (at p = 1) whiskers
        paths = get_task("bidir_tag").plots(records, tmp_path)
        assert len(paths) == 1 and paths[0].exists() and paths[0].stat().st_size > 1000
