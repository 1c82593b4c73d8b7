"""bidir_tag's measuring side: padding-safe bidirectional models, the delayed forward baseline (its input,
targets, read-out and weight count), variants, options, metrics, and a real training in which each reader
knows exactly the right-only tags it can see."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.core.families import BUILTIN_RECURRENT
from suite.data.batches import IGNORE, Example, collate
from suite.models.zoo import ARCHITECTURES, build_model, register_cell
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import check_run_config, get_task
from tasks.bidirectional import BOTH_SIDES, LOCAL, RIGHT_ONLY, TAGS, Tagged, predict_tags, tag_metrics
from tasks.bidirectional.delay import delayed_example, matched_hidden, parameters, undelay

torch.set_num_threads(1)


# --------------------------------------------------------------------------- padded bidirectional batches


@pytest.mark.parametrize("arch,layers,skip", [("lstm", 1, "none"), ("gru", 2, "residual"),
                                              ("rnn_tanh", 2, "highway")])
def test_padded_bidirectional_batch_equals_each_sentence_alone(arch, layers, skip):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, layers=layers, skip=skip, hidden=8, bidirectional=True),
                        30, "tag", 3).eval()
    sentences = [[3, 4, 5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15]]
    batch = collate([Example(s, [0] * len(s)) for s in sentences])
    with torch.no_grad():
        padded, _ = model(batch.inputs, None, batch.lengths)
        for row, s in enumerate(sentences):
            alone, _ = model(torch.tensor([s]))  # no padding, no lengths: the plain fused path
            assert torch.allclose(padded[row, :len(s)], alone[0], atol=1e-5)


# --------------------------------------------------------------------------- the delayed forward baseline


def test_a_delayed_example_reads_k_fillers_more_and_scores_output_t_plus_k_against_tag_t():
    e = delayed_example([5, 6, 7], [1, 2, 3], delay=2, filler=2)
    assert e.tokens == [5, 6, 7, 2, 2] and e.target == [IGNORE, IGNORE, 1, 2, 3]
    assert delayed_example([5, 6], [1, 2], 0, 2) == Example([5, 6], [1, 2])
    assert undelay([9, 9, 1, 2, 3], delay=2, words=3) == [1, 2, 3]


class Echo(torch.nn.Module):
    """A 'tagger' whose output at step s is the input id at step s, as a one-hot over 13 tags."""

    def forward(self, tokens, state=None, lengths=None):
        return torch.nn.functional.one_hot(tokens % len(TAGS), len(TAGS)).float(), None


def test_predicted_tags_are_read_delay_outputs_later_and_padding_is_dropped():
    # With delay 2 the output for word t is read at step t + 2; the echo there shows input t + 2.
    examples = [delayed_example([3, 4, 5, 6], [0] * 4, 2, 12), delayed_example([7, 8], [0] * 2, 2, 12)]
    assert predict_tags(Echo(), examples, delay=2) == [[5, 6, 12, 12], [12, 12]]
    assert predict_tags(Echo(), [Example([3, 4, 5], [0] * 3), Example([6], [0])]) == [[3, 4, 5], [6]]


@pytest.mark.parametrize("arch", BUILTIN_RECURRENT)
@pytest.mark.parametrize("hidden", [16, 64])
def test_the_forward_tagger_has_as_many_weights_as_its_bidirectional_twin(arch, hidden):
    model = ModelConfig(arch=arch, hidden=hidden)
    forward = dataclasses.replace(model, hidden=matched_hidden(model, len(TAGS)), embed=hidden)
    twin = parameters(dataclasses.replace(model, bidirectional=True, embed=hidden), len(TAGS))
    gap = {h: abs(parameters(dataclasses.replace(forward, hidden=h), len(TAGS)) - twin)
           for h in (forward.hidden - 1, forward.hidden, forward.hidden + 1)}
    assert gap[forward.hidden] == min(gap.values())  # the closest count a whole number of units allows
    assert gap[forward.hidden] / twin < (0.01 if hidden == 64 else 0.03)  # one unit: ≈ 4 % of 16, 1 % of 64
    assert forward.hidden > hidden  # one direction holds what two did


def test_matching_weights_allocates_nothing_and_does_not_move_the_global_random_stream():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    matched_hidden(ModelConfig(arch="lstm", hidden=16), len(TAGS))
    assert torch.equal(torch.rand(1), expected)
    assert matched_hidden(ModelConfig(arch="lstm", hidden=10_000_000), len(TAGS)) > 10_000_000  # ≈ 400 TB if built


# --------------------------------------------------------------------------- variants and validation


def test_each_recurrent_cell_runs_bidirectionally_and_forward_at_every_delay_of_the_grid():
    task = get_task("bidir_tag")
    variants = task.variants(ModelConfig(arch="gru", hidden=64), "standard")
    assert variants[0] == {"model": {"bidirectional": True, "embed": 64}}
    assert [v["options"]["delay"] for v in variants[1:]] == list(task.delays("standard")) == [0, 2, 4, 8]
    assert {v["model"]["hidden"] for v in variants[1:]} == {matched_hidden(ModelConfig(arch="gru", hidden=64), 13)}
    assert task.variants(ModelConfig(arch="gru", bidirectional=True), "quick") == [{}]
    assert task.variants(ModelConfig(arch="transformer"), "quick") == [{}]
    assert task.variants(ModelConfig(arch="lstm", layers=2), "standard") == []  # stacks: paper size only
    assert len(task.variants(ModelConfig(arch="lstm", layers=2), "paper")) == 1 + len(task.delays("paper"))


class OneWay(torch.nn.Module):
    """A user cell (register_cell): it reads one way only."""

    def __init__(self, input_size, hidden):
        super().__init__()
        self.hidden, self.linear = hidden, torch.nn.Linear(input_size + hidden, hidden)

    def init_state(self, batch, device):
        return torch.zeros(batch, self.hidden, device=device)

    def forward(self, x, h):
        return torch.tanh(self.linear(torch.cat([x, h], 1)))


def test_a_user_cell_that_cannot_read_backwards_runs_once_as_a_plain_forward_tagger():
    register_cell("test_one_way", OneWay, "test cell")
    try:
        assert get_task("bidir_tag").variants(ModelConfig(arch="test_one_way"), "standard") == [{}]
    finally:
        ARCHITECTURES.pop("test_one_way")


def test_the_standard_sweep_runs_the_four_cells_with_every_reader():
    configs = expand(PRESETS["standard"], Overrides(tasks=("bidir_tag",)))
    readers = {(c.model.arch, c.model.bidirectional, c.options["delay"]) for c in configs}
    assert readers == {(a, bi, k) for a in BUILTIN_RECURRENT
                       for bi, k in [(True, 0), (False, 0), (False, 2), (False, 4), (False, 8)]}
    assert all(c.options["max_distance"] == 8 and c.model.layers == 1 for c in configs)
    assert {c.seed for c in configs} == {0, 1, 2, 3}  # seed_count: the four-part claim's power analysis


def test_bad_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="min_distance ≤ max_distance"):
        check_run_config(RunConfig("bidir_tag", options={"min_distance": 5, "max_distance": 2}))
    with pytest.raises(ConfigError, match="min_aside ≤ max_aside"):
        check_run_config(RunConfig("bidir_tag", options={"min_aside": 5, "max_aside": 1}))
    with pytest.raises(ConfigError, match="delay is for forward taggers"):
        check_run_config(RunConfig("bidir_tag", ModelConfig(bidirectional=True), options={"delay": 2}))
    with pytest.raises(ConfigError, match=r"bidir_tag option train_sentences must be an integer ≥ 1; got 0"):
        check_run_config(RunConfig("bidir_tag", options={"train_sentences": 0}))
    with pytest.raises(ConfigError, match="unknown bidir_tag option 'min_filler'"):
        check_run_config(RunConfig("bidir_tag", options={"min_filler": 4}))


def test_every_preset_size_gives_valid_options_and_a_delay_that_covers_every_distance():
    task = get_task("bidir_tag")
    for size in ("smoke", "quick", "standard", "paper"):
        s = task.settings(size)
        check_run_config(RunConfig("bidir_tag", ModelConfig(**s.model), s.train, 0, s.options))
        assert task.delays(size)[0] == 0 and max(task.delays(size)) == s.options["max_distance"]


# --------------------------------------------------------------------------- metrics


def test_tag_metrics_count_each_token_kind_and_each_right_only_distance_apart():
    sent = Tagged(["the", "film", "was", "so", "truly", "dull", "but", "so", "fun", "."],
                  ["DET", "NOUN", "VERB", "INT-", "ADV", "ADJ-", "CONJ", "INT+", "ADJ+", "PUNCT"],
                  [LOCAL] * 3 + [RIGHT_ONLY, LOCAL, LOCAL, LOCAL, BOTH_SIDES, LOCAL, LOCAL],
                  [0, 0, 0, 2, 0, 0, 0, 1, 0, 0])
    near = Tagged(sent.words[:3] + ["so", "fun", "."], sent.tags[:3] + ["INT+", "ADJ+", "PUNCT"],
                  [LOCAL] * 3 + [RIGHT_ONLY, LOCAL, LOCAL], [0, 0, 0, 1, 0, 0])
    guess = sent.tags[:3] + ["INT+"] + sent.tags[4:-1] + ["ADV"]  # wrong: the first INT, the '.'
    m = tag_metrics([sent, near], [guess, near.tags])
    assert (m["right_only_correct"], m["right_only_total"]) == (1, 2)
    assert (m["right_only_d2_correct"], m["right_only_d2_total"]) == (0, 1)
    assert (m["right_only_d1_correct"], m["right_only_d1_total"]) == (1, 1)
    assert (m["both_sides_correct"], m["both_sides_total"]) == (1, 1)
    assert (m["local_correct"], m["local_total"]) == (12, 13)
    assert m["token_accuracy"] == pytest.approx(14 / 16)


# --------------------------------------------------------------------------- real training


def test_each_reader_knows_exactly_the_right_only_tags_within_its_reach():
    """Distances 1–2: the bidirectional tagger and the forward tagger with delay 2 see every deciding word,
    the forward tagger with delay 0 none (a coin flip)."""
    task = get_task("bidir_tag")
    train = TrainConfig(steps=80, batch_size=32, lr=1e-2, eval_every=80)
    options = {"train_sentences": 800, "eval_sentences": 200, "max_distance": 2, "max_aside": 2}
    result = {}
    for bi, delay in ((True, 0), (False, 0), (False, 2)):
        model = ModelConfig(arch="gru", hidden=16 if bi else 26, embed=16, bidirectional=bi)
        cfg = RunConfig("bidir_tag", model, train, 0, {**options, "delay": delay})
        result[bi, delay] = task.run(cfg).metrics
    assert result[True, 0]["right_only_accuracy"] > 0.95 and result[True, 0]["both_sides_accuracy"] > 0.95
    assert 0.35 < result[False, 0]["right_only_accuracy"] < 0.65  # the deciding word is unread
    assert result[False, 2]["right_only_accuracy"] > 0.8
    assert all(m["valid_token_accuracy"] > 0.8 and "valid_right_only_accuracy" in m for m in result.values())


def test_the_judge_finds_the_report_beside_the_task_package():
    """In a fresh interpreter, as `run_suite.py report` starts: the task packages do not import their reports
    (measuring apart from judging); the judge loads tasks/<pkg>/report.py when it judges."""
    code = ("import sys; from suite.task import all_tasks; all_tasks(); "
            "assert 'tasks.bidirectional.report' not in sys.modules; "
            "from suite.judge.task_report import load_reports; "
            "assert load_reports()['bidirectional'].tasks == ('bidir_tag',)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
