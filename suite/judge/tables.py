"""Tables from run records: one row per run, summaries over seeds with the right interval, Markdown."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from suite.run.outputs import write_text_atomic
from suite.judge.analysis import over_seeds
from suite.judge.stats import format_estimate, pooled_rate_ci


def flatten(record: dict) -> dict:
    """One row per run: identity columns plus every scalar metric."""
    cfg = record["config"]
    model = cfg["model"]
    row = {"run_id": record["run_id"], "task": cfg["task"], "model": record.get("label", model["arch"]),
           "arch": model["arch"], "layers": model["layers"], "hidden": model["hidden"],
           "skip": model["skip"], "bidirectional": model["bidirectional"],
           "seed": cfg["seed"], "status": record["status"], "parameters": record.get("parameters"),
           "tokens_per_second": record.get("tokens_per_second"), "wall_seconds": record.get("wall_seconds")}
    for key, value in (record.get("metrics") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = value
    return row


def record_frame(records: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([flatten(r) for r in records])


def summarise(records: Sequence[dict], metrics: Sequence[str], by: Sequence[str] = ("model",),
              counts: Callable[[dict, str], tuple[int, int] | None] | None = None,
              log_scale: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and 95 % CI across seeds of each metric, per group; diverged runs are counted, not averaged.
    A metric that `counts(record, metric)` resolves to (events, trials) in every run is a proportion: it gets
    the binomial interval pooled over seeds (never a t-interval that leaves [0, 1]); any other metric the
    interval of `analysis.over_seeds` (perplexities and `log_scale` quantities on the log scale)."""
    frame = record_frame(records)
    if frame.empty:
        return pd.DataFrame()
    rows = []
    for key, group in frame.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        ok = group[group["status"] == "ok"]
        row["runs"] = len(group)
        row["diverged"] = int((group["status"] == "diverged").sum())
        ok_records = [records[i] for i in ok.index]
        for m in metrics:
            pairs = [counts(r, m) for r in ok_records] if counts else []
            if pairs and all(pairs):
                ci = pooled_rate_ci([k for k, _ in pairs], [n for _, n in pairs])
            else:
                ci = over_seeds(ok[m].tolist() if m in ok else [], m, log_scale)
            row[m], row[f"{m}_low"], row[f"{m}_high"] = ci.mean, ci.low, ci.high
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """Markdown with each metric shown as 'mean [low, high]' when its CI columns exist."""
    shown = table.copy()
    for col in [c for c in table.columns if f"{c}_low" in table.columns]:
        shown[col] = [format_estimate(m, lo, hi, digits) for m, lo, hi in
                      zip(table[col], table[f"{col}_low"], table[f"{col}_high"])]
        shown = shown.drop(columns=[f"{col}_low", f"{col}_high"])
    return shown.to_markdown(index=False, floatfmt=f".{digits}g")


def write_table(table: pd.DataFrame, name: str, out_dir: Path) -> tuple[Path, Path]:
    """Write `name`.csv (all columns) and `name`.md (CIs folded in) under out_dir/tables."""
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    write_text_atomic(csv_path, table.to_csv(index=False))
    write_text_atomic(md_path, to_markdown(table) + "\n")
    return csv_path, md_path
