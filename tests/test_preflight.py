"""Up-front checks: model size against free memory, corpus size against one batch, hub names."""
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from suite.run import preflight
from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.models.zoo import build_model, count_parameters


def lstm_parameters(vocab, embed, hidden, layers):
    """pytorch/examples' word LM by hand: embedding, per layer 4 gates × (input + hidden weights, two biases),
    output layer."""
    recurrent = sum(4 * hidden * ((embed if i == 0 else hidden) + hidden + 2) for i in range(layers))
    return vocab * embed + recurrent + hidden * vocab + vocab


@pytest.mark.parametrize("layers, hidden", [(1, 8), (2, 650)])
def test_parameter_count_matches_the_hand_count_without_allocating(layers, hidden):
    model = ModelConfig(arch="lstm", layers=layers, hidden=hidden)
    assert preflight.parameter_count(model, "lm", 1000) == lstm_parameters(1000, hidden, hidden, layers)


def test_parameter_count_matches_a_built_model_for_custom_init():
    model = ModelConfig(arch="rnn_tanh", hidden=16, spectral_radius=1.5, init="orthogonal")
    assert preflight.parameter_count(model, "classify", 50, 3) == count_parameters(build_model(model, 50, "classify", 3))


def test_a_model_too_large_for_memory_is_refused_with_an_estimate(monkeypatch):
    monkeypatch.setattr(preflight, "available_bytes", lambda device: 300 * 10**6)
    model = ModelConfig(arch="lstm", hidden=1000)
    count = lstm_parameters(2, 1000, 1000, 1)  # 8,012,002: × 16 B (AdamW) = 128 MB a run
    preflight.check_fits_in_memory(RunConfig("grammar_lm", model), "lm", vocab_size=2)
    with pytest.raises(ConfigError, match=rf"has {count:,} parameters .* needs ≈ 513 MB .* × 4 runs at once.* "
                                          r"but 300 MB is free on cpu"):
        preflight.check_fits_in_memory(RunConfig("grammar_lm", model), "lm", vocab_size=2, concurrent=4)
    sgd = RunConfig("grammar_lm", model, TrainConfig(optimizer="sgd"))
    preflight.check_fits_in_memory(sgd, "lm", vocab_size=2, concurrent=4)  # 8 B a parameter: 256 MB


def test_a_corpus_shorter_than_one_batch_is_refused():
    preflight.check_stream_size("train", 20 * 35 + 1, batch_size=20, bptt=35)
    with pytest.raises(ConfigError, match=r"train split has 4 tokens, too few .* 20 × BPTT 35 \(needs ≥ 701\)"):
        preflight.check_stream_size("train", 4, batch_size=20, bptt=35)


class FakeHub:
    def __init__(self, outcome):
        self.outcome = outcome

    def __call__(self):
        return self

    def dataset_info(self, name, timeout):
        assert timeout == preflight.HUB_TIMEOUT_SECONDS
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class Info:
    card_data = {"configs": [{"config_name": "wikitext-2-raw-v1"}, {"config_name": "wikitext-103-v1"}]}


@pytest.mark.parametrize("outcome, spec, message", [
    (RepositoryNotFoundError.__new__(RepositoryNotFoundError), "wikitxet", "no dataset 'wikitxet' on the Hugging Face hub"),
    (ConnectionError("Name or service not known"), "wikitext", "cannot reach the Hugging Face hub to check"),
    (TimeoutError("timed out"), "wikitext", "(timed out)"),
    (Info(), "wikitext:wikitext-2", "has no config 'wikitext-2'; valid: wikitext-2-raw-v1, wikitext-103-v1"),
])
def test_a_hub_name_is_checked_in_one_line(monkeypatch, outcome, spec, message):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub(outcome))
    with pytest.raises(ConfigError) as error:
        preflight.check_hub_dataset(spec)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_known_hub_name_passes_and_offline_mode_skips_the_check(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub(Info()))
    preflight.check_hub_dataset("wikitext:wikitext-103-v1")
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub(ConnectionError("offline")))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    preflight.check_hub_dataset("wikitext:wikitext-103-v1")


WRONG_STATE = '''
import torch
from torch import nn
from suite.models.zoo import register_cell


class Cell(nn.Module):
    def __init__(self, input_size, hidden):
        super().__init__()
        self.hidden, self.linear = hidden, nn.Linear(input_size + hidden, hidden)

    def init_state(self, batch, device):
        return torch.zeros(batch, self.hidden + 1, device=device)  # one unit too many

    def forward(self, x, h):
        return torch.tanh(self.linear(torch.cat([h, x], dim=1)))


register_cell("wrong_state", Cell, "a cell whose state has the wrong shape")
'''


def test_a_plugin_cell_whose_state_has_the_wrong_shape_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from suite.cli.main import main
    from suite.models.zoo import ARCHITECTURES

    (tmp_path / "wrong_state_cell.py").write_text(WRONG_STATE)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["--preset", "smoke", "--plugin", "wrong_state_cell", "--archs", "wrong_state", "--out", str(out)])
    finally:
        ARCHITECTURES.pop("wrong_state", None)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1  # before the fix: failed only in training
    assert "architecture 'wrong_state' fails a forward pass of 2 × 3 tokens (RuntimeError" in err
    assert not out.exists()


def test_a_well_formed_plugin_cell_passes_the_forward_check():
    from examples.mgu_cell import MGUCell  # noqa: F401  (registers mgu)
    preflight.check_plugin_model(RunConfig("grammar_lm", ModelConfig(arch="mgu", hidden=8)), "lm")


@pytest.mark.parametrize("spec, says", [
    ("my_corpus/", "corpus folder 'my_corpus/' does not exist; give a folder with train/valid/test files"),
    ("my corpus", "corpus 'my corpus' is neither a local folder (none at that path) nor a valid Hugging Face"),
])
def test_a_missing_folder_is_not_reported_as_an_unreachable_hub(spec, says):
    # before the fix: the README's `--corpus my_corpus/` read "cannot reach the Hugging Face hub … (Repo id
    # must use alphanumeric chars …)"; both refusals come before any network call
    with pytest.raises(ConfigError) as err:
        preflight.check_hub_dataset(spec, timeout=0.01)
    assert str(err.value).startswith(says) and "\n" not in str(err.value)
