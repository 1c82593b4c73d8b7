"""From run records to results: tables, plots, claims, sanity checks, REPORT.md and one page per section.

REPORT.md opens with what a reader came for, on one screen: each claim with its verdict and effect size,
then the sanity checks; the detail of every section (rules, evidence, tables, plots) is on its own page
under report/. Everything is derived from run records only, so `run_suite.py report` rebuilds it in seconds.
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from suite.judge.analysis import FINISHED, tuned_runs, unique_runs
from suite.judge.claims import Check, Claim
from suite.judge.eval_tables import eval_tables
from suite.judge.task_report import REPORTS, TaskReport
from suite.judge.tables import summarise, to_markdown, write_table
from suite.core.files import write_text_atomic
from suite.task import all_tasks

VERDICT_MARKS = {"reproduced": "✅ reproduced", "not reproduced": "❌ not reproduced",
                 "inconclusive": "❔ inconclusive"}
CHECK_MARKS = {True: "✅ holds", False: "❌ fails", None: "– not run"}


MANIFEST = "report-files.json"  # what the last report wrote, so the next one can remove what it no longer writes


@dataclass
class Section:
    report: TaskReport
    tables: dict[str, pd.DataFrame]
    plots: list[Path]
    claims: list[Claim] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def page(self) -> str:
        return f"report/{self.report.name}.md"


def summary_table(records: list[dict]) -> pd.DataFrame:
    """One row per model, one column per task headline metric: mean [95 % CI over seeds; binomial,
    pooled over seeds, for proportions]."""
    merged: pd.DataFrame | None = None
    for name, task in sorted(all_tasks().items()):
        task_records = tuned_runs([r for r in records if r["config"]["task"] == name], task.tuning,
                                  task.validation_score)
        if not task_records or not task.headline:
            continue
        table = summarise(task_records, task.headline, counts=task.counts)
        table = table.drop(columns=["runs", "diverged"]).rename(
            columns=lambda c: c if c == "model" else f"{name}:{c}")
        merged = table if merged is None else merged.merge(table, on="model", how="outer")
    return merged if merged is not None else pd.DataFrame()


def judge(report: TaskReport, finished: list[dict], out_dir: Path) -> Section | None:
    """Run one report over its own tasks' records; None when the sweep ran none of them."""
    mine = [r for r in finished if r["config"]["task"] in report.tasks]
    if not mine:
        return None
    tables = report.tables(mine)
    for table_name, table in tables.items():
        write_table(table, table_name, out_dir)
    plots = report.plots(mine, out_dir / "plots")
    return Section(report, tables, plots, report.claims(mine), report.checks(mine))


class EvaluationPage(TaskReport):
    name, title = "evaluations", "Saved and external models scored by `run_suite.py eval`"


def evaluation_section(out_dir: Path) -> list[Section]:
    """The tables `run_suite.py eval` left under out_dir (test sets, errors by attractors), as a page."""
    tables = eval_tables(out_dir)
    for table_name, table in tables.items():
        write_table(table, table_name, out_dir)
    return [Section(EvaluationPage(), tables, [])] if tables else []


def write_outputs(out_dir: Path, records: list[dict], command: str, preset: str,
                  log: Callable[..., None] = print) -> str:
    """Write tables, plots, report pages and REPORT.md; return the summary table as Markdown."""
    out_dir = Path(out_dir)
    records = unique_runs(records)  # a config listed twice is one run, never two replicates
    finished = [r for r in records if r.get("status") in FINISHED]
    if not finished:
        return "no finished runs to report"
    all_tasks()  # task packages register their reports on import
    summary = summary_table(finished)
    if not summary.empty:
        write_table(summary, "summary", out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    sections = [s for s in (judge(rep, finished, out_dir) for _, rep in sorted(REPORTS.items())) if s]
    sections += evaluation_section(out_dir)
    for section in sections:
        write_text_atomic(out_dir / section.page, render_page(section, out_dir))
    write_text_atomic(out_dir / "REPORT.md", render_report(summary, sections, records, command, preset))
    replace_previous_outputs(out_dir, outputs_of(sections, summary, out_dir))
    log(f"report: {out_dir / 'REPORT.md'}")
    return to_markdown(summary) if not summary.empty else "no headline metrics: see REPORT.md"


def outputs_of(sections: list[Section], summary: pd.DataFrame, out_dir: Path) -> set[str]:
    """The files this report wrote, relative to out_dir."""
    tables = [name for section in sections for name in section.tables] + (["summary"] if not summary.empty else [])
    files = {f"tables/{name}.{ext}" for name in tables for ext in ("csv", "md")}
    files |= {Path(plot).relative_to(out_dir).as_posix() for section in sections for plot in section.plots}
    return files | {section.page for section in sections} | {"REPORT.md"}


def replace_previous_outputs(out_dir: Path, written: set[str]) -> None:
    """Delete what the previous report in out_dir wrote and this one did not (say, the text_lm page of a
    sweep with a corpus, after one without), so REPORT.md never sits beside another sweep's pages; files
    the suite did not write stay. The list of written files is kept in out_dir/MANIFEST."""
    manifest = out_dir / MANIFEST
    try:
        previous = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        previous = set()
    for stale in sorted(previous - written):
        path = (out_dir / stale).resolve()
        if path.is_relative_to(out_dir.resolve()) and path.is_file():
            path.unlink()
    write_text_atomic(manifest, json.dumps(sorted(written), indent=1) + "\n")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_overview(sections: list[Section]) -> str:
    rows = [(c, s) for s in sections for c in s.claims]
    if not rows:
        return "_No claim could be judged: the sweep ran none of the tasks that test claims._"
    lines = ["| claim | verdict | effect | source | detail |", "|---|---|---|---|---|"]
    for c, s in rows:
        verdict = VERDICT_MARKS.get(c.verdict, c.verdict) + (f": {c.why}" if c.why else "")
        lines.append(f"| {_cell(c.statement)} | {_cell(verdict)} | {_cell(c.effect or '–')} | {_cell(c.source)} "
                     f"| [{s.report.name}]({s.page}#{c.id.replace('.', '')}) |")
    return "\n".join(lines)


def checks_overview(sections: list[Section]) -> str:
    rows = [(c, s) for s in sections for c in s.checks]
    if not rows:
        return "_No sanity check ran in this sweep._"
    lines = ["| check | result | evidence | detail |", "|---|---|---|---|"]
    for c, s in rows:
        lines.append(f"| {_cell(c.statement)} | {CHECK_MARKS[c.passed]} | {_cell(c.evidence)} "
                     f"| [{s.report.name}]({s.page}) |")
    return "\n".join(lines)


def render_page(section: Section, out_dir: Path) -> str:
    """One section's page: each claim in full (rule, evidence), its checks, tables and plots."""
    rep = section.report
    lines = [f"# {rep.title or rep.name}", "", "[← back to the report](../REPORT.md)", ""]
    for c in section.claims:
        lines += [f"## {c.id}", "", f"**Claim.** {c.statement} ({c.source})", "",
                  f"**Rule, fixed before the results.** {c.rule}", "",
                  f"**Verdict.** {VERDICT_MARKS.get(c.verdict, c.verdict)}" + (f": {c.why}" if c.why else ""), "",
                  f"**Effect.** {c.effect or '–'}", "", f"**Evidence.** {c.evidence}", ""]
    if section.checks:
        lines += ["## Sanity checks", "", "Consequences of a definition or an inequality: they catch bugs, "
                  "they are not findings.", "", "| check | result | evidence | rule |", "|---|---|---|---|"]
        lines += [f"| {_cell(c.statement)} | {CHECK_MARKS[c.passed]} | {_cell(c.evidence)} | {_cell(c.rule)} |"
                  for c in section.checks]
        lines.append("")
    for table_name, table in section.tables.items():
        lines += [f"## {table_name.replace('_', ' ')}", "", f"`tables/{table_name}.csv`", "",
                  to_markdown(table), ""]
    for plot in section.plots:
        lines += [f"![{Path(plot).stem}](../{Path(plot).relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


def seeds_by_task(records: list[dict]) -> str:
    """The most common seed list, then each other list with its tasks: '0, 1, 2 (agreement: 0, 1, 2, 3)'."""
    per_task: dict[str, set[int]] = {}
    for r in records:
        per_task.setdefault(r["config"]["task"], set()).add(r["config"]["seed"])
    lists = {task: ", ".join(map(str, sorted(s))) for task, s in per_task.items()}
    common = Counter(lists.values()).most_common(1)[0][0] if lists else ""
    others: dict[str, list[str]] = {}
    for task, seeds in sorted(lists.items()):
        if seeds != common:
            others.setdefault(seeds, []).append(task)
    return common + "".join(f" ({', '.join(tasks)}: {seeds})" for seeds, tasks in others.items())


def provenance(records: list[dict], command: str, preset: str) -> str:
    statuses = Counter(r.get("status") for r in records)
    versions = sorted({tuple(sorted(r.get("versions", {}).items())) for r in records})
    threads = sorted({r.get("threads") for r in records if r.get("threads")})
    devices = sorted({r["config"].get("device", "cpu") for r in records})
    compute = sum(r.get("wall_seconds") or 0 for r in records)
    lines = [
        f"- command: `{command}`",
        f"- preset: `{preset}`; seeds: {seeds_by_task(records)}",
        f"- runs: {len(records)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})",
        f"- compute: {compute / 60:.1f} min of run wall time in total, device {', '.join(devices)}, "
        f"torch threads per run {', '.join(map(str, threads))}",
        "- versions: " + "; ".join(", ".join(f"{k} {v}" for k, v in vs) for vs in versions),
        f"- machine: {platform.platform()}, {os.cpu_count()} cores; report written "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    lines += [f"- failed: {r['config']['task']} {r.get('label')} seed {r['config']['seed']}: {r.get('error')}"
              for r in records if r.get("status") == "failed"]
    return "\n".join(lines)


def render_report(summary: pd.DataFrame, sections: list[Section], records: list[dict], command: str,
                  preset: str) -> str:
    counts = Counter(c.verdict for s in sections for c in s.claims)
    tally = ", ".join(f"{counts[v]} {v}" for v in ("reproduced", "not reproduced", "inconclusive") if counts[v])
    pages = [f"- [{s.report.title or s.report.name}]({s.page})" for s in sections]
    return "\n".join([
        "# recency-bench report", "",
        f"Regenerate with `{command}`; rebuild tables, plots and this report from the cached runs "
        f"(no training) with `{command.replace('run_suite.py', 'run_suite.py report', 1)}`.", "",
        "## Claims", "",
        f"What the literature asserts and this sweep could contradict ({tally or 'none judged'}); each verdict "
        "follows the rule on its section's page.", "", claims_overview(sections), "",
        "## Sanity checks", "", checks_overview(sections), "",
        "## Sections", "", *pages, "",
        "## Summary", "", "Headline metric of each task per model: mean [95 % CI over seeds; for proportions, a binomial "
        "interval pooled over seeds].", "",
        to_markdown(summary) if not summary.empty else "_No task in this sweep has headline metrics._", "",
        "## Provenance", "", provenance(records, command, preset), "",
    ])
