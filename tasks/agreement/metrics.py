"""Item-level evidence of an agreement run: one row per probed item (outcome, margin, annotations, what
each surface heuristic would have chosen) and the few summary metrics the run summary shows.

The row table goes into the run record in column form (`{"columns": [...], "data": [[...], ...]}`,
pandas' `to_dict(orient="split")`), so every verdict can be recomputed from the records alone.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import pandas as pd

from suite.data.grammar import COMPLEMENT_VERBS, LEXICON, Lexicon
from suite.evaluate.testsets import MinimalPair

ITEM_COLUMNS = ("item", "source", "correct", "margin", "attractors", "intervening_nouns", "construction",
                "distance", "subject_plural", "nearest_noun_plural")
HEURISTICS = ("first_noun", "nearest_noun", "majority_noun", "majority_form", "template")
HEURISTIC_HELP = {"first_noun": "agree with the first noun of the prefix",
                  "nearest_noun": "agree with the noun nearest the verb (sequential recency)",
                  "majority_noun": "agree with the number most nouns of the prefix have (ties: nearest)",
                  "majority_form": "choose the verb form seen more often in training",
                  "template": "agree with the first noun after a comma, or after 'that' following a complement "
                              "verb; with neither cue, the first noun (a positional template)"}
COMPLEMENT_FORMS = frozenset(form for verb in COMPLEMENT_VERBS for form in (verb.singular, verb.plural))


def heuristic_correct(name: str, item: MinimalPair, form_counts: Counter,
                      lexicon: Lexicon = LEXICON) -> bool | None:
    """Does the heuristic pick the correct form? None when it cannot decide (no noun, unknown form)."""
    correct_plural = lexicon.verb_number.get(item.correct[0])
    if name == "majority_form":  # ties go to the singular form
        c, w = form_counts[item.correct[0]], form_counts[item.wrong[0]]
        return c > w if c != w else correct_plural is False
    words = template_span(item.prefix) if name == "template" else item.prefix  # the template: a first noun
    nouns = [lexicon.noun_number[t] for t in words if t in lexicon.noun_number]
    if not nouns or correct_plural is None:
        return None
    if name in ("first_noun", "template"):
        return nouns[0] == correct_plural
    if name == "nearest_noun":
        return nouns[-1] == correct_plural
    plural = sum(nouns)
    majority = nouns[-1] if 2 * plural == len(nouns) else 2 * plural > len(nouns)
    return majority == correct_plural


def template_span(prefix: Sequence[str]) -> Sequence[str]:
    """The part of the prefix a positional template looks for the subject in: what follows the first comma, or
    the first "that" right after a complement verb; the whole prefix when neither cue is there. The grammar's
    own fronted shapes carry exactly these cues, so a template finds their subjects without syntax; the probes'
    cueless shapes (shapes.py) are what defeats it (issue 19, item 7) — the report shows how often it errs."""
    for i, token in enumerate(prefix):
        if token == "," or (token == "that" and i > 0 and prefix[i - 1] in COMPLEMENT_FORMS):
            return prefix[i + 1:]
    return prefix


def item_table(items: Sequence[MinimalPair], correct: Sequence[bool], margins: Sequence[float],
               form_counts: Counter | None = None, frames: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per scored item: ITEM_COLUMNS, then frame/shape when known, then h_<heuristic> columns
    (True/False/None: does the heuristic get it right) when training form counts are given."""
    rows = []
    for i, (it, ok, m) in enumerate(zip(items, correct, margins)):
        row = {"item": i, "source": it.source, "correct": bool(ok), "margin": round(float(m), 4),
               "attractors": it.attractors, "intervening_nouns": it.intervening_nouns,
               "construction": it.construction, "distance": it.distance, "subject_plural": it.subject_plural,
               "nearest_noun_plural": it.nearest_noun_plural}
        if frames is not None:
            row["frame"] = frames[i]
        if "shape" in it.meta:
            row["shape"] = it.meta["shape"]
        if form_counts is not None:
            for name in HEURISTICS:
                row[f"h_{name}"] = heuristic_correct(name, it, form_counts)
        rows.append(row)
    return pd.DataFrame(rows)


def to_record(table: pd.DataFrame) -> dict[str, Any]:
    """Column form for the JSON record (one list of names, one list per row)."""
    return table.to_dict(orient="split", index=False)


def from_record(data: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(data["data"], columns=data["columns"])


def error_counts(table: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """(errors, items) overall, on attractor items and in the highest cell (every intervening noun an
    attractor, at the largest intervening-noun count)."""
    errors = ~table["correct"].astype(bool)
    top = (table["intervening_nouns"] == table["intervening_nouns"].max()) & \
          (table["attractors"] == table["intervening_nouns"])
    masks = {"error_rate": pd.Series(True, index=table.index), "error_attractors": table["attractors"] > 0,
             "error_top_cell": top}
    return {name: (int(errors[mask].sum()), int(mask.sum())) for name, mask in masks.items()}


def summary_metrics(table: pd.DataFrame, prefix: str = "") -> dict[str, float]:
    """The error rates of `error_counts` and each heuristic's error on attractor items: the run summary's
    numbers; the claims use the rows."""
    if table.empty:
        return {f"{prefix}n_items": 0}
    out: dict[str, float] = {f"{prefix}n_items": int(len(table))}
    for name, (errors, items) in error_counts(table).items():
        out[f"{prefix}{name}"] = errors / items if items else math.nan
    attr = table["attractors"] > 0
    for name in HEURISTICS:
        column = f"h_{name}"
        if column in table and not prefix:
            decided = table[attr & table[column].notna()][column].astype(bool)
            out[f"heuristic_{name}_error_attractors"] = _mean(~decided)
    return out


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan
