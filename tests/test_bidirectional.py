"""The bidirectional tasks: padding-safe bidirectional models, metrics per token kind, variants, options,
and a real training where only the bidirectional tagger can know the right-only tags."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.batches import Example, collate
from suite.models.zoo import build_model
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import check_run_config, get_task
from tasks.bidirectional import RIGHT_ONLY, BOTH_SIDES, LOCAL, Tagged, classify_metrics, tag_metrics

torch.set_num_threads(1)


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


def test_tag_metrics_count_each_token_kind_apart():
    sent = Tagged(["the", "film", "was", "terribly", "dull", "but", "so", "fun", "."],
                  ["DET", "NOUN", "VERB", "INT-", "ADJ-", "CONJ", "INT+", "ADJ+", "PUNCT"],
                  [LOCAL] * 3 + [RIGHT_ONLY, LOCAL, LOCAL, BOTH_SIDES, LOCAL, LOCAL], [0] * 9)
    far = Tagged(sent.words, sent.tags, sent.kinds, [0] * 6 + [4, 0, 0])  # 'so' after a 4-word aside
    guess = ["DET", "NOUN", "VERB", "INT+", "ADJ-", "CONJ", "INT+", "ADJ+", "ADV"]  # wrong: 1st INT, the '.'
    m = tag_metrics([sent, far], [guess, sent.tags])
    assert (m["right_only_correct"], m["right_only_total"]) == (1, 2)
    assert (m["both_sides_correct"], m["both_sides_total"]) == (2, 2)
    assert (m["local_correct"], m["local_total"]) == (13, 14)
    assert m["token_accuracy"] == pytest.approx(16 / 18) and m["right_only_accuracy"] == 0.5
    assert (m["no_aside_correct"], m["no_aside_total"]) == (1, 1)  # only the first sentence's 'so'


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
    with pytest.raises(ConfigError, match="min_filler ≤ max_filler"):
        check_run_config(RunConfig("bidir_classify", options={"min_filler": 9, "max_filler": 3}))
    with pytest.raises(ConfigError, match="min_aside ≤ max_aside"):
        check_run_config(RunConfig("bidir_tag", options={"min_aside": 5, "max_aside": 1}))
    with pytest.raises(ConfigError, match=r"bidir_tag option train_sentences must be an integer ≥ 1; got 0"):
        check_run_config(RunConfig("bidir_tag", options={"train_sentences": 0}))
    with pytest.raises(ConfigError, match="unknown bidir_tag option 'min_filler'"):
        check_run_config(RunConfig("bidir_tag", options={"min_filler": 4}))


@pytest.mark.parametrize("name", ["bidir_tag", "bidir_classify"])
def test_every_preset_size_gives_valid_options(name):
    task = get_task(name)
    for size in ("smoke", "quick", "standard", "paper"):
        s = task.settings(size)
        check_run_config(RunConfig(name, ModelConfig(**s.model), s.train, 0, s.options))


# --------------------------------------------------------------------------- real training


def test_only_the_bidirectional_tagger_learns_the_right_only_tags():
    task = get_task("bidir_tag")
    train = TrainConfig(steps=80, batch_size=32, lr=1e-2, eval_every=80)
    options = {"train_sentences": 800, "eval_sentences": 200, "max_gap": 1, "max_clauses": 1,
               "min_aside": 0, "max_aside": 2}
    result = {}
    for bi in (False, True):
        cfg = RunConfig("bidir_tag", ModelConfig(arch="gru", hidden=16, bidirectional=bi), train, 0, options)
        result[bi] = task.run(cfg).metrics
    assert result[True]["right_only_accuracy"] > 0.95 and result[True]["both_sides_accuracy"] > 0.95
    assert 0.3 < result[False]["right_only_accuracy"] < 0.7  # a coin flip: the deciding word is unseen
    assert result[False]["local_accuracy"] > 0.95


def test_loading_the_task_packages_registers_the_report():
    """In a fresh interpreter, as `run_suite.py` starts: the tasks come with their report."""
    code = ("from suite.task import all_tasks; all_tasks(); from suite.judge.task_report import REPORTS; "
            "assert REPORTS['bidirectional'].tasks == ('bidir_tag', 'bidir_classify')")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
