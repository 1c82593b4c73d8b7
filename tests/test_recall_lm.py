"""recall_lm: recall's stories trained as a plain language model — the same data and budget as recall, the loss on
every token, one grid point per architecture, and a page section of its own beside recall's."""
import pytest

from suite.core.config import ModelConfig, RunConfig, TrainConfig
from suite.data.batches import IGNORE
from suite.judge.task_report import report_of
from suite.models.registry import ARCHITECTURES
from suite.task import get_task
from tasks.recall.lm_task import LEARNING_RATE, RecallLM
from tasks.recall.task import Recall

SIZES = ("smoke", "quick", "standard", "paper")


@pytest.mark.parametrize("size", SIZES)
def test_it_trains_recalls_stories_under_recalls_budget_with_the_loss_on_every_token(size):
    lm, key = RecallLM().settings(size), Recall().settings(size)
    assert lm.train == key.train and lm.model == key.model
    assert lm.options == {**key.options, "loss_on": "all"}


@pytest.mark.parametrize("size", SIZES)
def test_every_architecture_gets_one_grid_point_at_the_suites_learning_rate(size):
    for name in ARCHITECTURES:
        points = RecallLM().variants(ModelConfig(arch=name, hidden=8), size)
        assert len(points) == 1 and points[0]["train"]["lr"] == LEARNING_RATE
    stack = ModelConfig(arch="lstm", layers=2)
    assert RecallLM().variants(stack, "standard") == [] and len(RecallLM().variants(stack, "quick")) == 1


def test_a_tiny_run_trains_on_every_token_and_scores_the_key():
    cfg = RunConfig("recall_lm", ModelConfig(arch="gru", hidden=8), TrainConfig(steps=3, batch_size=16), 1,
                    {"train_stories": 64, "valid_stories": 16, "valid_distance_stories": 6, "test_stories": 8,
                     "pool_sentences": 200, "train_distances": [0, 10], "test_distances": [5, 30],
                     "valid_distances": [5, 20], "loss_on": "all"})
    task = get_task("recall_lm")
    data = task.prepare(cfg)
    example = data.train.examples[0]
    assert IGNORE not in example.target and len(example.target) == len(example.tokens)
    metrics = task.run(cfg).metrics
    assert [row["d"] for row in metrics["by_distance"]] == [5, 30]


def test_its_records_are_read_and_shown_by_recalls_page():
    assert type(report_of("recall_lm")).__name__ == "RecallReport"
    assert "recall_lm" in report_of("recall").tasks
