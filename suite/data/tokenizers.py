"""Tokenizers for natural text: word-level (with <unk>) and SentencePiece (unigram or BPE).

Both are fitted on the training split only and cached on disk under a key that hashes the
training text and the settings, so a second run reuses them (and says so in the log). Both
expose a `suite.data.Vocab` whose ids are the model's ids: for SentencePiece the piece ids,
with <pad>, <unk>, <eos> at 0, 1, 2 as everywhere in the suite.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from suite.core.config import ConfigError
from suite.data.corpora import Corpus, log
from suite.data.batches import EOS, PAD, UNK, Vocab
from suite.core.files import write_text_atomic

KINDS = ("word", "unigram", "bpe")
FORMAT_VERSION = 1  # bump when the cached artefacts change meaning


@dataclass(frozen=True)
class TokenizerSpec:
    kind: str = "word"  # word | unigram | bpe
    vocab_size: int = 0  # ids incl. <pad>/<unk>/<eos>; word: 0 keeps every word; SentencePiece: required
    min_count: int = 1  # word-level: rarer words become <unk>

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown tokenizer '{self.kind}'; valid: {', '.join(KINDS)}")
        if self.vocab_size < 0 or (self.kind != "word" and self.vocab_size < 8):
            raise ConfigError(f"vocab_size must be ≥ 8 for SentencePiece and ≥ 0 for words "
                              f"(got {self.vocab_size} for {self.kind})")
        if self.min_count < 1:
            raise ConfigError(f"min_count must be ≥ 1 (got {self.min_count})")


@dataclass(frozen=True)
class EncodedText:
    """A split as one token stream plus, per token, 1 where a word (or a line's <eos>) ends."""

    ids: torch.Tensor
    word_ends: torch.Tensor

    @property
    def words(self) -> int:
        return int(self.word_ends.sum())


class Tokenizer:
    """Splits words into ids; `encode_words` is what probes use, `encode_lines` what LMs train on."""

    spec: TokenizerSpec
    vocab: Vocab
    cache_hit: bool = False  # loaded from the on-disk cache rather than fitted now

    def encode_words(self, words: Sequence[str]) -> list[list[int]]:
        """The ids of each word (one id per word for word-level, one or more pieces for SentencePiece)."""
        raise NotImplementedError

    def encode_lines(self, lines: Sequence[str]) -> EncodedText:
        """Each line's words then <eos>, as one stream; empty lines contribute just <eos>."""
        ids: list[int] = []
        ends: list[int] = []
        eos = self.vocab.eos_id
        for line in lines:
            for pieces in self.encode_words(line.split()):
                ids.extend(pieces)
                ends.extend([0] * (len(pieces) - 1) + [1])
            ids.append(eos)
            ends.append(1)
        return EncodedText(torch.tensor(ids, dtype=torch.long), torch.tensor(ends, dtype=torch.long))


class WordTokenizer(Tokenizer):
    def __init__(self, spec: TokenizerSpec, vocab: Vocab):
        self.spec, self.vocab = spec, vocab

    def encode_words(self, words: Sequence[str]) -> list[list[int]]:
        return [[i] for i in self.vocab.encode(words)]

    def encode_lines(self, lines: Sequence[str]) -> EncodedText:
        # One id per word, so every token ends a word: the generic loop, without its per-word lists.
        stoi, unk, eos = self.vocab.stoi, self.vocab.unk_id, self.vocab.eos_id
        ids: list[int] = []
        for line in lines:
            ids.extend([stoi.get(w, unk) for w in line.split()])
            ids.append(eos)
        return EncodedText(torch.tensor(ids, dtype=torch.long), torch.ones(len(ids), dtype=torch.long))


class SentencePieceTokenizer(Tokenizer):
    def __init__(self, spec: TokenizerSpec, model_proto: bytes):
        import sentencepiece as spm

        self.spec = spec
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        pieces = [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]
        if pieces[:3] != [PAD, UNK, EOS]:
            raise ValueError(f"SentencePiece model has specials {pieces[:3]}, expected {[PAD, UNK, EOS]}")
        self.vocab = Vocab(pieces[3:])  # same ids as the processor
        if len(self.vocab) != len(pieces):
            raise ValueError("SentencePiece pieces are not unique")

    def encode_words(self, words: Sequence[str]) -> list[list[int]]:
        # Pieces never cross whitespace, so encoding word by word equals encoding the line, and
        # tells exactly which piece ends which word. A word that normalises to nothing becomes <unk>.
        return [ids or [self.vocab.unk_id] for ids in self.processor.encode(list(words))] if words else []


def cache_root() -> Path:
    """Where suite-made artefacts live: $RECENCY_BENCH_CACHE, else ~/.cache/recency-bench."""
    base = os.environ.get("RECENCY_BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache"),
                                                          "recency-bench")
    return Path(base).expanduser()


def cache_key(spec: TokenizerSpec, train_sha256: str) -> str:
    """Hash of the training text and every setting: equal keys mean an identical tokenizer."""
    text = json.dumps({"spec": asdict(spec), "train": train_sha256, "format": FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def get_tokenizer(corpus: Corpus, spec: TokenizerSpec, cache_dir: str | Path | None = None) -> Tokenizer:
    """The tokenizer for `spec` fitted on the corpus' training split, from the cache when there."""
    spec.validate()
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / "tokenizers"
    key = cache_key(spec, corpus.train_sha256)
    path = folder / (f"{spec.kind}-{key}" + (".vocab.json" if spec.kind == "word" else ".model"))
    with _exclusive(path.with_name(path.name + ".lock")):  # parallel workers train a tokenizer once
        if path.exists():
            log(f"tokenizer cache hit: {spec.kind} (vocab_size={spec.vocab_size}) {path}")
            tokenizer = _load(spec, path)
            tokenizer.cache_hit = True
            return tokenizer
        if spec.kind == "word":
            vocab = fit_word_vocab(corpus.splits["train"], spec)
            write_text_atomic(path, json.dumps(vocab.itos, ensure_ascii=False))
        else:
            _write_bytes_atomic(path, train_sentencepiece(corpus.splits["train"], spec))
    log(f"tokenizer trained on the train split and cached: {spec.kind} (vocab_size={spec.vocab_size}) {path}")
    return _load(spec, path)


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an exclusive lock on `lock_path` (POSIX); elsewhere two workers may train the same tokenizer."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _load(spec: TokenizerSpec, path: Path) -> Tokenizer:
    if spec.kind == "word":
        itos = json.loads(path.read_text(encoding="utf-8"))
        return WordTokenizer(spec, Vocab(itos[3:]))
    return SentencePieceTokenizer(spec, path.read_bytes())


def fit_word_vocab(lines: Sequence[str], spec: TokenizerSpec) -> Vocab:
    """Words of the training lines by frequency (ties by spelling), capped by min_count and vocab_size."""
    counts = Counter(w for line in lines for w in line.split())
    for special in (PAD, UNK, EOS):
        counts.pop(special, None)
    words = sorted((w for w, n in counts.items() if n >= spec.min_count), key=lambda w: (-counts[w], w))
    if spec.vocab_size:
        words = words[:max(0, spec.vocab_size - 3)]
    return Vocab(words)


def train_sentencepiece(lines: Sequence[str], spec: TokenizerSpec) -> bytes:
    """Serialized SentencePiece model trained on `lines`; ids 0/1/2 are <pad>/<unk>/<eos>."""
    import sentencepiece as spm

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([line for line in lines if line.strip()]), model_writer=model,
            model_type=spec.kind, vocab_size=spec.vocab_size, pad_id=0, unk_id=1, eos_id=2, bos_id=-1,
            pad_piece=PAD, unk_piece=UNK, eos_piece=EOS, input_sentence_size=0, num_threads=1,
            minloglevel=2)
    except RuntimeError as exc:  # e.g. "Vocabulary size is too high" on a small corpus
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"SentencePiece {spec.kind} with vocab_size={spec.vocab_size} cannot be trained "
                          f"on this corpus: {first}") from None
    return model.getvalue()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
