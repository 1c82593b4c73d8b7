"""The task interface: sizes as rows, typed options checked up front, training hooks, discovery."""
from dataclasses import dataclass

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, option
from suite.data.batches import StreamBatcher, Vocab
from suite.core.options import TaskOptions
from suite.task import TASKS, Task, TaskData, all_tasks, by_size, check_run_config, register_task


def test_by_size_picks_one_column_of_each_row():
    assert by_size("quick", steps=(30, 800, 1500, 8000), hidden=(32, 64, 128, 256)) == {"steps": 800, "hidden": 64}
    with pytest.raises(ValueError):
        by_size("quick", steps=(1, 2, 3))
    with pytest.raises(ConfigError):
        by_size("huge", steps=(1, 2, 3, 4))


def test_the_builtin_tasks_are_found_through_the_entry_point():
    assert {"grammar_lm", "agreement", "recall", "gradients", "text_lm"} <= set(all_tasks())


@dataclass(frozen=True)
class CountingOptions(TaskOptions):
    tokens: int = option(400, low=50)


class CountingTask(Task):
    """A toy stream task whose hooks record when they ran."""

    name = "zz_counting"
    Options = CountingOptions
    calls: list = []

    def prepare(self, cfg):
        vocab = Vocab.from_corpus([[str(i % 7) for i in range(20)]])
        ids = torch.tensor([vocab.encode([str(i % 7)])[0] for i in range(self.options(cfg).tokens)])
        return TaskData(train=StreamBatcher(ids, 4, 8), valid=None, vocab=vocab)

    def before_training(self, model, data, cfg):
        self.calls.append("before")
        return "watch"

    def after_training(self, model, data, cfg, training, watch):
        self.calls.append(f"after:{watch}:{training.status}")
        return {"from_hook": 1.0}

    def evaluate(self, model, data, cfg):
        self.calls.append("evaluate")
        return {"steps": float(cfg.train.steps)}

    def record_extra(self, data, cfg):
        return {"provenance": "toy"}


@pytest.fixture(autouse=True)
def counting_task():
    register_task(CountingTask)
    yield
    TASKS.pop("zz_counting")


def test_run_calls_the_hooks_in_order_and_keeps_their_metrics():
    TASKS["zz_counting"].calls.clear()
    cfg = RunConfig("zz_counting", ModelConfig(hidden=8), TrainConfig(steps=3, batch_size=4, bptt=8), seed=0)
    outcome = TASKS["zz_counting"].run(cfg)
    assert TASKS["zz_counting"].calls == ["before", "after:watch:ok", "evaluate"]
    assert outcome.metrics == {"steps": 3.0, "from_hook": 1.0}
    assert outcome.extra == {"provenance": "toy"} and outcome.model is not None


def test_options_are_type_checked_before_any_run():
    with pytest.raises(ConfigError, match="zz_counting option tokens must be an integer ≥ 50; got 'abc'"):
        check_run_config(RunConfig("zz_counting", options={"tokens": "abc"}))
    with pytest.raises(ConfigError, match="unknown zz_counting option 'colour'"):
        check_run_config(RunConfig("zz_counting", options={"colour": 1}))


@pytest.mark.parametrize("name", ["agreement", "recall"])
def test_a_tasks_twin_gru_has_the_lstms_parameter_count_over_the_tasks_own_vocabulary(name):
    """The twin's width is plain data in the task module; the ground truth is the zoo's own models, built over
    the vocabulary the task prepares at standard size, within the quality claim's 2 % tolerance."""
    import importlib

    from suite.models.zoo import build_model, count_parameters

    twins = importlib.import_module(f"tasks.{name}.task").GRU_AT_LSTM_PARAMETERS
    task = all_tasks()[name]
    settings = task.settings("standard")
    hidden = settings.model["hidden"]
    cfg = RunConfig(name, ModelConfig(arch="lstm", hidden=hidden), settings.train, 0, dict(settings.options))
    vocab = len(task.prepare(cfg).vocab)
    lstm = count_parameters(build_model(ModelConfig(arch="lstm", hidden=hidden), vocab))
    twin = count_parameters(build_model(ModelConfig(arch="gru", hidden=twins["standard"], sized_as="lstm"), vocab))
    plain = count_parameters(build_model(ModelConfig(arch="gru", hidden=hidden), vocab))
    assert abs(twin / lstm - 1) <= 0.02 < abs(plain / lstm - 1)


def test_parameter_twin_widens_only_the_plain_single_layer_model_at_the_tasks_width():
    from suite.task import parameter_twin

    twin = {"hidden": 142, "sized_as": "lstm"}
    assert parameter_twin(ModelConfig(arch="gru", hidden=128), 128, 142) == twin
    assert parameter_twin(ModelConfig(arch="gru", hidden=64), 128, 142) is None
    assert parameter_twin(ModelConfig(arch="gru", layers=2, hidden=128), 128, 142) is None
    assert parameter_twin(ModelConfig(arch="lstm", hidden=128), 128, 142) is None
    assert parameter_twin(ModelConfig(arch="gru", hidden=128, sized_as="lstm"), 128, 142) is None
    assert parameter_twin(ModelConfig(arch="gru", hidden=128), 128, None) is None
    assert ModelConfig(arch="gru", hidden=142, sized_as="lstm").label == "gru≈lstm"
