"""Minimal-pair test sets in the formats researchers publish, loaded as published into one item type.

Formats: BLiMP JSONL (`sentence_good` / `sentence_bad`) or BLiMP from the hub through `datasets`
(`hf:NAME_OR_FOLDER:CONFIG`); the Linzen set as redistributed with Gulordava et al.'s code (`.text`
sentences + 4-column `.gold`); Gulordava et al.'s generated set (12-column `.gold`, or the `.tab` with a
header; original and nonce sentences kept apart as `condition`, nonce items scored on their prefix); a CSV
(`prefix,correct,wrong` + optional annotations); Marvin & Linzen-style templates as CSV/TSV of
(case, condition, grammatical, ungrammatical) sentences.

Item-level quirks of a real file do not stop the set: a target differing from the sentence only in case is
case-folded (counted); identical forms or a malformed line are set aside with the reason and file:line. A
file that is not of the format, that has no items, or whose set-aside share exceeds 5 % is a ConfigError
(one line). Words keep their case and their clitics ("haven't"): each model spells them its own way
(suite.evaluate.scoring), so a WikiText model reads `haven 't` and GPT-2 reads " haven't".
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
TEMPLATE_FIELDS = ("grammatical", "ungrammatical")  # Marvin & Linzen style: two whole sentences
INT_COLUMNS = ("attractors", "intervening_nouns", "distance")  # optional CSV annotations
TAB_FIELDS = ("pattern", "constr_id", "sent_id", "form", "class", "type", "prefix", "n_attr")
MAX_SET_ASIDE = 0.05  # more than this share of a file's items set aside: the file is not of the format
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


@dataclass(frozen=True)
class SetAside:
    where: str  # file:line
    reason: str


class TestSet(list):
    """A file's items (a list of MinimalPair) with what was set aside, and why, and the case-folded count."""

    __test__ = False  # not a pytest class

    def __init__(self, items: Sequence[MinimalPair] = (), set_aside: Sequence[SetAside] = (), case_folded: int = 0):
        super().__init__(items)
        self.set_aside, self.case_folded = list(set_aside), case_folded

    def notice(self, path: str | Path) -> str | None:
        """One line on what was not loaded as written, or None when everything was."""
        if not self.set_aside and not self.case_folded:
            return None
        reasons: dict[str, list[str]] = {}
        for aside in self.set_aside:
            reasons.setdefault(aside.reason, []).append(aside.where.rpartition(":")[2])
        parts = [f"{len(v)} {k} (lines {', '.join(v[:5])}{', …' if len(v) > 5 else ''})" for k, v in reasons.items()]
        folded = [f"{self.case_folded} targets case-folded to the sentence's word"] if self.case_folded else []
        return f"{path}: {len(self)} items; " + "; ".join([*folded, *(f"set aside: {p}" for p in parts)])


def tokenize(text: str) -> list[str]:
    """Words with punctuation split off, case and clitics kept: 'Don't, Tim.' → Don't , Tim ."""
    return _TOKEN.findall(text)


def load_testset(path: str | Path) -> TestSet:
    """Load a test set by extension: .jsonl (BLiMP), .text/.gold (Linzen/Gulordava), .tab (Gulordava),
    .csv/.tsv (prefix,correct,wrong or Marvin & Linzen templates), or hf:NAME_OR_FOLDER:CONFIG (BLiMP hub)."""
    if str(path).startswith("hf:"):
        return load_blimp_hub(str(path))
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return load_blimp(path)
    if suffix in (".text", ".gold"):
        return load_linzen(path.with_suffix(".text"), path.with_suffix(".gold"))
    if suffix == ".tab":
        return load_gulordava_tab(path)
    if suffix in (".csv", ".tsv"):
        return load_csv(path)
    raise ConfigError(f"{path}: unknown test-set format '{suffix}'; valid: .jsonl (BLiMP), .text/.gold "
                      "(Linzen/Gulordava), .tab (Gulordava), .csv/.tsv (prefix,correct,wrong or case,condition,"
                      "grammatical,ungrammatical), hf:NAME_OR_FOLDER:CONFIG (BLiMP on the hub)")


def _read_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read test set ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def _finish(path: Any, items: list[MinimalPair], aside: list[SetAside], folded: int = 0) -> TestSet:
    """The TestSet, or a ConfigError when the file has no items or sets aside more than MAX_SET_ASIDE."""
    total = len(items) + len(aside)
    if not total:
        raise ConfigError(f"{path}: no items (empty, or a header only); a test set needs at least one pair")
    if len(aside) > MAX_SET_ASIDE * total:
        first = aside[0]
        raise ConfigError(f"{path}: {len(aside)} of {total} items would be set aside (> {MAX_SET_ASIDE:.0%}), so "
                          f"this is not the format it claims to be; first: {first.where}: {first.reason}")
    return TestSet(items, aside, folded)


def sentence_pair(good: list[str], bad: list[str], where: str, **annotations) -> MinimalPair | SetAside:
    """Two whole sentences as shared prefix (after <eos>) and the two differing endings (each with <eos>):
    comparing them is comparing the sentences' log-probabilities."""
    shared = 0
    while shared < min(len(good), len(bad)) and good[shared] == bad[shared]:
        shared += 1
    if good == bad:
        return SetAside(where, "identical sentences")
    if shared == len(good) or shared == len(bad):
        return SetAside(where, "one sentence is a prefix of the other")
    return MinimalPair((EOS, *good[:shared]), (*good[shared:], EOS), (*bad[shared:], EOS), where, **annotations)


def _blimp_item(obj: Any, where: str, items: list, aside: list) -> None:
    if not isinstance(obj, dict) or any(not isinstance(obj.get(k), str) for k in BLIMP_FIELDS):
        aside.append(SetAside(where, "not a BLiMP pair (string fields sentence_good and sentence_bad)"))
        return
    meta = {k: v for k, v in obj.items() if k not in BLIMP_FIELDS}
    item = sentence_pair(tokenize(obj["sentence_good"]), tokenize(obj["sentence_bad"]), where,
                         construction=meta.get("UID"), meta=meta)
    (items if isinstance(item, MinimalPair) else aside).append(item)


def load_blimp(path: str | Path) -> TestSet:
    """BLiMP JSONL: one object per line with sentence_good / sentence_bad (+ metadata kept in meta)."""
    items: list[MinimalPair] = []
    aside: list[SetAside] = []
    for number, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            aside.append(SetAside(where, f"not valid JSON ({exc.msg})"))
            continue
        _blimp_item(obj, where, items, aside)
    return _finish(path, items, aside)


def load_blimp_hub(spec: str) -> TestSet:
    """hf:NAME_OR_FOLDER:CONFIG — one BLiMP paradigm through `datasets` (the hub's nyu-mll/blimp, or a local
    copy in its layout), split "train" as on the hub; offline, only the local cache or a folder is read."""
    name, _, config = spec[3:].rpartition(":")
    if not name or not config:
        raise ConfigError(f"{spec}: expected hf:NAME_OR_FOLDER:CONFIG, e.g. hf:nyu-mll/blimp:anaphor_gender_agreement")
    try:
        import datasets
        datasets.logging.set_verbosity_error()
        rows = datasets.load_dataset(name, config, split="train")
    except Exception as exc:  # not found, offline, no such config: one line
        raise ConfigError(f"{spec}: cannot load from the hub ({' '.join(str(exc).split())[:200]})") from None
    items: list[MinimalPair] = []
    aside: list[SetAside] = []
    for number, obj in enumerate(rows, 1):
        _blimp_item(dict(obj), f"{spec}:{number}", items, aside)
    return _finish(spec, items, aside)


def load_linzen(text_path: str | Path, gold_path: str | Path) -> TestSet:
    """Line-aligned .text (tokenised sentence) and .gold, tab-separated, index 0-based into the sentence.
    4 columns (Linzen set): index, correct, wrong, attractors; the word at the index must be the correct form
    (up to case: folded and counted). 12 columns (Gulordava's generated set): pattern, construction, sentence
    id (0: the original sentence, others nonce), index, …, correct, wrong (7th and 8th), …; scored on the
    prefix, since in nonce sentences the word at the index is usually neither form."""
    sentences, golds = _read_lines(text_path), _read_lines(gold_path)
    if len(sentences) != len(golds):
        raise ConfigError(f"{gold_path}: {len(golds)} lines but {text_path} has {len(sentences)}; "
                          "the two files must be line-aligned")
    width = len(golds[0].split("\t")) if golds else 4
    if width not in (4, 12):
        raise ConfigError(f"{gold_path}:1: expected 4 tab-separated columns (index, correct, wrong, attractors) "
                          f"or Gulordava's 12, got {width}")
    items: list[MinimalPair] = []
    aside: list[SetAside] = []
    folded = 0
    for number, (sentence, gold) in enumerate(zip(sentences, golds), 1):
        where = f"{gold_path}:{number}"
        cols = [c.strip() for c in gold.split("\t")]
        if len(cols) != width:
            aside.append(SetAside(where, f"{len(cols)} columns, not {width}"))
            continue
        if width == 4:
            index_text, correct, wrong, attractor_text = cols
            annotations: dict[str, Any] = {"attractors": int(attractor_text) if attractor_text.isdigit() else None}
        else:
            pattern, construction, sent_id, index_text, correct, wrong = (cols[0], cols[1], cols[2], cols[3],
                                                                         cols[6], cols[7])
            condition = "original" if sent_id == "0" else "nonce"
            annotations = {"construction": pattern.replace("!", " "),
                           "meta": {"condition": condition, "constr_id": construction, "sent_id": sent_id}}
            if cols[9].isdigit() and index_text.isdigit():
                annotations["distance"] = int(index_text) - int(cols[9])
        tokens = sentence.split()
        if not index_text.isdigit() or (width == 4 and annotations["attractors"] is None):
            aside.append(SetAside(where, "index and attractors must be non-negative integers"))
            continue
        index = int(index_text)
        if index >= len(tokens) or index == 0 and width == 12:
            aside.append(SetAside(where, f"target index {index} outside the sentence ({len(tokens)} tokens)"))
            continue
        if not wrong or wrong == correct:
            aside.append(SetAside(where, "identical correct and wrong forms"))
            continue
        if width == 4 and tokens[index] != correct:
            if tokens[index].lower() != correct.lower():
                aside.append(SetAside(where, f"target index points at '{tokens[index]}', not at '{correct}'"))
                continue
            folded += 1  # the .text is lower-cased where the .gold is not: score the sentence's own word
            correct, wrong = tokens[index], wrong.lower() if tokens[index].islower() else wrong
        items.append(MinimalPair((EOS, *tokens[:index]), (correct,), (wrong,), where, **annotations))
    return _finish(gold_path, items, aside, folded)


def load_gulordava_tab(path: str | Path) -> TestSet:
    """Gulordava et al.'s .tab: a header, then one `correct` and one `wrong` row per item (same pattern,
    construction and sentence id); `type` tells the original sentence from the generated (nonce) ones, `prefix`
    is what is scored, `n_attr` the attractors; fields may be CSV-quoted (doubled quotes inside)."""
    lines = _read_lines(path)
    rows = list(csv.reader(lines, delimiter="\t"))
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [c for c in TAB_FIELDS if c not in header]
    if missing:
        raise ConfigError(f"{path}:1: a Gulordava .tab header needs {', '.join(TAB_FIELDS)} (missing {', '.join(missing)})")
    pending: dict[tuple, tuple[str, dict]] = {}
    items: list[MinimalPair] = []
    aside: list[SetAside] = []
    for number, row in enumerate(rows[1:], 2):
        where = f"{path}:{number}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            aside.append(SetAside(where, f"{len(row)} fields, but the header has {len(header)}"))
            continue
        rec = dict(zip(header, (c.strip() for c in row)))
        key = (rec["pattern"], rec["constr_id"], rec["sent_id"])
        if key not in pending:
            pending[key] = (where, rec)
            continue
        first_where, first = pending.pop(key)
        pair = {first["class"]: first, rec["class"]: rec}
        if set(pair) != {"correct", "wrong"} or not first["prefix"].split():
            aside.append(SetAside(first_where, "an item needs one 'correct' and one 'wrong' row and a prefix"))
            continue
        good, bad = pair["correct"], pair["wrong"]
        if good["form"] == bad["form"]:
            aside.append(SetAside(first_where, "identical correct and wrong forms"))
            continue
        condition = "original" if good["type"] == "original" else "nonce"
        items.append(MinimalPair((EOS, *good["prefix"].split()), (good["form"],), (bad["form"],), first_where,
                                 attractors=int(good["n_attr"]) if good["n_attr"].isdigit() else None,
                                 construction=good["pattern"], meta={"condition": condition,
                                                                     "constr_id": good["constr_id"]}))
    aside += [SetAside(w, "a row without its pair") for w, _ in pending.values()]
    return _finish(path, items, aside)


def load_csv(path: str | Path) -> TestSet:
    """CSV or TSV with a header: prefix,correct,wrong (whitespace-tokenised) plus optional columns
    attractors, intervening_nouns, construction, distance (others are kept in meta); or Marvin & Linzen-style
    templates: grammatical,ungrammatical sentences (+ case, condition: case becomes the construction)."""
    path = Path(path)
    rows = list(csv.reader(_read_lines(path), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    header = [h.strip() for h in rows[0]] if rows else []
    templates = all(c in header for c in TEMPLATE_FIELDS)
    if not templates and any(c not in header for c in CSV_FIELDS):
        raise ConfigError(f"{path}:1: the header must contain prefix, correct and wrong, or grammatical and "
                          "ungrammatical (Marvin & Linzen templates)")
    items: list[MinimalPair] = []
    aside: list[SetAside] = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{number}"
        if len(row) != len(header):
            aside.append(SetAside(where, f"{len(row)} columns, but the header has {len(header)}"))
            continue
        rec = {h: cell.strip() for h, cell in zip(header, row)}
        item = _template_item(rec, where) if templates else _csv_item(rec, where)
        (items if isinstance(item, MinimalPair) else aside).append(item)
    return _finish(path, items, aside)


def _template_item(rec: dict, where: str) -> MinimalPair | SetAside:
    meta = {k: v for k, v in rec.items() if k not in (*TEMPLATE_FIELDS, "case")}
    return sentence_pair(tokenize(rec["grammatical"]), tokenize(rec["ungrammatical"]), where,
                         construction=rec.get("case") or None, meta=meta)


def _csv_item(rec: dict, where: str) -> MinimalPair | SetAside:
    prefix, correct, wrong = (rec[c].split() for c in CSV_FIELDS)
    if not prefix or not correct or not wrong or correct == wrong:
        return SetAside(where, "prefix, correct and wrong must be non-empty and correct ≠ wrong")
    ints = {}
    for key in INT_COLUMNS:
        if rec.get(key):
            if not rec[key].isdigit():
                return SetAside(where, f"{key} must be a non-negative integer (got '{rec[key]}')")
            ints[key] = int(rec[key])
    meta = {k: v for k, v in rec.items() if k not in (*CSV_FIELDS, *INT_COLUMNS, "construction")}
    return MinimalPair((EOS, *prefix), tuple(correct), tuple(wrong), where,
                       construction=rec.get("construction") or None, meta=meta, **ints)


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
