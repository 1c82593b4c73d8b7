"""Run records on disk (one atomic JSON per run, named by config hash) and the tables built from them."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from .stats import format_estimate, mean_ci

FINISHED = ("ok", "diverged")  # statuses that are results; "failed" runs are retried


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temp file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, default=_json_default)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def runs_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "runs"


def record_path(out_dir: Path, run_id: str) -> Path:
    return runs_dir(out_dir) / f"{run_id}.json"


def load_record(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def cached_record(out_dir: Path, run_id: str) -> dict | None:
    """The finished record of a run, or None when it must (re)run."""
    record = load_record(record_path(out_dir, run_id))
    return record if record and record.get("status") in FINISHED else None


def load_records(out_dir: Path, run_ids: Iterable[str] | None = None) -> list[dict]:
    """Records of the given runs (or all runs in the folder), finished or not."""
    folder = runs_dir(out_dir)
    paths = ([record_path(out_dir, r) for r in run_ids] if run_ids is not None
             else sorted(folder.glob("*.json")))
    return [r for r in (load_record(p) for p in paths) if r is not None]


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


def summarise(records: Sequence[dict], metrics: Sequence[str], by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Mean and 95 % CI across seeds of each metric, per group; diverged runs are counted, not averaged."""
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
        for m in metrics:
            ci = mean_ci(ok[m].tolist() if m in ok else [])
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
