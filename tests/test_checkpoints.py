"""Saved models: a loaded model is the trained model, bit for bit; a damaged one is refused in one line."""
import json
import struct

import pytest
import torch

from suite.run.checkpoints import (MANIFEST, WEIGHTS, CheckpointError, has_saved_model, load_saved_model, model_dir,
                               file_sha256, save_model_files, save_run_model, saved_run_ids)
from suite.core.config import ModelConfig, RunConfig
from suite.data.batches import Vocab
from suite.models.zoo import build_model
from suite.task import RunOutcome
from suite.data.tokenizers import SentencePieceTokenizer, TokenizerSpec, WordTokenizer, train_sentencepiece
from suite.training.trainer import TrainResult

WORDS = ["the", "dog", "dogs", "barks", "bark", "near", "cat", "cats"]


def _model(cfg: ModelConfig, vocab_size: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(cfg, vocab_size, "lm")


@pytest.mark.parametrize("model_cfg", [
    ModelConfig("lstm", hidden=8), ModelConfig("gru", layers=2, hidden=8, skip="highway"),
    ModelConfig("rnn_tanh", hidden=8, tie_weights=True), ModelConfig("transformer", hidden=8, layers=1),
], ids=lambda m: m.label + ("-tied" if m.tie_weights else ""))
def test_a_loaded_model_has_the_same_weights_and_the_same_logits(tmp_path, model_cfg):
    vocab = Vocab(WORDS)
    cfg = RunConfig("grammar_lm", model_cfg, seed=3)
    model = _model(model_cfg, len(vocab))
    save_model_files(tmp_path, cfg, model, vocab, "lm")
    saved = load_saved_model(tmp_path, cfg.run_id)
    assert saved.cfg == cfg and saved.vocab.itos == vocab.itos and saved.tokenizer is None
    for (name, a), (_, b) in zip(sorted(model.state_dict().items()), sorted(saved.model.state_dict().items())):
        assert torch.equal(a, b), name
    if model_cfg.tie_weights:
        assert saved.model.head.weight is saved.model.embedding.weight  # still one tensor
    tokens = torch.randint(len(vocab), (3, 7), generator=torch.Generator().manual_seed(0))
    model.eval()
    assert torch.equal(model(tokens)[0], saved.model(tokens)[0])


def test_the_weights_file_is_safetensors_not_a_pickle(tmp_path):
    vocab = Vocab(WORDS)
    cfg = RunConfig("grammar_lm", ModelConfig("lstm", hidden=8))
    save_model_files(tmp_path, cfg, _model(cfg.model, len(vocab)), vocab, "lm")
    raw = (model_dir(tmp_path, cfg.run_id) / WEIGHTS).read_bytes()
    (header_length,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header size, then a JSON header
    header = json.loads(raw[8:8 + header_length])
    assert "embedding.weight" in header and header["embedding.weight"]["dtype"] == "F32"


def test_word_and_sentencepiece_tokenizers_come_back_spelling_words_the_same_way(tmp_path):
    lines = ["the dogs near the cat bark", "the dog barks", "cats and dogs bark at the cat"] * 20
    word = WordTokenizer(TokenizerSpec("word"), Vocab(WORDS))
    pieces = SentencePieceTokenizer(TokenizerSpec("bpe", 30), train_sentencepiece(lines, TokenizerSpec("bpe", 30)))
    for seed, tokenizer in enumerate((word, pieces)):
        cfg = RunConfig("text_lm", ModelConfig("lstm", hidden=8), seed=seed)
        save_model_files(tmp_path, cfg, _model(cfg.model, len(tokenizer.vocab)), tokenizer, "lm")
        saved = load_saved_model(tmp_path, cfg.run_id)
        assert saved.tokenizer.spec == tokenizer.spec
        assert saved.vocab.itos == tokenizer.vocab.itos
        text = ["the", "dogs", "barked", "zebra"]
        assert saved.tokenizer.encode_words(text) == tokenizer.encode_words(text)
    assert sorted(saved_run_ids(tmp_path)) == sorted(RunConfig("text_lm", ModelConfig("lstm", hidden=8), seed=s).run_id
                                                     for s in (0, 1))


def _saved(tmp_path):
    vocab = Vocab(WORDS)
    cfg = RunConfig("grammar_lm", ModelConfig("lstm", hidden=8))
    save_model_files(tmp_path, cfg, _model(cfg.model, len(vocab)), vocab, "lm")
    return cfg, model_dir(tmp_path, cfg.run_id)


def test_a_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(CheckpointError, match="has no saved model .* --save-models"):
        load_saved_model(tmp_path, "0123456789abcdef")


def test_a_truncated_weights_file_is_detected(tmp_path):
    cfg, folder = _saved(tmp_path)
    weights = folder / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="weights.safetensors: truncated or corrupt"):
        load_saved_model(tmp_path, cfg.run_id)
    weights.unlink()
    with pytest.raises(CheckpointError, match="weights.safetensors: missing"):
        load_saved_model(tmp_path, cfg.run_id)


def test_weights_that_do_not_fit_the_recorded_config_are_refused(tmp_path):
    cfg, folder = _saved(tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["config"]["model"]["hidden"] = 16  # the file holds hidden=8 weights
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="weights do not fit the recorded config .*hidden 16"):
        load_saved_model(tmp_path, cfg.run_id)


def _with_files(folder, edit):
    manifest = json.loads((folder / MANIFEST).read_text())
    edit(manifest["files"])
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_a_file_list_that_points_out_of_the_model_folder_is_refused(tmp_path):
    cfg, folder = _saved(tmp_path)
    outside = tmp_path / "hostname"
    outside.write_text("somewhere\n")
    escape = "../../hostname"  # before the fix: hashed and accepted
    _with_files(folder, lambda files: files.update({escape: file_sha256(outside)}))
    with pytest.raises(CheckpointError, match="lists the file '../../hostname', which no saved model holds"):
        load_saved_model(tmp_path, cfg.run_id)


def test_a_weights_file_that_is_a_link_out_of_the_folder_is_refused(tmp_path):
    cfg, folder = _saved(tmp_path)
    moved = tmp_path / "elsewhere.safetensors"
    (folder / WEIGHTS).rename(moved)
    (folder / WEIGHTS).symlink_to(moved)
    with pytest.raises(CheckpointError, match="a link, or a path out of the model folder"):
        load_saved_model(tmp_path, cfg.run_id)


def test_a_file_list_without_the_weights_is_refused(tmp_path):
    cfg, folder = _saved(tmp_path)
    _with_files(folder, lambda files: files.pop(WEIGHTS))
    with pytest.raises(CheckpointError, match="records no hash for weights.safetensors"):
        load_saved_model(tmp_path, cfg.run_id)


def test_a_model_folder_of_another_run_is_refused(tmp_path):
    cfg, folder = _saved(tmp_path)
    folder.rename(model_dir(tmp_path, "ffffffffffffffff"))
    with pytest.raises(CheckpointError, match="belongs to run"):
        load_saved_model(tmp_path, "ffffffffffffffff")


def test_only_finished_runs_with_a_model_are_saved(tmp_path):
    vocab = Vocab(WORDS)
    cfg = RunConfig("grammar_lm", ModelConfig("lstm", hidden=8))
    model = _model(cfg.model, len(vocab))
    assert save_run_model(tmp_path, cfg, RunOutcome(TrainResult(status="diverged"), {}, 0, model=model,
                                                    vocab=vocab)) is None
    assert save_run_model(tmp_path, cfg, RunOutcome(TrainResult(), {}, 0)) is None  # a task that keeps none
    assert not has_saved_model(tmp_path, cfg.run_id)
    path = save_run_model(tmp_path, cfg, RunOutcome(TrainResult(), {}, 0, model=model, vocab=vocab))
    assert path == f"runs/{cfg.run_id}.model" and has_saved_model(tmp_path, cfg.run_id)
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # the staging folder is gone


def test_a_saved_model_folder_honours_the_umask(tmp_path):
    import os
    previous = os.umask(0o022)
    try:
        cfg, folder = _saved(tmp_path)
    finally:
        os.umask(previous)
    # before the fix: the folder was 0700 (mkdtemp's mode) whatever the umask
    assert oct(folder.stat().st_mode & 0o777) == oct(0o755)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {
        p.name: oct(0o644) for p in folder.iterdir()}
