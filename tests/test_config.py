"""A run's identity: the hash of its full config names its cached record."""
import pytest

from suite.config import ModelConfig, RunConfig, TrainConfig


def test_fields_added_later_leave_earlier_run_names_unchanged():
    # Hashes computed by the suite before softmax / adaptive_cutoffs / precision existed.
    assert RunConfig("x").run_id == "eeb3fc40ddacb4ae"
    assert RunConfig("grammar_lm", ModelConfig("gru", 2, 64), seed=3).run_id == "96b024d4f62af9a3"


@pytest.mark.parametrize("changed", [
    RunConfig("x", ModelConfig(softmax="adaptive")),
    RunConfig("x", ModelConfig(softmax="adaptive", adaptive_cutoffs=(10, 40))),
    RunConfig("x", train=TrainConfig(precision="bf16")),
])
def test_setting_a_later_field_makes_a_different_run(changed):
    assert changed.run_id != RunConfig("x").run_id


def test_a_config_survives_its_json_record():
    cfg = RunConfig("x", ModelConfig(softmax="adaptive", adaptive_cutoffs=[10, 40]), TrainConfig(precision="bf16"))
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.run_id == cfg.run_id and again.model.adaptive_cutoffs == (10, 40)


def test_the_label_tells_an_adaptive_softmax_apart_and_leaves_others_as_they_were():
    assert ModelConfig("lstm", 2, skip="residual").label == "lstm×2+res"
    assert ModelConfig("lstm", 2, skip="residual", softmax="adaptive").label == "lstm×2+res+adaptive"
