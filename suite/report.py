"""From run records to results: tables, plots, claims with verdicts, and REPORT.md.

Everything here is derived from run records only, so `run_suite.py report` rebuilds it in seconds.
"""
from __future__ import annotations

import os
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pandas as pd

from .claims import Claim
from .results import summarise, to_markdown, write_table, write_text_atomic
from .tasks import TASKS, load_builtin_tasks

VERDICT_MARKS = {"reproduced": "✅ reproduced", "not reproduced": "❌ not reproduced",
                 "inconclusive": "❔ inconclusive"}


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


def write_outputs(out_dir: Path, records: list[dict], command: str, preset: str,
                  log: Callable[..., None] = print) -> str:
    """Write tables, plots and REPORT.md for the records; return the summary table as Markdown."""
    out_dir = Path(out_dir)
    finished = [r for r in records if r.get("status") in ("ok", "diverged")]
    for r in records:
        if r.get("status") == "failed":
            log(f"failed run {r['run_id']} ({r['config']['task']}, {r.get('label')}): {r.get('error')}")
    if not finished:
        return "no finished runs to report"
    summary = summary_table(finished)
    if not summary.empty:
        write_table(summary, "summary", out_dir)
    sections, claims = [], []
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    for name, task in sorted(TASKS.items()):
        tables = task.tables(finished)
        for table_name, table in tables.items():
            write_table(table, table_name, out_dir)
        plots = task.plots(finished, out_dir / "plots") if tables else []
        claims.extend(task.claims(finished))
        if tables or plots:
            sections.append(task_section(task, tables, plots, out_dir))
    report = render_report(summary, claims, sections, records, command, preset)
    write_text_atomic(out_dir / "REPORT.md", report)
    log(f"report: {out_dir / 'REPORT.md'}")
    return to_markdown(summary) if not summary.empty else "no headline metrics: see REPORT.md"


def task_section(task, tables: dict[str, pd.DataFrame], plots: list[Path], out_dir: Path) -> str:
    lines = [f"## {task.name}", "", task.description[:1].upper() + task.description[1:] + ".", ""]
    for table_name, table in tables.items():
        lines += [f"**{table_name.replace('_', ' ')}** (`tables/{table_name}.csv`)", "", to_markdown(table), ""]
    for plot in plots:
        lines += [f"![{Path(plot).stem}]({Path(plot).relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


def claims_table(claims: list[Claim]) -> str:
    if not claims:
        return "_No claim could be judged: the sweep ran none of the tasks that test claims._"
    rows = ["| claim | source | verdict | evidence | rule |", "|---|---|---|---|---|"]
    for c in claims:
        verdict = VERDICT_MARKS.get(c.verdict, c.verdict) + (f" — {c.why}" if c.why else "")
        rows.append(f"| {_cell(c.statement)} | {_cell(c.source)} | {_cell(verdict)} | {_cell(c.evidence)} "
                    f"| {_cell(c.rule)} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def provenance(records: list[dict], command: str, preset: str) -> str:
    statuses = Counter(r.get("status") for r in records)
    versions = sorted({tuple(sorted(r.get("versions", {}).items())) for r in records})
    seeds = sorted({r["config"]["seed"] for r in records})
    threads = sorted({r.get("threads") for r in records if r.get("threads")})
    devices = sorted({r["config"].get("device", "cpu") for r in records})
    compute = sum(r.get("wall_seconds") or 0 for r in records)
    lines = [
        f"- command: `{command}`",
        f"- preset: `{preset}`; seeds: {', '.join(map(str, seeds))}",
        f"- runs: {len(records)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})",
        f"- compute: {compute / 60:.1f} min of run wall time in total, device {', '.join(devices)}, "
        f"torch threads per run {', '.join(map(str, threads))}",
        "- versions: " + "; ".join(", ".join(f"{k} {v}" for k, v in vs) for vs in versions),
        f"- machine: {platform.platform()}, {os.cpu_count()} cores; report written "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    failed = [r for r in records if r.get("status") == "failed"]
    lines += [f"- failed: {r['config']['task']} {r.get('label')} seed {r['config']['seed']}: {r.get('error')}"
              for r in failed]
    return "\n".join(lines)


def render_report(summary: pd.DataFrame, claims: list[Claim], sections: list[str], records: list[dict],
                  command: str, preset: str) -> str:
    counts = Counter(c.verdict for c in claims)
    tally = ", ".join(f"{counts[v]} {v}" for v in ("reproduced", "not reproduced", "inconclusive") if counts[v])
    return "\n".join([
        "# recency-bench report", "",
        f"Regenerate with `{command}`; rebuild tables, plots and this report from the cached runs "
        f"(no training) with `{command.replace('run_suite.py', 'run_suite.py report', 1)}`.", "",
        "## Claims", "",
        f"Each claim is judged by the rule in its row, from 95 % confidence intervals over seeds ({tally}).",
        "", claims_table(claims), "",
        "## Summary", "", "Headline metric of each task per model: mean [95 % CI over seeds].", "",
        to_markdown(summary) if not summary.empty else "_No task in this sweep has headline metrics._", "",
        *sections, "",
        "## Provenance", "", provenance(records, command, preset), "",
    ])
