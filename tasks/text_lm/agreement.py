"""Subject–verb agreement of a trained text LM, scored inside its run so the item rows live in the record.

Two kinds of minimal pair, both scored after training and after the perplexities (nothing here touches
the model's weights, its mode or the random state, so training and every other metric are unchanged):

- BLiMP's six subject–verb agreement paradigms (Warstadt et al. 2020, CC BY 4.0, shipped in data/blimp/
  with their attribution), re-tokenised the way WikiText was (`haven't` → `haven 't`, `well-known` →
  `well @-@ known`), case kept because WikiText keeps it. A pair is its shared token prefix and the two
  differing suffixes, so comparing them is BLiMP's full-sentence comparison (through the final '.').
- "natural": agreement in the corpus's own held-out text. In the test split, the first is/are, was/were or
  has/have of each sentence (not after to or a modal, where `have` is not agreement) is the correct form and
  its counterpart the wrong one; the prefix is the sentence up to it. No parse: attraction is not annotated,
  and a few items are collective nouns where both forms occur.

Unknown words follow Gulordava et al.: they become the model's <unk> (policy "unk"); an item whose two
forms spell the same ids (both <unk>) is set aside, not counted as an error. Each item row also carries the
verdict of a unigram and an interpolated bigram model counted on the same training ids: the baselines the
report sets beside the network.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from suite.data.batches import EOS
from suite.models.scoring import continuation_logprobs

BLIMP_DIR = Path(__file__).parent / "data" / "blimp"
BLIMP_PARADIGMS = ("distractor_agreement_relational_noun", "distractor_agreement_relative_clause",
                   "irregular_plural_subject_verb_agreement_1", "irregular_plural_subject_verb_agreement_2",
                   "regular_plural_subject_verb_agreement_1", "regular_plural_subject_verb_agreement_2")
NATURAL = "natural"
NATURAL_ITEMS = 1000  # at most this many sentences of the test split with a swappable verb
COUNTERPART = {"is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has"}
NOT_AGREEMENT_AFTER = frozenset({"to", "will", "would", "could", "should", "may", "might", "must", "can",
                                 "shall", "not", "'t", "cannot"})
SENTENCE_END = frozenset({".", "!", "?"})
BIGRAM_WEIGHT = 0.9  # interpolation: 0.9 × bigram relative frequency + 0.1 × add-one unigram
ROW_COLUMNS = ("item", "correct", "margin", "unknown", "unigram_correct", "bigram_correct")
OOV_POLICY = "unk"

_SPLIT_INSIDE = ((re.compile(r"(?<=\w)-(?=\w)"), " @-@ "), (re.compile(r"(?<=\d),(?=\d)"), " @,@ "),
                 (re.compile(r"(?<=\d)\.(?=\d)"), " @.@ "))
_WIKITEXT_TOKEN = re.compile(r"@[-,.]@|'\w+|\w+|[^\w\s]")


def wikitext_words(text: str) -> list[str]:
    """Words as WikiText writes them: clitics split before the apostrophe (don 't, Carla 's), in-word
    hyphens and number separators as @-@ / @,@ / @.@, punctuation apart, case kept."""
    for pattern, token in _SPLIT_INSIDE:
        text = pattern.sub(token, text)
    return _WIKITEXT_TOKEN.findall(text)


@dataclass(frozen=True)
class Pair:
    prefix: tuple[str, ...]  # starts with <eos>, the line start the model was trained to follow
    correct: tuple[str, ...]
    wrong: tuple[str, ...]


def blimp_pairs(paradigm: str, folder: Path = BLIMP_DIR) -> list[Pair]:
    """One paradigm's pairs (the shipped files are BLiMP's own; lines that are not pairs are skipped)."""
    pairs = []
    for line in (folder / f"{paradigm}.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        good, bad = wikitext_words(obj["sentence_good"]), wikitext_words(obj["sentence_bad"])
        shared = 0
        while shared < min(len(good), len(bad)) and good[shared] == bad[shared]:
            shared += 1
        if shared < min(len(good), len(bad)):
            pairs.append(Pair((EOS, *good[:shared]), tuple(good[shared:]), tuple(bad[shared:])))
    return pairs


def natural_pairs(lines: Sequence[str], limit: int = NATURAL_ITEMS) -> list[Pair]:
    """Agreement pairs from held-out text (already tokenised lines): per sentence, its first agreeing verb."""
    pairs = []
    for line in lines:
        sentence: list[str] = []
        for word in line.split():
            sentence.append(word)
            if word in SENTENCE_END:
                pairs.extend(_first_verb_pair(sentence))
                sentence = []
                if len(pairs) >= limit:
                    return pairs
    return pairs


def _first_verb_pair(sentence: list[str]) -> list[Pair]:
    if sentence and sentence[0] == "=":  # a section heading, not a sentence
        return []
    for i, word in enumerate(sentence[1:], 1):
        if word in COUNTERPART and sentence[i - 1] not in NOT_AGREEMENT_AFTER:
            return [Pair((EOS, *sentence[:i]), (word,), (COUNTERPART[word],))]
    return []


def agreement_sets(test_lines: Sequence[str], limit: int = NATURAL_ITEMS) -> dict[str, list[Pair]]:
    """The first `limit` items of each set (BLiMP's files are in random order: a prefix is a random sample)."""
    return {**{p: blimp_pairs(p)[:limit] for p in BLIMP_PARADIGMS}, NATURAL: natural_pairs(test_lines, limit)}


class NgramBaseline:
    """Unigram (add-one) and interpolated bigram log-probabilities counted on the training ids."""

    def __init__(self, train_ids: torch.Tensor, vocab_size: int):
        ids = train_ids.long()
        self.vocab_size = vocab_size
        self.unigram = torch.bincount(ids, minlength=vocab_size).tolist()
        self.total = float(len(ids))
        keys, counts = torch.unique(ids[:-1] * vocab_size + ids[1:], return_counts=True)
        self.bigram = dict(zip(keys.tolist(), counts.tolist()))

    def unigram_logp(self, word: int) -> float:
        return math.log((float(self.unigram[word]) + 1) / (self.total + self.vocab_size))

    def bigram_logp(self, previous: int, word: int) -> float:
        pair = self.bigram.get(previous * self.vocab_size + word, 0)
        context = self.unigram[previous]
        unigram = math.exp(self.unigram_logp(word))
        if not context:
            return math.log(unigram)
        return math.log(BIGRAM_WEIGHT * pair / context + (1 - BIGRAM_WEIGHT) * unigram)

    def scores(self, prefix: list[int], continuation: list[int]) -> tuple[float, float]:
        """(unigram, bigram) log P(continuation | prefix)."""
        seq = prefix + continuation
        start = len(prefix)
        return (sum(self.unigram_logp(w) for w in continuation),
                sum(self.bigram_logp(seq[i - 1], seq[i]) for i in range(start, len(seq))))


def score_agreement(model: nn.Module, tokenizer, train_ids: torch.Tensor, test_lines: Sequence[str],
                    limit: int = NATURAL_ITEMS, device: str = "cpu") -> dict:
    """{"oov", "sets": {name: summary}, "item_rows": {name: {"columns", "data"}}} for the record."""
    started = time.perf_counter()
    vocab = tokenizer.vocab
    unk = vocab.unk_id
    baseline = NgramBaseline(train_ids, len(vocab))
    sets, rows_of = {}, {}
    for name, pairs in agreement_sets(test_lines, limit).items():
        encoded, set_aside, rows = [], 0, []
        for index, pair in enumerate(pairs):
            parts = [_ids(tokenizer, words, vocab.eos_id) for words in (pair.prefix, pair.correct, pair.wrong)]
            if parts[1] == parts[2]:  # both forms are <unk> (or spell alike): nothing to compare
                set_aside += 1
                continue
            encoded.append((index, *parts, any(unk in p for p in parts)))
        prefixes = [e[1] for e in encoded]
        scores = (continuation_logprobs(model, prefixes + prefixes, [e[2] for e in encoded] +
                                        [e[3] for e in encoded], device) if encoded else [])
        n = len(encoded)
        for k, (index, prefix, good, bad, unknown) in enumerate(encoded):
            (uni_good, bi_good), (uni_bad, bi_bad) = baseline.scores(prefix, good), baseline.scores(prefix, bad)
            margin = scores[k] - scores[n + k]  # a tie is an error, as everywhere in the suite
            rows.append([index, margin > 0, round(margin, 5), unknown, uni_good > uni_bad, bi_good > bi_bad])
        correct = sum(r[1] for r in rows)
        sets[name] = {"items": len(pairs), "scored": len(rows), "set_aside": set_aside,
                      "with_unknown": sum(r[3] for r in rows), "correct": correct,
                      "accuracy": correct / len(rows) if rows else None,
                      "unigram_accuracy": sum(r[4] for r in rows) / len(rows) if rows else None,
                      "bigram_accuracy": sum(r[5] for r in rows) / len(rows) if rows else None}
        rows_of[name] = {"columns": list(ROW_COLUMNS), "data": rows}
    # seconds: what the scoring added to the run (a cost, not a result: it varies with the machine)
    return {"oov": OOV_POLICY, "train_tokens": int(train_ids.numel()), "sets": sets, "item_rows": rows_of,
            "seconds": time.perf_counter() - started}


def _ids(tokenizer, words: Sequence[str], eos: int) -> list[int]:
    """Ids of words (a leading <eos> is the line start); unknown words become <unk>."""
    ids: list[int] = []
    for word in words:
        if word == EOS:
            ids.append(eos)
        else:
            ids.extend(tokenizer.encode_words([word])[0])
    return ids
