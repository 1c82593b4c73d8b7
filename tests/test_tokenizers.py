"""Tokenizers: word vocabularies with <unk>, SentencePiece unigram/BPE, and their on-disk cache."""
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suite.core.config import ConfigError
from suite.data.corpora import Corpus
from suite.data.batches import EOS, PAD, UNK
from suite.data.grammar import generate
from suite.data import tokenizers
from suite.data.tokenizers import TokenizerSpec, fit_word_vocab, get_tokenizer, train_sentencepiece


def artefacts(folder) -> list:
    """Cached tokenizers in `folder` (not the lock files beside them)."""
    return [p for p in folder.iterdir() if p.suffix != ".lock"]


def corpus_of(train: list[str]) -> Corpus:
    digest = hashlib.sha256("\n".join(train).encode()).hexdigest()
    return Corpus("mem", "local", {"train": train, "valid": train[:2], "test": train[:2]}, digest, False)


@pytest.fixture(scope="module")
def english():
    """A few thousand generated English-like lines: enough text for small SentencePiece models."""
    return corpus_of([" ".join(s.tokens) for s in generate(600, seed=0)])


def test_word_vocab_orders_by_frequency_then_spelling():
    vocab = fit_word_vocab(["b a c a", "b a d"], TokenizerSpec("word"))
    assert vocab.itos == [PAD, UNK, EOS, "a", "b", "c", "d"]  # a:3, b:2, then c, d (1 each) by spelling


def test_word_vocab_caps_and_min_count_send_the_rest_to_unk():
    lines = ["b a c a", "b a d", "<unk> <unk> <unk> <unk>"]
    assert fit_word_vocab(lines, TokenizerSpec("word", vocab_size=5)).itos == [PAD, UNK, EOS, "a", "b"]
    assert fit_word_vocab(lines, TokenizerSpec("word", min_count=2)).itos == [PAD, UNK, EOS, "a", "b"]


def test_word_encoding_is_one_id_per_word_plus_eos_per_line(tmp_path):
    tok = get_tokenizer(corpus_of(["x y x", "y z"]), TokenizerSpec("word", vocab_size=5), tmp_path)
    text = tok.encode_lines(["x y q", "", "<unk> z"])
    ids = {w: tok.vocab.stoi[w] for w in ("x", "y")}
    unk, eos = tok.vocab.unk_id, tok.vocab.eos_id
    assert text.ids.tolist() == [ids["x"], ids["y"], unk, eos, eos, unk, unk, eos]  # z fell out of the cap
    assert text.word_ends.tolist() == [1] * 8 and text.words == 8


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_sentencepiece_ids_match_the_suite_vocab(english, tmp_path, kind):
    tok = get_tokenizer(english, TokenizerSpec(kind, vocab_size=120), tmp_path)
    assert len(tok.vocab) == 120
    assert tok.vocab.itos[:3] == [PAD, UNK, EOS]
    for i in (3, 50, 119):
        assert tok.processor.id_to_piece(i) == tok.vocab.itos[i]


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_word_by_word_encoding_equals_encoding_the_line(english, tmp_path, kind):
    tok = get_tokenizer(english, TokenizerSpec(kind, vocab_size=120), tmp_path)
    for line in english.splits["train"][:50] + ["unseen wordforms zqx here"]:
        pieces = tok.encode_words(line.split())
        assert [i for p in pieces for i in p] == tok.processor.encode(line)  # SentencePiece's own answer
        if all(tok.vocab.unk_id not in p for p in pieces):  # a rare character is <unk>: not decodable
            assert [tok.processor.decode(p) for p in pieces] == line.split()


@pytest.fixture(scope="module")
def unigram(english, tmp_path_factory):
    return get_tokenizer(english, TokenizerSpec("unigram", vocab_size=80), tmp_path_factory.mktemp("sp"))


@settings(max_examples=25, deadline=None)
@given(lines=st.lists(st.text(alphabet="abcdefgh .é\t", max_size=30), max_size=6))
def test_word_ends_count_words_plus_line_ends(unigram, lines):
    text = unigram.encode_lines(lines)
    assert text.words == sum(len(line.split()) + 1 for line in lines)
    assert len(text.word_ends) == len(text.ids)
    assert text.ids[text.word_ends == 0].ne(unigram.vocab.eos_id).all()  # only word-final pieces are <eos>
    assert (text.ids == unigram.vocab.eos_id).sum() >= len(lines)


def test_second_request_is_a_logged_cache_hit(english, tmp_path, capsys):
    spec = TokenizerSpec("unigram", vocab_size=100)
    first = get_tokenizer(english, spec, tmp_path)
    second = get_tokenizer(english, spec, tmp_path)
    log = capsys.readouterr().err
    assert "trained on the train split and cached" in log and "tokenizer cache hit" in log
    assert first.vocab.itos == second.vocab.itos
    assert len(artefacts(tmp_path)) == 1


def test_cache_key_changes_with_text_and_settings(english, tmp_path, capsys):
    get_tokenizer(english, TokenizerSpec("bpe", vocab_size=100), tmp_path)
    get_tokenizer(english, TokenizerSpec("bpe", vocab_size=90), tmp_path)
    get_tokenizer(corpus_of(english.splits["train"][:-1]), TokenizerSpec("bpe", vocab_size=100), tmp_path)
    assert "cache hit" not in capsys.readouterr().err
    assert len(artefacts(tmp_path)) == 3


def test_parallel_workers_asking_for_one_tokenizer_train_it_once(english, tmp_path, monkeypatch):
    calls = []

    def slow_fit(lines, spec):  # widens the window in which both would find no cached file
        calls.append(spec)
        time.sleep(0.3)
        return fit_word_vocab(lines, spec)

    monkeypatch.setattr(tokenizers, "fit_word_vocab", slow_fit)
    spec = TokenizerSpec("word", vocab_size=50)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: get_tokenizer(english, spec, tmp_path), range(2)))
    assert len(calls) == 1 and results[0].vocab.itos == results[1].vocab.itos


def test_training_uses_only_the_train_split(tmp_path):
    """Valid/test text never reaches the tokenizer: a word seen only in test stays <unk>."""
    corpus = Corpus("mem", "local", {"train": ["a b a"], "valid": ["c"], "test": ["c d"]}, "h", False)
    tok = get_tokenizer(corpus, TokenizerSpec("word"), tmp_path)
    assert "c" not in tok.vocab and tok.encode_lines(["c d"]).ids.tolist()[:2] == [tok.vocab.unk_id] * 2


def test_sentencepiece_training_is_deterministic(english):
    spec = TokenizerSpec("unigram", vocab_size=100)
    lines = english.splits["train"][:300]
    assert train_sentencepiece(lines, spec) == train_sentencepiece(lines, spec)


def test_impossible_settings_are_one_line_config_errors(english, tmp_path):
    for spec, needle in [(TokenizerSpec("wordpiece"), "unknown tokenizer"),
                         (TokenizerSpec("unigram", vocab_size=0), "vocab_size"),
                         (TokenizerSpec("word", min_count=0), "min_count"),
                         (TokenizerSpec("unigram", vocab_size=50000), "cannot be trained")]:
        with pytest.raises(ConfigError) as info:
            get_tokenizer(english, spec, tmp_path)
        assert needle in str(info.value) and "\n" not in str(info.value)
