"""Minimal-pair test sets in the formats researchers publish, loaded into one item type and scored.

Formats: BLiMP JSONL (`sentence_good` / `sentence_bad`), the Linzen agreement set as redistributed
with Gulordava et al.'s code (`.text` sentences + tab-separated `.gold` targets), and a plain CSV
(`prefix,correct,wrong` plus optional annotation columns). Every malformed line is a ConfigError
naming the file and line.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import nn

from suite.core.config import ConfigError
from suite.data.batches import EOS, Vocab
from suite.models.scoring import continuation_logprobs

BLIMP_FIELDS = ("sentence_good", "sentence_bad")
CSV_FIELDS = ("prefix", "correct", "wrong")
INT_COLUMNS = ("attractors", "intervening_nouns", "distance")  # optional CSV annotations
_TOKEN = re.compile(r"[\w'-]+|[^\w\s]")


@dataclass(frozen=True)
class MinimalPair:
    """A prefix and two continuations, the grammatical one first, with optional annotation."""

    prefix: tuple[str, ...]
    correct: tuple[str, ...]
    wrong: tuple[str, ...]
    source: str = ""  # file:line, or a generator's description
    attractors: int | None = None
    construction: str | None = None
    distance: int | None = None  # tokens from subject head to verb
    subject_plural: bool | None = None
    nearest_noun_plural: bool | None = None
    intervening_nouns: int | None = None  # nouns between subject head and verb, whatever their number
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def tokenize(text: str) -> list[str]:
    """Lower-case words with punctuation split off: 'The cats annoy Tim.' → the cats annoy tim ."""
    return _TOKEN.findall(text.lower())


def load_testset(path: str | Path) -> list[MinimalPair]:
    """Load a test set by extension: .jsonl (BLiMP), .text/.gold (Linzen/Gulordava), .csv."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return load_blimp(path)
    if suffix in (".text", ".gold"):
        return load_linzen(path.with_suffix(".text"), path.with_suffix(".gold"))
    if suffix == ".csv":
        return load_csv(path)
    raise ConfigError(f"{path}: unknown test-set format '{suffix}'; valid: .jsonl (BLiMP), "
                      ".text/.gold (Linzen/Gulordava), .csv (prefix,correct,wrong)")


def _read_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read test set ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def load_blimp(path: str | Path) -> list[MinimalPair]:
    """BLiMP JSONL: one object per line with sentence_good / sentence_bad (+ metadata kept in meta).

    The pair becomes the shared token prefix (after <eos>) and the two differing suffixes, so the
    comparison equals BLiMP's full-sentence log-probability comparison.
    """
    items = []
    for number, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or any(not isinstance(obj.get(k), str) for k in BLIMP_FIELDS):
            raise ConfigError(f"{where}: a BLiMP line needs string fields sentence_good and sentence_bad")
        good, bad = tokenize(obj["sentence_good"]), tokenize(obj["sentence_bad"])
        shared = _common_prefix(good, bad)
        if good == bad:
            raise ConfigError(f"{where}: sentence_good and sentence_bad are the same sentence")
        if shared == len(good) or shared == len(bad):
            raise ConfigError(f"{where}: one sentence is a prefix of the other; "
                              "a minimal pair needs a differing continuation for each")
        meta = {k: v for k, v in obj.items() if k not in BLIMP_FIELDS}
        # Both continuations end with <eos>: the full-sentence comparison includes the ending.
        items.append(MinimalPair((EOS, *good[:shared]), (*good[shared:], EOS), (*bad[shared:], EOS),
                                 where, construction=meta.get("UID"), meta=meta))
    return items


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def load_linzen(text_path: str | Path, gold_path: str | Path) -> list[MinimalPair]:
    """Line-aligned .text (tokenised sentence ending in <eos>) and .gold (index, correct, wrong,
    attractors; tab-separated, index 0-based into the sentence's tokens)."""
    sentences, golds = _read_lines(text_path), _read_lines(gold_path)
    if len(sentences) != len(golds):
        raise ConfigError(f"{gold_path}: {len(golds)} lines but {text_path} has {len(sentences)}; "
                          "the two files must be line-aligned")
    items = []
    for number, (sentence, gold) in enumerate(zip(sentences, golds), 1):
        where = f"{gold_path}:{number}"
        cols = gold.split("\t")
        if len(cols) != 4:
            raise ConfigError(f"{where}: expected 4 tab-separated columns (index, correct, wrong, "
                              f"attractors), got {len(cols)}")
        index_text, correct, wrong, attractor_text = (c.strip() for c in cols)
        if not index_text.isdigit() or not attractor_text.isdigit():
            raise ConfigError(f"{where}: index and attractors must be non-negative integers "
                              f"(got '{index_text}', '{attractor_text}')")
        tokens = sentence.split()
        index = int(index_text)
        if index >= len(tokens):
            raise ConfigError(f"{where}: target index {index} is outside {text_path}:{number} "
                              f"({len(tokens)} tokens, indices 0–{len(tokens) - 1})")
        if tokens[index] != correct:
            raise ConfigError(f"{where}: target index {index} points at '{tokens[index]}' in "
                              f"{text_path}:{number}, not at the correct form '{correct}'")
        if not wrong or wrong == correct:
            raise ConfigError(f"{where}: the wrong form must be non-empty and differ from the correct one")
        items.append(MinimalPair((EOS, *tokens[:index]), (correct,), (wrong,), where,
                                 attractors=int(attractor_text)))
    return items


def load_csv(path: str | Path) -> list[MinimalPair]:
    """CSV with a header: prefix,correct,wrong (whitespace-tokenised) plus optional columns
    attractors, intervening_nouns, construction, distance (others are kept in meta); a missing
    annotation column leaves that annotation None."""
    lines = _read_lines(path)
    rows = list(csv.reader(lines))
    if not rows or any(c not in [h.strip() for h in rows[0]] for c in CSV_FIELDS):
        raise ConfigError(f"{path}:1: the header must contain prefix, correct and wrong")
    header = [h.strip() for h in rows[0]]
    items = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{number}"
        if len(row) != len(header):
            raise ConfigError(f"{where}: {len(row)} columns, but the header has {len(header)}")
        rec = {h: cell.strip() for h, cell in zip(header, row)}
        prefix, correct, wrong = (rec[c].split() for c in CSV_FIELDS)
        if not prefix or not correct or not wrong or correct == wrong:
            raise ConfigError(f"{where}: prefix, correct and wrong must be non-empty and correct ≠ wrong")
        ints = {}
        for key in INT_COLUMNS:
            if rec.get(key):
                if not rec[key].isdigit():
                    raise ConfigError(f"{where}: {key} must be a non-negative integer (got '{rec[key]}')")
                ints[key] = int(rec[key])
        meta = {k: v for k, v in rec.items() if k not in (*CSV_FIELDS, *INT_COLUMNS, "construction")}
        items.append(MinimalPair((EOS, *prefix), tuple(correct), tuple(wrong), where,
                                 construction=rec.get("construction") or None, meta=meta, **ints))
    return items


# --------------------------------------------------------------------------- scoring


@dataclass
class Scored:
    """Which items a model got right, and the ones its vocabulary cannot represent."""

    items: list[MinimalPair]  # the scored items
    correct: list[bool]  # log P(correct | prefix) > log P(wrong | prefix), per scored item
    margins: list[float]  # log P(correct) − log P(wrong)
    unrepresentable: list[MinimalPair]  # items with a word outside the vocabulary (never dropped silently)

    @property
    def error_rate(self) -> float:
        return 1 - sum(self.correct) / len(self.correct) if self.correct else float("nan")


Encoder = Callable[[Sequence[str]], "list[int] | None"]  # words → ids, or None when unrepresentable


def vocab_encoder(vocab: Vocab) -> Encoder:
    """A word-level vocabulary spells an item only when it knows every word."""
    return lambda words: vocab.encode(words) if all(w in vocab for w in words) else None


def score_pairs(model: nn.Module, items: Sequence[MinimalPair], encoder: Vocab | Encoder,
                device: str = "cpu") -> Scored:
    """Score each pair from a fresh state with the suite's continuation log-probabilities (a multi-piece
    word sums its pieces); a tie counts as an error (the model does not prefer the correct form).
    `encoder` is a word vocabulary, or any function from words to ids (None: cannot spell them)."""
    encode = vocab_encoder(encoder) if isinstance(encoder, Vocab) else encoder
    ok, bad, encoded = [], [], []
    for it in items:
        ids = [encode(part) for part in (it.prefix, it.correct, it.wrong)]
        if any(i is None for i in ids):
            bad.append(it)
        else:
            ok.append(it)
            encoded.append(ids)
    if not ok:
        return Scored([], [], [], bad)
    prefixes = [e[0] for e in encoded]
    conts = [e[1] for e in encoded] + [e[2] for e in encoded]
    scores = continuation_logprobs(model, prefixes + prefixes, conts, device)
    n = len(ok)
    margins = [scores[i] - scores[n + i] for i in range(n)]
    return Scored(ok, [m > 0 for m in margins], margins, bad)
