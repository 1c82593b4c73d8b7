"""Corpora: local folders through the `datasets` text builder, its cache, and one-line errors."""
import os
from pathlib import Path

import pytest

from suite.core.config import ConfigError
from suite.data.corpora import load_corpus

WIKITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikitext-2"

TRAIN = " = Title = \n \n the cat sat on the mat . \n a dog ran \n"
VALID = " the dog sat . \n"
TEST = " \n a cat ran . \n"


def write_corpus(folder: Path, names=("train.txt", "valid.txt", "test.txt"), texts=(TRAIN, VALID, TEST)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in zip(names, texts):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_local_folder_gives_every_line_of_every_split(tmp_path):
    folder = write_corpus(tmp_path / "c")
    corpus = load_corpus(str(folder), cache_dir=tmp_path / "hf")
    assert corpus.source == "local"
    # One row per line, line breaks dropped, empty and blank lines kept (they are <eos> tokens).
    assert corpus.splits["train"] == [" = Title = ", " ", " the cat sat on the mat . ", " a dog ran "]
    assert corpus.splits["valid"] == [" the dog sat . "]
    assert corpus.splits["test"] == [" ", " a cat ran . "]
    assert corpus.words("train") == 3 + 0 + 7 + 3 + 4  # words plus one end-of-line per line


def test_wikitext_file_names_are_recognised(tmp_path):
    folder = write_corpus(tmp_path / "w", names=("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"))
    assert load_corpus(str(folder), cache_dir=tmp_path / "hf").splits["valid"] == [" the dog sat . "]


def test_second_load_reuses_the_datasets_cache_and_says_so(tmp_path, capsys):
    folder = write_corpus(tmp_path / "c")
    first = load_corpus(str(folder), cache_dir=tmp_path / "hf")
    second = load_corpus(str(folder), cache_dir=tmp_path / "hf")
    log = capsys.readouterr().err
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert "corpus prepared" in log and "corpus cache hit" in log
    assert second.splits == first.splits and second.train_sha256 == first.train_sha256
    assert any((tmp_path / "hf").rglob("*.arrow"))  # Arrow files, the `datasets` cache format


def test_train_hash_follows_the_training_text_only(tmp_path):
    a = load_corpus(str(write_corpus(tmp_path / "a")), cache_dir=tmp_path / "hf")
    b = load_corpus(str(write_corpus(tmp_path / "b", texts=(TRAIN, " other \n", TEST))), cache_dir=tmp_path / "hf")
    c = load_corpus(str(write_corpus(tmp_path / "c", texts=(TRAIN + " more \n", VALID, TEST))),
                    cache_dir=tmp_path / "hf")
    assert a.train_sha256 == b.train_sha256 != c.train_sha256


def one_line_error(spec, tmp_path) -> str:
    with pytest.raises(ConfigError) as info:
        load_corpus(spec, cache_dir=tmp_path / "hf")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_split_file_names_folder_and_expected_names(tmp_path):
    folder = write_corpus(tmp_path / "c", names=("train.txt", "valid.txt"), texts=(TRAIN, VALID))
    message = one_line_error(str(folder), tmp_path)
    assert str(folder) in message and "test file" in message and "test.txt" in message


def test_missing_folder(tmp_path):
    assert "does not exist" in one_line_error(str(tmp_path / "nowhere"), tmp_path)


def test_empty_and_blank_files_are_errors_with_their_path(tmp_path):
    for n, text in enumerate(["", " \n \n"]):
        folder = write_corpus(tmp_path / f"c{n}", texts=(TRAIN, text, TEST))
        message = one_line_error(str(folder), tmp_path)
        assert str(folder / "valid.txt") in message and "empty" in message


def test_bad_utf8_names_file_and_line(tmp_path):
    folder = write_corpus(tmp_path / "c")
    (folder / "test.txt").write_bytes(b" fine \n fine \n caf\xe9 \n")
    message = one_line_error(str(folder), tmp_path)
    assert f"{folder / 'test.txt'}:3:" in message and "UTF-8" in message


def test_unreadable_file_is_an_error_with_its_path(tmp_path):
    folder = write_corpus(tmp_path / "c", names=("valid.txt", "test.txt"), texts=(VALID, TEST))
    (folder / "train.txt").mkdir()  # exists but cannot be read as a file (works even as root)
    message = one_line_error(str(folder), tmp_path)
    assert str(folder / "train.txt") in message and "cannot read" in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_is_an_error_with_its_path(tmp_path):
    folder = write_corpus(tmp_path / "c")
    (folder / "train.txt").chmod(0)
    message = one_line_error(str(folder), tmp_path)
    assert str(folder / "train.txt") in message


def test_unreachable_hub_corpus_is_one_line_error(tmp_path, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hugging Face Hub\n(more detail)")
    monkeypatch.setattr(datasets, "load_dataset_builder", offline)
    message = one_line_error("wikitext:wikitext-2-raw-v1", tmp_path)
    assert "wikitext:wikitext-2-raw-v1" in message and "Couldn't reach" in message


def test_hub_name_splits_dataset_and_config(tmp_path, monkeypatch):
    """A hub spec 'name:config' reaches `datasets` as (name, config); 'validation' becomes valid."""
    import datasets

    folder = write_corpus(tmp_path / "c")
    real = datasets.load_dataset_builder
    seen = {}

    def fake(name, config=None, cache_dir=None):
        seen.update(name=name, config=config)
        files = {"train": str(folder / "train.txt"), "validation": str(folder / "valid.txt"),
                 "test": str(folder / "test.txt")}
        return real("text", data_files=files, cache_dir=cache_dir)
    monkeypatch.setattr(datasets, "load_dataset_builder", fake)
    corpus = load_corpus("wikitext:wikitext-2-raw-v1", cache_dir=tmp_path / "hf")
    assert seen == {"name": "wikitext", "config": "wikitext-2-raw-v1"}
    assert corpus.source == "hub" and corpus.splits["valid"] == [" the dog sat . "]


@pytest.mark.skipif(not WIKITEXT.is_dir(), reason="shared WikiText-2 copy not present")
def test_wikitext2_copy_matches_its_published_counts_and_vocabulary(tmp_path):
    from suite.data.tokenizers import TokenizerSpec, get_tokenizer

    corpus = load_corpus(str(WIKITEXT), cache_dir=tmp_path / "hf")
    # Published WikiText-2 figures (and ../shared/data/README.md): tokens incl. one <eos> per line.
    assert [len(corpus.splits[s]) for s in ("train", "valid", "test")] == [36718, 3760, 4358]
    assert [corpus.words(s) for s in ("train", "valid", "test")] == [2088628, 217646, 245569]
    # 33,278 types incl. <eos> and <unk>, plus the suite's <pad>: the word vocabulary of published results.
    assert len(get_tokenizer(corpus, TokenizerSpec("word"), tmp_path / "tok").vocab) == 33278 + 1
