"""Specification of the recall task's measuring side: story generator, scoring, options, tuning grid."""
from __future__ import annotations

import itertools
import random

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from suite.cli.main import main
from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.batches import IGNORE, Vocab
from suite.models.registry import ARCHITECTURES
from suite.run.sweep import run_options
from suite.task import SIZES, check_run_config
from tasks.recall import (DISTRACTOR_TEMPLATES, ITEMS, TEMPLATES, FillerPool, Recall, distance_rows,
                          filler_pools, make_stories, make_story, recall_metrics, story_example, tuning_grid)

POOLS = filler_pools("", 600, seed=0)
DISTRACTOR_SENTENCES = {tuple(t.format(i).split()) for ts in DISTRACTOR_TEMPLATES.values() for t in ts
                        for i in ITEMS}


def filler_words(story):
    return [w for s in story.filler for w in s]


def sentences(pool):
    return {s for group in pool.by_length.values() for s in group}


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
def test_test_filler_never_occurs_in_training_or_validation(seed):
    pools = filler_pools("", 300, seed)
    train = make_stories(300, (0, 40), pools["train"], ITEMS, 0.3, seed)
    valid = make_stories(100, (50, 50), pools["valid"], ITEMS, 0.3, seed + 1)
    test = make_stories(100, (50, 50), pools["test"], ITEMS, 0.3, seed + 2)
    used = {name: {s for story in stories for s in story.filler}
            for name, stories in (("train", train), ("valid", valid), ("test", test))}
    assert all(used.values())
    assert not used["test"] & (used["train"] | used["valid"])
    assert not (used["valid"] & used["train"]) - DISTRACTOR_SENTENCES  # validation shares only the templates


def test_filler_file_splits_are_disjoint_and_errors_name_the_line(tmp_path):
    lines = [f"line number {i} of the corpus ." for i in range(60)] + ["", "she kept her tickets ."]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines))
    split = {k: sentences(p) for k, p in filler_pools(str(path), 0, seed=3).items()}
    assert not split["train"] & split["test"] and not split["train"] & split["valid"]
    assert not split["valid"] & split["test"]
    assert sum(len(s) for s in split.values()) == 60  # blank line skipped, item sentence dropped
    path.write_text("fine .\n" + " ".join(["w"] * 201) + "\n")
    with pytest.raises(ConfigError, match=r"corpus.txt:2: sentence of 201 tokens"):
        filler_pools(str(path), 0, seed=0)
    path.write_bytes(b"fine .\nalso fine .\ncaf\xe9 latin-1 .\n")
    with pytest.raises(ConfigError, match=r"corpus.txt:3: not UTF-8"):
        filler_pools(str(path), 0, seed=0)


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


# --------------------------------------------------------------------------- scoring on hand-built models


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
    rows = distance_rows(PointerModel(VOCAB, "first"), story_sets([5, 20, 50], rate=0.5), VOCAB, ITEMS, 20)
    assert [r["accuracy"] for r in rows] == [1.0, 1.0, 1.0]
    assert [r["extrapolation"] for r in rows] == [False, False, True]
    assert all(r["recency_rate"] == 0.0 for r in rows if r["recency_n"])
    assert all(r["key_logprob"] > -0.01 for r in rows)


def test_most_recent_item_model_is_caught_by_the_recency_rate():
    stories = story_sets([20, 50], rate=0.5)
    for row in distance_rows(PointerModel(VOCAB, "last"), stories, VOCAB, ITEMS, 50):
        group = stories[row["d"]]
        without = sum(1 for s in group if not s.distractors)
        assert row["recency_n"] == len(group) - without > 0
        assert row["recency_rate"] == 1.0
        assert row["accuracy"] == pytest.approx(without / len(group))


def test_window_model_recalls_exactly_the_keys_inside_its_window():
    window = 30
    stories = story_sets([5, 10, 20, 50, 100], rate=0.0)
    for row in distance_rows(PointerModel(VOCAB, "window", window), stories, VOCAB, ITEMS, 50):
        group = stories[row["d"]]
        # model input is <eos> + prefix; the key sits at index len(intro) - 1 of it
        hits = sum(1 for s in group if (len(s.prefix) + 1) - (len(s.intro) - 1) <= window or s.key == "pens")
        assert row["correct"] == hits


def test_metrics_keep_test_and_validation_rows_apart():
    model = PointerModel(VOCAB, "window", 30)
    test = distance_rows(model, story_sets([5, 100], rate=0.0), VOCAB, ITEMS, 40)
    valid = distance_rows(model, story_sets([5, 10, 20], rate=0.0, seed=7), VOCAB, ITEMS, 40)
    m = recall_metrics(test, valid, len(ITEMS), 40)
    assert m["chance"] == pytest.approx(1 / 24) and m["by_distance"] == test and m["valid_by_distance"] == valid
    assert m["valid_accuracy"] == pytest.approx(sum(r["accuracy"] for r in valid) / 3)
    assert m["mean_accuracy"] == pytest.approx(sum(r["accuracy"] for r in test) / 2)
    assert m["accuracy@100"] == test[1]["accuracy"] and "accuracy@10" not in m  # flat scalars: test only


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


# --------------------------------------------------------------------------- the tuning grid


@pytest.mark.parametrize("size", SIZES)
def test_every_architecture_gets_the_same_number_of_valid_grid_points(size):
    task = Recall()
    counts = {}
    for name in ARCHITECTURES:
        for layers in (1, 2):
            base = ModelConfig(arch=name, layers=layers, hidden=8)
            grid = tuning_grid(base, size)
            counts[name, layers] = len(grid)
            configs = {RunConfig("recall", ModelConfig(**{**base.__dict__, **g.get("model", {})}),
                                 TrainConfig(**g["train"])).run_id for g in grid}
            assert len(configs) == len(grid)  # distinct runs, not one run listed twice
            for g in grid:  # every point is a model the zoo can build
                check_run_config(RunConfig("recall", ModelConfig(**{**base.__dict__, **g.get("model", {})}),
                                           TrainConfig(steps=2, **g["train"]), options=SMALL))
    assert len(set(counts.values())) == 1
    other_width = ModelConfig(arch="gru", hidden=8)  # not the task's own width: no parameter-matched twin
    assert task.variants(other_width, size) == tuning_grid(other_width, size)


def test_grid_axes_name_the_literature_inits_and_no_lstm_gets_a_task_tuned_bias_alone():
    grid = {arch: tuning_grid(ModelConfig(arch=arch), "standard") for arch in ("rnn_tanh", "lstm", "gru")}
    assert {g["model"]["init"] for g in grid["rnn_tanh"]} == {"identity", "orthogonal"}
    assert {g["model"]["forget_bias"] for g in grid["lstm"]} == {1.0, 3.0}
    rates = {arch: sorted({g["train"]["lr"] for g in points}) for arch, points in grid.items()}
    assert rates["rnn_tanh"] == rates["lstm"] == rates["gru"] == [1e-3, 3e-3]
    assert len(tuning_grid(ModelConfig(arch="lstm"), "quick")) == 2  # quick: the init axis only


# --------------------------------------------------------------------------- options and the task end to end

SMALL = {"train_stories": 64, "valid_stories": 16, "valid_distance_stories": 6, "test_stories": 8,
         "pool_sentences": 200, "train_distances": [0, 10], "test_distances": [5, 30], "valid_distances": [5, 20]}


def tiny_config(**options):
    return RunConfig("recall", ModelConfig(arch="gru", hidden=8), TrainConfig(steps=3, batch_size=16), 1,
                     {**SMALL, **options})


def test_run_is_deterministic_and_records_test_and_validation_metrics():
    task = Recall()
    torch.manual_seed(1)  # as the runner does before every run
    first = task.run(tiny_config()).metrics
    torch.manual_seed(1)
    second = task.run(tiny_config()).metrics
    assert first == second
    assert [r["d"] for r in first["by_distance"]] == [5, 30]
    assert [r["d"] for r in first["valid_by_distance"]] == [5, 20]
    assert [r["n"] for r in first["valid_by_distance"]] == [6, 6]
    assert first["by_distance"][1]["extrapolation"] and not first["by_distance"][0]["extrapolation"]
    for key in ("mean_accuracy", "valid_accuracy", "valid_key_logprob", "chance", "accuracy@5", "key_logprob@30"):
        assert key in first


def test_grid_points_of_a_seed_share_their_stories_and_a_rewritten_filler_file_is_reread(tmp_path):
    path = tmp_path / "filler.txt"
    path.write_text("\n".join(f"line {i} of first corpus ." for i in range(60)))
    cfg = tiny_config(filler_file=str(path), train_distances=[6, 12], test_distances=[12], valid_distances=[6])
    first, again = Recall().prepare(cfg), Recall().prepare(cfg)
    assert first.extra["test"] == again.extra["test"] and first.vocab.itos == again.vocab.itos
    path.write_text("\n".join(f"sentence {i} from another corpus ." for i in range(60)))
    words = {w for s in Recall().prepare(cfg).extra["test"][12] for w in s.prefix}
    assert "another" in words and "first" not in words


def test_options_are_typed_with_ranges_and_defaults_fill_in():
    opts = Recall().options(RunConfig("recall", options={"num_items": 4}))
    assert opts.num_items == 4 and opts.loss_on == "key" and opts.train_distances == [0, 40]
    full = run_options(Recall(), {"distractor_rate": 0.5})
    assert full["distractor_rate"] == 0.5 and full["test_stories"] == 200


@pytest.mark.parametrize("options, message", [
    ({"num_items": 1}, r"num_items must be an integer in \[2, 24\]; got 1"),
    ({"distractor_rate": "abc"}, r"distractor_rate must be a number in \[0, 1\]; got 'abc'"),
    ({"distractor_rate": 1.5}, "distractor_rate"),
    ({"train_distances": [10, 5]}, "train_distances must be"), ({"train_distances": [-1, 5]}, "train_distances"),
    ({"test_distances": [0, 5]}, "test_distances"), ({"test_distances": []}, "test_distances"),
    ({"valid_distances": [2.5]}, "valid_distances"), ({"loss_on": "some"}, "loss_on must be one of key, all"),
    ({"filler_file": "/no/such/file.txt"}, "filler_file '/no/such/file.txt' does not exist"),
    ({"valid_stories": 0}, "valid_stories"), ({"colour": 3}, "unknown recall option 'colour'"),
])
def test_bad_options_are_one_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        Recall().validate(tiny_config(**options))


def test_unfillable_distances_are_config_errors():
    with pytest.raises(ConfigError, match="test distance 2 cannot be filled"):
        Recall().validate(tiny_config(test_distances=[5, 2]))
    with pytest.raises(ConfigError, match="valid distance 3 cannot be filled"):
        Recall().validate(tiny_config(valid_distances=[3]))
    with pytest.raises(ConfigError, match=r"no train distance in \[1, 3\] can be filled"):
        Recall().validate(tiny_config(train_distances=[1, 3]))
    with pytest.raises(ConfigError, match=r"no distance in \[1, 3\] can be filled"):
        Recall().prepare(tiny_config(train_distances=[1, 3]))


@pytest.mark.parametrize("option, expected", [
    ("distractor_rate=abc", "recall option distractor_rate must be a number in [0, 1]; got 'abc'"),
    ("filler_file={file}", "{file}:2: not UTF-8 text (byte 0xff at column 4)"),
])
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, option, expected):
    bad = tmp_path / "filler.txt"
    bad.write_bytes(b"a fine line .\nbad\xff\xfe line .\n")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["--tasks", "recall", "--option", option.format(file=bad), "--dry-run", "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and expected.format(file=bad) in err and "Traceback" not in err
    assert not out.exists()



def test_stacks_stay_out_of_recall_at_standard_and_paper_where_no_claim_compares_them():
    from suite.task import get_task

    task, stack = get_task("recall"), ModelConfig(arch="lstm", layers=2, hidden=64)
    assert task.variants(stack, "standard") == [] and task.variants(stack, "paper") == []
    assert task.variants(stack, "quick")  # quick keeps its stack: the smallest end-to-end look at every model
    assert task.variants(ModelConfig(arch="lstm", hidden=64), "standard")


def test_the_twin_gru_gets_the_plain_grus_grid_at_its_own_width():
    from suite.task import get_task
    from tasks.recall.task import GRU_AT_LSTM_PARAMETERS  # matched in tests/test_tasks.py

    task, twin_hidden = get_task("recall"), GRU_AT_LSTM_PARAMETERS["standard"]
    hidden = task.settings("standard").model["hidden"]
    grid = task.variants(ModelConfig(arch="gru", hidden=hidden), "standard")
    twins = [p for p in grid if p["model"].get("sized_as") == "lstm"]
    assert len(twins) == len(grid) // 2 and all(p["model"]["hidden"] == twin_hidden for p in twins)
    assert sorted(p["train"]["lr"] for p in twins) == sorted(p["train"]["lr"] for p in grid if p not in twins)
    assert task.variants(ModelConfig(arch="lstm", hidden=hidden), "standard") == tuning_grid(
        ModelConfig(arch="lstm", hidden=hidden), "standard")
