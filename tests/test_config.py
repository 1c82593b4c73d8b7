"""A run's identity: the hash of its full config names its cached record; each field's declared valid values."""
import pytest

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, check_fields


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


# --------------------------------------------------------------------------- declared ranges (check_fields)


@pytest.mark.parametrize("changes, message", [
    (dict(lr=0.0), "train lr must be a number > 0; got 0.0"),
    (dict(steps=0), "train steps must be an integer ≥ 1; got 0"),
    (dict(batch_size=-2), "train batch_size must be an integer ≥ 1; got -2"),
    (dict(bptt=0), "train bptt must be an integer ≥ 1; got 0"),
    (dict(clip=0.0), "train clip must be a number > 0 or null; got 0.0"),
    (dict(optimizer="adam"), "train optimizer must be one of adamw, sgd; got 'adam'"),
    (dict(schedule="linear"), "train schedule must be one of constant, cosine, plateau; got 'linear'"),
    (dict(steps="10"), "train steps must be an integer ≥ 1; got '10'"),
])
def test_a_train_field_outside_its_declared_range_is_one_line_saying_what_is_valid(changes, message):
    with pytest.raises(ConfigError) as err:
        check_fields(TrainConfig(**changes), "train")
    assert str(err.value) == message


def test_checking_fields_changes_no_value_and_so_no_run_id():
    """Unlike task options, a config is checked as it is: its values are hashed into the run id."""
    train = TrainConfig(lr=1, steps=10, clip=None)
    cfg = RunConfig("t", ModelConfig(dropout=0, adaptive_cutoffs=(3, 9)), train)
    before = cfg.run_id
    check_fields(cfg.model, "model")
    check_fields(cfg.train, "train")
    assert cfg.run_id == before and isinstance(cfg.train.lr, int) and cfg.model.adaptive_cutoffs == (3, 9)
