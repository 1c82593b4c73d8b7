"""A run's identity: the hash of its full config names its cached record."""
import pytest

from suite.core.config import ModelConfig, RunConfig, TrainConfig


def test_the_run_id_is_a_stable_hash_of_the_whole_config():
    assert RunConfig("x").run_id == RunConfig("x").run_id
    assert RunConfig("x", identity={"threads": 1}).run_id != RunConfig("x", identity={"threads": 2}).run_id


@pytest.mark.parametrize("changed", [
    RunConfig("x", ModelConfig(softmax="adaptive")),
    RunConfig("x", ModelConfig(softmax="adaptive", adaptive_cutoffs=(10, 40))),
    RunConfig("x", train=TrainConfig(precision="bf16")),
])
def test_softmax_and_precision_are_part_of_a_runs_identity(changed):
    assert changed.run_id != RunConfig("x").run_id


def test_a_config_survives_its_json_record():
    cfg = RunConfig("x", ModelConfig(softmax="adaptive", adaptive_cutoffs=[10, 40]), TrainConfig(precision="bf16"))
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.run_id == cfg.run_id and again.model.adaptive_cutoffs == (10, 40)


def test_the_label_tells_an_adaptive_softmax_apart_and_leaves_others_as_they_were():
    assert ModelConfig("lstm", 2, skip="residual").label == "lstm×2+res"
    assert ModelConfig("lstm", 2, skip="residual", softmax="adaptive").label == "lstm×2+res+adaptive"
