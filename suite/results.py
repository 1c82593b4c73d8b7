"""Run records on disk (one atomic JSON per run, named by config hash) and the tables built from them."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from .config import RunConfig
from .analysis import over_seeds
from .stats import format_estimate, pooled_rate_ci

FINISHED = ("ok", "diverged")  # statuses that are results; "failed" runs are retried
STATUSES = (*FINISHED, "failed")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temp file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, separators=(",", ":"), default=_json_default)  # compact: records carry item tables
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


class CorruptRecord(Exception):
    """A run file that is unreadable, not JSON, or not a well-formed run record (the message says which)."""


def read_record(path: Path) -> dict | None:
    """The run record at `path`, None when there is none; raises CorruptRecord for anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptRecord(f"unreadable: {exc.strerror or exc}") from None
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptRecord("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CorruptRecord(f"not JSON ({exc.msg}, line {exc.lineno})") from None
    problem = malformation(record, path.stem)
    if problem:
        raise CorruptRecord(problem)
    return record


def malformation(record: Any, run_id: str) -> str | None:
    """Why `record` is not the well-formed record of run `run_id`, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a run record"
    missing = [key for key in ("run_id", "status", "config") if key not in record]
    if missing:
        return f"not a run record (no {', '.join(missing)})"
    if record["status"] not in STATUSES:
        return f"unknown status {record['status']!r}; valid: {', '.join(STATUSES)}"
    if record["run_id"] != run_id:
        return f"holds run {record['run_id']!r}, not {run_id!r}"
    try:
        config_id = RunConfig.from_dict(record["config"]).run_id
    except (TypeError, KeyError, ValueError, AttributeError):
        return "its config is not a run config"
    if config_id != run_id:
        return "its config does not hash to its run id"
    if record["status"] in FINISHED and not isinstance(record.get("metrics"), dict):
        return f"a {record['status']} run without metrics"
    return None


def set_aside(path: Path) -> Path:
    """Move a corrupt run file to runs/corrupt/ (kept for inspection) and return where it went."""
    path = Path(path)
    folder = path.parent / "corrupt"
    folder.mkdir(exist_ok=True)
    fd, target = tempfile.mkstemp(dir=folder, prefix=f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.")
    os.close(fd)  # a unique name, which the move below takes over
    target = Path(target)
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another process sharing the folder set it aside first
        target.unlink()
    return target


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def cached_record(out_dir: Path, run_id: str, warn: Callable[[str], None] = _warn) -> dict | None:
    """The finished record of a run, or None when it must (re)run. A corrupt file is reported in one line
    through `warn` and set aside, so the run is redone instead of crashing every later command."""
    path = record_path(out_dir, run_id)
    try:
        record = read_record(path)
    except CorruptRecord as exc:
        kept = set_aside(path)
        warn(f"corrupt cache entry {path}: {exc}; moved to {kept}, the run will be redone")
        return None
    return record if record and record["status"] in FINISHED else None


def load_records(out_dir: Path, run_ids: Iterable[str] | None = None,
                 warn: Callable[[str], None] = _warn) -> list[dict]:
    """Well-formed records of the given runs (or all runs in the folder), finished or not; corrupt files
    are reported through `warn` and skipped."""
    folder = runs_dir(out_dir)
    paths = ([record_path(out_dir, r) for r in run_ids] if run_ids is not None
             else sorted(folder.glob("*.json")))
    records = []
    for path in paths:
        try:
            record = read_record(path)
        except CorruptRecord as exc:
            warn(f"corrupt cache entry {path}: {exc}; skipped")
            continue
        if record is not None:
            records.append(record)
    return records


def finished_records_of(out_dir: Path, configs: Sequence[RunConfig]) -> list[dict]:
    """The finished records of a sweep's configs, one per config, found by what each asked for: a run
    cached under another identity (thread count, torch version) still serves `report` and `eval`; the one
    with the config's own identity is preferred."""
    own = {cfg.request_id: cfg.run_id for cfg in configs}
    found: dict[str, dict] = {}
    for record in load_records(out_dir):
        if record["status"] not in FINISHED:
            continue
        request = RunConfig.from_dict(record["config"]).request_id
        if request in own and (request not in found or record["run_id"] == own[request]):
            found[request] = record
    return [found[r] for r in dict.fromkeys(cfg.request_id for cfg in configs) if r in found]


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
