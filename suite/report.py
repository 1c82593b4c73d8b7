"""From run records to tables: a cross-task summary plus each task's own tables."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from .results import load_records, summarise, to_markdown, write_table
from .tasks import TASKS, load_builtin_tasks


def summary_table(records: list[dict]) -> pd.DataFrame:
    """One row per model, one column per task headline metric (mean [95 % CI] over seeds)."""
    load_builtin_tasks()
    merged: pd.DataFrame | None = None
    for name, task in sorted(TASKS.items()):
        task_records = [r for r in records if r["config"]["task"] == name]
        if not task_records or not task.headline:
            continue
        table = summarise(task_records, task.headline)
        table = table.drop(columns=["runs", "diverged"]).rename(
            columns=lambda c: c if c == "model" else f"{name}:{c}")
        merged = table if merged is None else merged.merge(table, on="model", how="outer")
    return merged if merged is not None else pd.DataFrame()


def write_outputs(out_dir: Path, records: list[dict] | None, command: str, preset: str,
                  log: Callable[..., None] = print) -> str:
    """Write every table for the given records (None = all cached runs); return the summary as Markdown."""
    out_dir = Path(out_dir)
    records = load_records(out_dir) if records is None else records
    finished = [r for r in records if r.get("status") in ("ok", "diverged")]
    failed = [r for r in records if r.get("status") == "failed"]
    for r in failed:
        log(f"failed run {r['run_id']} ({r['config']['task']}, {r.get('label')}): {r.get('error')}")
    summary = summary_table(finished)
    if summary.empty:
        return "no finished runs to summarise"
    write_table(summary, "summary", out_dir)
    for task in TASKS.values():
        for table_name, table in task.tables(finished).items():
            write_table(table, table_name, out_dir)
    return to_markdown(summary)
