"""Item-level outcomes of a minimal-pair evaluation: one row per item, stored in a compact column form.

A row is {item, source, correct, margin} plus the MinimalPair annotations. `correct` is
log P(correct) > log P(wrong) (a tie is an error); `margin` is log P(correct) − log P(wrong), each
summed over its continuation's pieces. On disk the rows are {"columns": [...], "data": [[...], ...]}
(pandas' orient="split" without the index): each key is written once, not once per item.
"""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

ANNOTATIONS = ("attractors", "intervening_nouns", "construction", "distance", "subject_plural",
               "nearest_noun_plural")
COLUMNS = ("item", "source", "correct", "margin", *ANNOTATIONS)


def item_row(index: int, item: Any, margin: float) -> dict[str, Any]:
    """The row of one scored MinimalPair; annotations the item lacks are None."""
    row = {"item": index, "source": item.source, "correct": bool(margin > 0), "margin": float(margin)}
    row.update({key: getattr(item, key, None) for key in ANNOTATIONS})
    return row


def to_compact(rows: Sequence[dict[str, Any]]) -> dict[str, list]:
    """Rows → {"columns", "data"}, columns in COLUMNS order (extra keys follow)."""
    extra = [k for row in rows for k in row if k not in COLUMNS]
    columns = [*COLUMNS, *dict.fromkeys(extra)]
    return {"columns": columns, "data": [[row.get(c) for c in columns] for row in rows]}


def from_compact(compact: dict[str, list]) -> pd.DataFrame:
    """{"columns", "data"} → a DataFrame with one row per item."""
    return pd.DataFrame(compact["data"], columns=compact["columns"])
