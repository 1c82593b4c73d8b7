"""Specification of the long-distance recall task: story generator, scoring, span, tables, claim."""
from __future__ import annotations

import itertools
import math
import random

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data import IGNORE, Vocab
from tasks.recall import (DISTRACTOR_TEMPLATES, ITEMS, LSTM_FORGET_BIAS, TEMPLATES, FillerPool, Recall,
                          accuracy_table, filler_pools, gated_span_claim, make_stories, make_story,
                          memory_span, plot_accuracy, recall_metrics, span_table, story_example)

OPTS = {**Recall.default_options, "pool_sentences": 600}
POOLS = filler_pools(OPTS, seed=0)
DISTRACTOR_SENTENCES = {tuple(t.format(i).split()) for ts in DISTRACTOR_TEMPLATES.values() for t in ts
                        for i in ITEMS}


def filler_words(story):
    return [w for s in story.filler for w in s]


# --------------------------------------------------------------------------- generator invariants


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.sampled_from([0, 4, 5, 9, 17, 50, 123]),
       rate=st.floats(0, 1), k=st.integers(2, len(ITEMS)))
def test_story_invariants(seed, d, rate, k):
    items = ITEMS[:k]
    story = make_story(random.Random(seed), d, POOLS["train"], items, rate)
    intro_phrases = {tuple(i.split()): tuple(r.split()) for i, r in TEMPLATES}
    intro_words, key_in_intro = story.intro[:-2], story.intro[-2]
    # the recalled key is the introduced one, after the recall phrase paired with the intro
    assert key_in_intro == story.key and story.key in items
    assert story.tokens[len(story.prefix)] == story.key
    assert intro_phrases[intro_words] == story.recall
    # filler lengths are exact
    assert len(filler_words(story)) == d == story.distance
    assert len(story.prefix) == len(story.intro) + d + len(story.recall)
    # distractors are other items, each planted in its own sentence; the key never appears in the filler
    assert story.key not in story.distractors
    assert story.key not in filler_words(story)
    assert all(x in items for x in story.distractors)
    mentioned = [w for w in filler_words(story) if w in ITEMS]
    assert mentioned == list(story.distractors)
    assert all(s in DISTRACTOR_SENTENCES for s in story.filler if set(s) & set(ITEMS))
    if rate == 0:
        assert story.distractors == ()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000))
def test_train_and_test_filler_are_disjoint(seed):
    pools = filler_pools({**OPTS, "pool_sentences": 300}, seed)
    train = make_stories(300, (0, 40), pools["train"], ITEMS, 0.3, seed)
    test = make_stories(100, (50, 50), pools["test"], ITEMS, 0.3, seed + 1)
    train_sentences = {s for story in train for s in story.filler}
    test_sentences = {s for story in test for s in story.filler}
    assert train_sentences and test_sentences
    assert not train_sentences & test_sentences


def test_filler_file_splits_are_disjoint_and_errors_name_the_line(tmp_path):
    lines = [f"line number {i} of the corpus ." for i in range(60)] + ["", "she kept her tickets ."]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines))
    pools = filler_pools({**OPTS, "filler_file": str(path)}, seed=3)
    sentences = {k: {s for group in p.by_length.values() for s in group} for k, p in pools.items()}
    assert not sentences["train"] & sentences["test"] and not sentences["train"] & sentences["valid"]
    assert sum(len(s) for s in sentences.values()) == 60  # blank line skipped, item sentence dropped
    path.write_text("fine .\n" + " ".join(["w"] * 201) + "\n")
    with pytest.raises(ConfigError, match=r"corpus.txt:2:"):
        filler_pools({**OPTS, "filler_file": str(path)}, seed=0)


@settings(max_examples=40, deadline=None)
@given(lengths=st.sets(st.integers(2, 9), min_size=1, max_size=3), d=st.integers(0, 40))
def test_reachable_matches_brute_force(lengths, d):
    pool = FillerPool([("w",) * n for n in lengths])
    brute = any(sum(c) == d for r in range(0, d // min(lengths) + 1)
                for c in itertools.combinations_with_replacement(sorted(lengths), r))
    assert pool.reachable(d) == brute


def test_unfillable_distance_is_a_config_error():
    pool = FillerPool([("a", "b", "c", "d")])
    with pytest.raises(ConfigError, match="exactly 6 tokens"):
        make_story(random.Random(0), 6, pool, ITEMS, 0.0)


# --------------------------------------------------------------------------- metrics on hand-built models


class PointerModel(nn.Module):
    """Predicts an item seen in its input: the first one ever ('first'), the most recent one ('last'),
    or the first within the last `window` tokens ('window', falling back to `fallback`)."""

    def __init__(self, vocab: Vocab, mode: str, window: int = 0, fallback: str = "pens"):
        super().__init__()
        self.vocab_size, self.mode, self.window = len(vocab), mode, window
        self.item_ids = set(vocab.encode(ITEMS))
        self.fallback = vocab.stoi[fallback]

    def forward(self, tokens, state=None, lengths=None):
        batch, steps = tokens.shape
        logits = torch.zeros(batch, steps, self.vocab_size)
        for b in range(batch):
            row = tokens[b].tolist()
            for t in range(steps):
                logits[b, t, self.choose(row[:t + 1])] = 10.0
        return logits, None

    def choose(self, seen):
        if self.mode == "window":
            seen = seen[-self.window:]
        found = [x for x in seen if x in self.item_ids]
        if not found:
            return self.fallback
        return found[-1] if self.mode == "last" else found[0]


def story_sets(distances, rate, n=40, seed=0):
    return {d: make_stories(n, (d, d), POOLS["test"], ITEMS, rate, seed + d) for d in distances}


VOCAB = Vocab(ITEMS + ("she", "he"))  # the hand-built models only need the item ids


def test_first_item_model_recalls_everything_and_never_picks_the_recent_distractor():
    stories = story_sets([5, 20, 50], rate=0.5)
    m = recall_metrics(PointerModel(VOCAB, "first"), stories, VOCAB, ITEMS, trained_max=20)
    assert [r["accuracy"] for r in m["by_distance"]] == [1.0, 1.0, 1.0]
    assert m["span"] == 50 and m["chance"] == pytest.approx(1 / 24)
    assert [r["extrapolation"] for r in m["by_distance"]] == [False, False, True]
    assert all(r["recency_rate"] == 0.0 for r in m["by_distance"] if r["recency_n"])
    assert all(r["key_logprob"] > -0.01 for r in m["by_distance"])


def test_most_recent_item_model_is_caught_by_the_recency_rate():
    stories = story_sets([20, 50], rate=0.5)
    m = recall_metrics(PointerModel(VOCAB, "last"), stories, VOCAB, ITEMS, trained_max=50)
    for row in m["by_distance"]:
        group = stories[row["d"]]
        without = sum(1 for s in group if not s.distractors)
        assert row["recency_n"] == len(group) - without > 0
        assert row["recency_rate"] == 1.0
        assert row["accuracy"] == pytest.approx(without / len(group))


def test_window_model_has_the_span_its_window_allows():
    window = 30
    stories = story_sets([5, 10, 20, 50, 100], rate=0.0)
    m = recall_metrics(PointerModel(VOCAB, "window", window), stories, VOCAB, ITEMS, trained_max=50)
    for row in m["by_distance"]:  # ground truth from story positions: is the key within the window?
        group = stories[row["d"]]
        # model input is <eos> + prefix; the key sits at index len(intro) - 1 of it
        hits = sum(1 for s in group if (len(s.prefix) + 1) - (len(s.intro) - 1) <= window or s.key == "pens")
        assert row["correct"] == hits
    assert m["span"] == 20


def test_memory_span_closed_form():
    chance = 0.1  # threshold 0.55
    assert memory_span({5: 0.9, 10: 0.6, 20: 0.55, 50: 0.2}, chance) == 20
    assert memory_span({5: 0.9, 10: 0.3, 20: 0.9}, chance) == 5  # the span stops at the first failure
    assert memory_span({5: 0.5, 10: 0.9}, chance) == 0


# --------------------------------------------------------------------------- tables, plot, claim


def record(label, seed, spans_or_acc, chance=0.05, n=100, status="ok"):
    """A constructed run record: `spans_or_acc` is {d: accuracy}."""
    rows = [{"d": d, "extrapolation": d > 20, "n": n, "correct": round(a * n), "accuracy": a,
             "key_logprob": math.log(max(a, 1e-3)), "recency_n": 10, "recency_choices": 1, "recency_rate": 0.1}
            for d, a in sorted(spans_or_acc.items())]
    acc = {r["d"]: r["accuracy"] for r in rows}
    arch, _, layers = label.partition("×")
    return {"run_id": f"{label}-{seed}", "label": label, "status": status,
            "config": {"task": "recall", "seed": seed, "model": {"arch": arch, "layers": int(layers or 1)}},
            "metrics": {"chance": chance, "trained_max_distance": 20, "by_distance": rows,
                        "span": memory_span(acc, chance), "mean_accuracy": sum(acc.values()) / len(acc)}}


def curve(span):
    """Accuracies on the grid (5, 10, 20, 50, 100) that give exactly this span."""
    return {d: (0.95 if d <= span else 0.1) for d in (5, 10, 20, 50, 100)}


def records_with(spans):
    return [record(label, seed, curve(s)) for label, seeds in spans.items() for seed, s in enumerate(seeds)]


def test_claim_reproduced_when_both_gated_spans_lie_above():
    claim = gated_span_claim(records_with({"rnn_tanh": [5, 5, 10], "lstm": [100, 100, 100], "gru": [50, 50, 50]}))
    assert claim.verdict == REPRODUCED
    assert "rnn_tanh span 6.67" in claim.evidence


def test_claim_not_reproduced_when_a_gated_span_lies_below():
    claim = gated_span_claim(records_with({"rnn_tanh": [50, 50, 50], "lstm": [100, 100, 100], "gru": [5, 5, 5]}))
    assert claim.verdict == NOT_REPRODUCED and "gru" in claim.why


@pytest.mark.parametrize("spans, why", [
    ({"rnn_tanh": [5, 20, 50], "lstm": [20, 50, 100], "gru": [50, 50, 100]}, "overlap"),
    ({"rnn_tanh": [5], "lstm": [100], "gru": [100]}, "fewer than 2 seeds"),
    ({"rnn_tanh": [5, 5], "lstm": [100, 100]}, "missing runs: gru"),
])
def test_claim_inconclusive(spans, why):
    claim = gated_span_claim(records_with(spans))
    assert claim.verdict == INCONCLUSIVE and why in claim.why


def test_claim_ignores_failed_and_other_task_records():
    recs = records_with({"rnn_tanh": [5, 5, 5], "lstm": [100, 100, 100], "gru": [100, 100, 100]})
    recs.append({**record("rnn_tanh", 9, curve(100)), "status": "diverged"})
    recs.append({**record("rnn_tanh", 8, curve(100)), "config": {"task": "other", "seed": 8, "model": {}}})
    assert gated_span_claim(recs).verdict == REPRODUCED


def test_accuracy_table_uses_t_over_seeds_and_wilson_for_one_seed():
    recs = [record("lstm", s, {5: a, 50: a / 2}) for s, a in enumerate([0.6, 0.7, 0.8])]
    recs.append(record("gru", 0, {5: 0.5, 50: 0.25}, n=100))
    table = accuracy_table(recs).set_index("model")
    half = 4.303 * 0.1 / math.sqrt(3)  # t(2) × sd / √n for 0.6, 0.7, 0.8
    assert table.loc["lstm", "d=5"] == pytest.approx(0.7)
    assert table.loc["lstm", "d=5_low"] == pytest.approx(0.7 - half)
    assert "d=50*" in table.columns  # trained up to 20: 50 is extrapolation
    # Wilson interval for 50 / 100, by the closed form
    z, p, n = 1.96, 0.5, 100
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    assert table.loc["gru", "d=5_low"] == pytest.approx(centre - spread)
    assert table.loc["gru", "ci"].startswith("Wilson")


def test_span_table_and_plot(tmp_path):
    recs = records_with({"rnn_tanh": [5, 10, 5], "lstm": [50, 50, 100]}) + [record("gru", 0, curve(20), n=400)]
    table = span_table(recs).set_index("model")
    assert table.loc["lstm", "span"] == pytest.approx(200 / 3)
    assert table.loc["gru", "span"] == 20 and table.loc["gru", "ci"].startswith("bootstrap")
    assert table.loc["gru", "span_low"] <= 20 <= table.loc["gru", "span_high"]
    path = plot_accuracy(recs, tmp_path / "recall.png")
    assert path.stat().st_size > 1000


# --------------------------------------------------------------------------- the task end to end


def test_key_only_loss_targets_exactly_the_recalled_key():
    story = make_story(random.Random(4), 9, POOLS["train"], ITEMS, 0.5)
    vocab = Vocab.from_corpus([story.tokens])
    key_only, full = story_example(story, vocab, "key"), story_example(story, vocab, "all")
    assert full.tokens == key_only.tokens == [vocab.eos_id, *vocab.encode(story.tokens)]
    targets = [(i, t) for i, t in enumerate(key_only.target) if t != IGNORE]
    assert len(targets) == 1
    at, target = targets[0]
    assert target == vocab.stoi[story.key] and key_only.tokens[at] == vocab.stoi[story.recall[-1]]
    assert IGNORE not in full.target and full.target[at] == target


def test_only_lstms_get_the_forget_gate_bias():
    task = Recall()
    assert task.variants(ModelConfig(arch="lstm", layers=2), "quick") == [{"model": {"forget_bias": LSTM_FORGET_BIAS}}]
    assert task.variants(ModelConfig(arch="lstm", forget_bias=1.0), "quick") == [{}]
    assert task.variants(ModelConfig(arch="gru"), "quick") == [{}]
    assert task.variants(ModelConfig(arch="rnn_tanh"), "quick") == [{}]


def tiny_config(**options):
    opts = {**Recall.default_options, "train_stories": 64, "valid_stories": 16, "test_stories": 8,
            "pool_sentences": 200, "train_distances": [0, 10], "test_distances": [5, 30], **options}
    return RunConfig("recall", ModelConfig(arch="gru", hidden=8), TrainConfig(steps=3, batch_size=16), 1, opts)


def test_run_is_deterministic_and_records_every_metric():
    task = Recall()
    torch.manual_seed(1)  # as the runner does before every run
    first = task.run(tiny_config()).metrics
    torch.manual_seed(1)
    second = task.run(tiny_config()).metrics
    assert first == second
    assert [r["d"] for r in first["by_distance"]] == [5, 30]
    assert first["by_distance"][1]["extrapolation"] and not first["by_distance"][0]["extrapolation"]
    for key in ("span", "mean_accuracy", "chance", "accuracy@5", "key_logprob@30", "recency_rate@30"):
        assert key in first


@pytest.mark.parametrize("options, message", [
    ({"num_items": 1}, "num_items"), ({"train_distances": [10, 5]}, "train_distances"),
    ({"test_distances": [0, 5]}, "test_distances"), ({"distractor_rate": 1.5}, "distractor_rate"),
    ({"filler_file": "/no/such/file.txt"}, "filler_file"), ({"loss_on": "some"}, "loss_on"),
])
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        Recall().validate(tiny_config(**options))


def test_unfillable_distances_are_config_errors():
    with pytest.raises(ConfigError, match="test distance 2 cannot be filled"):
        Recall().validate(tiny_config(test_distances=[5, 2]))
    with pytest.raises(ConfigError, match=r"no train distance in \[1, 3\] can be filled"):
        Recall().validate(tiny_config(train_distances=[1, 3]))
    with pytest.raises(ConfigError, match=r"no distance in \[1, 3\] can be filled"):
        Recall().prepare(tiny_config(train_distances=[1, 3]))
