"""text_lm's natural-text agreement section, rebuilt from the run records alone (their `agreement` field).

Per corpus, tokenizer, model and agreement set: the chosen runs' accuracy beside the unigram and bigram
baselines counted on the same training text (same items), the published figures for the same paradigm,
and how much text the models saw against the published ones (the data-size caveat, in numbers).
"""
from __future__ import annotations

import pandas as pd

from suite.judge.analysis import chosen_runs, label, option
from suite.judge.stats import wilson_ci

from .agreement import BLIMP_PARADIGMS, NATURAL

# Warstadt et al. 2020 (BLiMP, TACL 8), subject-verb agreement, accuracy % of the 5-gram / LSTM / GPT-2 models
# and humans (their LSTM is Gulordava et al.'s, trained on 83M tokens of English Wikipedia). For the natural
# set: Gulordava et al. 2018 (NAACL), English LSTM on their "original" Wikipedia sentences, and their
# unigram-frequency baseline; a different item set than ours, the nearest published analogue.
BLIMP_SOURCE = "Warstadt et al. 2020 (BLiMP), 5-gram / LSTM / GPT-2 / human"
PUBLISHED = {
    "distractor_agreement_relational_noun": (24, 76, 80, 81),
    "distractor_agreement_relative_clause": (22, 63, 66, 86),
    "irregular_plural_subject_verb_agreement_1": (73, 81, 93, 95),
    "irregular_plural_subject_verb_agreement_2": (88, 89, 92, 94),
    "regular_plural_subject_verb_agreement_1": (76, 89, 97, 95),
    "regular_plural_subject_verb_agreement_2": (81, 83, 91, 95),
}
NATURAL_PUBLISHED = "Gulordava et al. 2018: LSTM 81.0 (original sentences, mean of top 5), unigram 65.9"
PUBLISHED_LSTM_TOKENS = 83_000_000  # Gulordava et al.'s training corpus (BLiMP's LSTM), English Wikipedia
GPT2_NOTE = "GPT-2: WebText, ~40 GB of text (Radford et al. 2019)"


def agreement_table(records: list[dict]) -> pd.DataFrame:
    """One row per (corpus, tokenizer, model, set) over the chosen runs that scored agreement."""
    groups: dict[tuple, list[dict]] = {}
    for r in chosen_runs(records):
        if r.get("status") == "ok" and isinstance(r.get("agreement"), dict):
            key = (str(option(r, "corpus")), f"{option(r, 'tokenizer')} ({option(r, 'vocab_size') or 'all'})",
                   label(r))
            groups.setdefault(key, []).append(r)
    rows = []
    for (corpus, tokenizer, model), runs in sorted(groups.items()):
        for name in (*BLIMP_PARADIGMS, NATURAL):
            sets = [r["agreement"]["sets"][name] for r in runs if name in r["agreement"].get("sets", {})]
            if not sets:
                continue
            scored, correct = sum(s["scored"] for s in sets), sum(s["correct"] for s in sets)
            ci = wilson_ci(correct, scored) if scored else None
            first = sets[0]
            published = PUBLISHED.get(name)
            rows.append({
                "corpus": corpus, "tokenizer": tokenizer, "model": model, "set": name, "runs": len(sets),
                "oov": runs[0]["agreement"].get("oov"), "items": first["items"], "scored": first["scored"],
                "set_aside": first["set_aside"], "with_unknown": first["with_unknown"],
                "accuracy": ci.mean if ci else None, "accuracy_low": ci.low if ci else None,
                "accuracy_high": ci.high if ci else None,
                "unigram": first["unigram_accuracy"], "bigram": first["bigram_accuracy"],
                "published_5gram": _share(published, 0), "published_lstm": _share(published, 1),
                "published_gpt2": _share(published, 2), "published_human": _share(published, 3),
                "published_source": BLIMP_SOURCE if published else NATURAL_PUBLISHED})
    return pd.DataFrame(rows)


def data_size_table(records: list[dict]) -> pd.DataFrame:
    """Tokens each chosen run trained on and saw, against the published LSTM's corpus."""
    rows = []
    for r in chosen_runs(records):
        agreement = r.get("agreement")
        if r.get("status") != "ok" or not isinstance(agreement, dict):
            continue
        seen = tokens_seen(r)
        rows.append({"corpus": str(option(r, "corpus")), "model": label(r), "seed": r.get("seed"),
                     "train_tokens": agreement.get("train_tokens"), "tokens_seen": seen,
                     "published_lstm_corpus_tokens": PUBLISHED_LSTM_TOKENS,
                     "corpus_share_of_published": (agreement.get("train_tokens") or 0) / PUBLISHED_LSTM_TOKENS,
                     "other_reference": GPT2_NOTE,
                     "scoring_seconds": agreement.get("seconds"), "run_wall_seconds": r.get("wall_seconds")})
    return pd.DataFrame(rows)


def tokens_seen(record: dict) -> int | None:
    """Training tokens the run went through: steps × batch × BPTT (each step reads one batch of streams)."""
    train = (record.get("config") or {}).get("train") or {}
    steps = (record.get("training") or {}).get("steps")
    if not steps or not train.get("batch_size") or not train.get("bptt"):
        return None
    return int(steps) * int(train["batch_size"]) * int(train["bptt"])


def _share(published: tuple | None, k: int) -> float | None:
    return published[k] / 100 if published else None
