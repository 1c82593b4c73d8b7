"""Command-line overrides of a preset are honoured or refused, never silently ignored."""
import pytest

import fault_tasks
from suite.core.config import ConfigError
from suite.run.sweep import PRESETS, Overrides, expand


@pytest.fixture(autouse=True)
def _test_tasks():
    import fault_tasks  # noqa: F401  (registers fault_epochs)
    yield
    fault_tasks.unregister()


def test_steps_replace_an_epoch_budget_and_say_so():
    notices = []
    (cfg,) = expand(PRESETS["smoke"], Overrides(tasks=("fault_epochs",), archs=("lstm",)), notices)
    assert (cfg.train.epochs, notices) == (6, [])
    configs = expand(PRESETS["smoke"], Overrides(tasks=("fault_epochs",), archs=("lstm", "gru"), steps=7), notices)
    assert [(c.train.steps, c.train.epochs) for c in configs] == [(7, None), (7, None)]
    assert notices == ["--steps 7 replaces fault_epochs's budget of 6 epoch(s)"]


@pytest.mark.parametrize("field", ["tasks", "archs", "layers", "hidden", "seeds"])
def test_an_empty_override_is_refused_rather_than_read_as_the_presets(field):
    with pytest.raises(ConfigError, match=f"--{field} is empty"):
        expand(PRESETS["smoke"], Overrides(**{field: ()}))


@pytest.mark.parametrize("seed", [-1, 2**32, 10**20])
def test_a_seed_outside_what_every_generator_accepts_is_refused(seed):
    with pytest.raises(ConfigError, match="valid: 0 to 4294967295"):
        expand(PRESETS["smoke"], Overrides(seeds=(0, seed)))
    assert expand(PRESETS["smoke"], Overrides(seeds=(2**32 - 1,)))


@pytest.mark.parametrize("options, expected", [
    ({"train_sentences": 1}, "grammar_lm: train_sentences=1 gives too little data for one batch (stream of"),
    ({"eval_sentences": 1}, "grammar_lm: eval_sentences=1 gives too little data for one batch"),
    ({"train_sentences": 1e9}, "option train_sentences=1,000,000,000 is above the cap of 2,000,000"),
    ({"train_sentences": 2_000_001}, "above the cap of 2,000,000 generated sentences; valid: 1 to 2,000,000"),
])
def test_generated_data_sizes_are_bounded_up_front(options, expected):
    # before the fix: 1 failed inside training, 1e9 ran until killed
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        expand(PRESETS["smoke"], Overrides(options=options))


def test_a_small_explicit_size_that_fills_a_batch_is_accepted():
    configs = expand(PRESETS["smoke"], Overrides(options={"train_sentences": 500}))
    assert {cfg.options["train_sentences"] for cfg in configs} == {500}


def test_commands_that_only_read_records_need_no_corpus_but_still_check_names(tmp_path):
    missing = {"corpus": str(tmp_path / "not-here")}
    with pytest.raises(ConfigError, match="not-here"):  # a run must read the corpus: refused up front
        expand(PRESETS["smoke"], Overrides(tasks=("text_lm",), options=missing))
    (cfg, *_) = expand(PRESETS["smoke"], Overrides(tasks=("text_lm",), options=missing), resources=False)
    assert cfg.task == "text_lm"  # report and preregister rebuild from records on a clone without the corpus
    with pytest.raises(ConfigError, match="hidden"):  # names and models are still checked
        expand(PRESETS["smoke"], Overrides(tasks=("text_lm",), hidden=(0,), options=missing), resources=False)
