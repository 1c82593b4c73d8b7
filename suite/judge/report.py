"""From run records to results: tables, plots, claims, sanity checks, REPORT.md, one page per section and
claims.json.

REPORT.md opens with what a reader came for, on one screen: each claim with its verdict and effect size,
then the sanity checks; the detail of every section (rules, evidence, tables, plots) is on its own page
under report/ (suite/judge/pages.py). Everything is derived from run records only, so `run_suite.py report`
rebuilds it in seconds, and on another machine identically but for its "rendered" line.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from suite.run.outputs import write_text_atomic
from suite.judge import plots as plotting
from suite.judge import preregistration
from suite.judge.analysis import FINISHED, literature_runs, tuned_runs, unique_runs
from suite.judge.eval_tables import eval_tables
from suite.judge.pages import Section, provenance_facts, render_page, render_report
from suite.judge.tables import summarise, to_markdown, write_table
from suite.judge.task_report import REPORTS, TaskReport, load_reports, report_of
from suite.judge.verdicts import claims_file, family_policy
from suite.task import all_tasks

MANIFEST = "report-files.json"  # what the last report wrote (with each plot's data digest), so the next one
CLAIMS_FILE = "claims.json"  # can remove what it no longer writes and a rebuild can be compared with it


def summary_table(records: list[dict]) -> pd.DataFrame:
    """One row per model, one column per task headline metric: mean [95 % CI over seeds; binomial,
    pooled over seeds, for proportions]; the columns and the reading are each task's report's (`report_of`)."""
    merged: pd.DataFrame | None = None
    for name, task in sorted(all_tasks().items()):
        reading = report_of(name)
        task_records = tuned_runs([r for r in records if r["config"]["task"] == name], task.tuning,
                                  reading.validation_score)
        if not task_records or not reading.headline:
            continue
        table = summarise(task_records, reading.headline, counts=reading.counts)
        table = table.drop(columns=["runs", "diverged"]).rename(
            columns=lambda c: c if c == "model" else f"{name}:{c}")
        merged = table if merged is None else merged.merge(table, on="model", how="outer")
    return merged if merged is not None else pd.DataFrame()


def judge(report: TaskReport, finished: list[dict], out_dir: Path,
          registration: dict[str, Any] | None) -> Section | None:
    """Run one report over its own tasks' records; None when the sweep ran none of them. Tables and plots
    show every model; claims from the literature are judged on the built-in zoo only (a user's cell is
    compared in the tables, never a vote in a literature verdict)."""
    mine = [r for r in finished if r["config"]["task"] in report.tasks]
    if not mine:
        return None
    tables = report.tables(mine)
    for table_name, table in tables.items():
        write_table(table, table_name, out_dir)
    plots = report.plots(mine, out_dir / "plots")
    claims = report.claims(literature_runs(mine))
    seeds = {r["config"]["seed"] for r in mine}
    started = [(r["config"]["task"], r["started"]) for r in mine if r.get("started")]
    statuses = {c.id: preregistration.status(c, seeds, registration, started) for c in claims}
    return Section(report, tables, plots, claims, report.checks(mine), statuses, report.notes(mine))


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
    load_reports()
    summary = summary_table(finished)
    if not summary.empty:
        write_table(summary, "summary", out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    registration = preregistration.load()
    plotting.DIGESTS.clear()
    sections = [s for s in (judge(rep, finished, out_dir, registration) for _, rep in sorted(REPORTS.items())) if s]
    sections += evaluation_section(out_dir)
    for section in sections:
        write_text_atomic(out_dir / section.page, render_page(section, out_dir, registration))
    claims = [(c, s.statuses[c.id], s.page) for s in sections for c in s.claims]
    write_text_atomic(out_dir / CLAIMS_FILE, claims_file(claims, provenance_facts(records)))
    write_text_atomic(out_dir / "REPORT.md", render_report(summary, sections, records, command, preset,
                                                           family_policy(claims)))
    replace_previous_outputs(out_dir, outputs_of(sections, summary, out_dir))
    log(f"report: {out_dir / 'REPORT.md'}")
    return to_markdown(summary) if not summary.empty else "no headline metrics: see REPORT.md"


def outputs_of(sections: list[Section], summary: pd.DataFrame, out_dir: Path) -> set[str]:
    """The files this report wrote, relative to out_dir."""
    tables = [name for section in sections for name in section.tables] + (["summary"] if not summary.empty else [])
    files = {f"tables/{name}.{ext}" for name in tables for ext in ("csv", "md")}
    files |= {Path(plot).relative_to(out_dir).as_posix() for section in sections for plot in section.plots}
    return files | {section.page for section in sections} | {"REPORT.md", CLAIMS_FILE}


def replace_previous_outputs(out_dir: Path, written: set[str]) -> None:
    """Delete what the previous report in out_dir wrote and this one did not (say, the text_lm page of a
    sweep with a corpus, after one without), so REPORT.md never sits beside another sweep's pages; files
    the suite did not write stay. The list of written files is kept in out_dir/MANIFEST."""
    manifest = out_dir / MANIFEST
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))
        previous = set(listed["files"] if isinstance(listed, dict) else listed)  # a list: the earlier format
    except (OSError, ValueError, TypeError, KeyError):
        previous = set()
    for stale in sorted(previous - written):
        path = (out_dir / stale).resolve()
        if path.is_relative_to(out_dir.resolve()) and path.is_file():
            path.unlink()
    digests = {Path(p).resolve().relative_to(out_dir.resolve()).as_posix(): d for p, d in plotting.DIGESTS.items()
               if Path(p).resolve().is_relative_to(out_dir.resolve())}
    write_text_atomic(manifest, json.dumps({"files": sorted(written), "plot_data": dict(sorted(digests.items()))},
                                           indent=1) + "\n")


def literature_claims(records: list[dict]) -> list:
    """Every section's claims on these records, judged exactly as the report judges them (no files written)."""
    load_reports()
    finished = [r for r in unique_runs(records) if r.get("status") in FINISHED]
    claims = []
    for _, rep in sorted(REPORTS.items()):
        mine = [r for r in finished if r["config"]["task"] in rep.tasks]
        if mine:
            claims += rep.claims(literature_runs(mine))
    return claims


def seconds_per_seed(records: list[dict]) -> dict[str, float]:
    """Per task, the pilot's wall time for one seed of all its runs, divided among the worker processes that
    run side by side here (cores / threads per worker, as the sweep starts them)."""
    total: dict[str, float] = defaultdict(float)
    seeds: dict[str, set] = defaultdict(set)
    for r in records:
        task = r["config"]["task"]
        total[task] += float(r.get("wall_seconds") or 0.0)
        seeds[task].add(r["config"]["seed"])
    threads = max((int(r.get("threads") or 1) for r in records), default=1)
    workers = max(1, (os.cpu_count() or 1) // threads)
    return {task: total[task] / len(seeds[task]) / workers for task in total}


def write_preregistration(records: list[dict], path: Path, command: str,
                          budget_minutes: float = preregistration.BUDGET_MINUTES, slowdown: float = 1.0,
                          amend: bool = False, redesign: tuple[str, ...] = ()) -> dict[str, Any]:
    """From a pilot on exploratory seeds: every claim's rule hash, the variability of each part and the seeds
    its power needs, and per task the confirmatory seeds (suite/judge/preregistration.py `plan`). With
    `amend`, only the claims and tasks the existing registration lacks are added to it (`amend`); with
    `redesign`, those tasks and the claims on them are registered afresh on a new seed block (`redesign`)."""
    seeds = sorted({r["config"]["seed"] for r in records})
    if not seeds or seeds[-1] >= preregistration.EXPLORATORY_BELOW:
        raise ValueError(f"a pilot must use exploratory seeds only (below {preregistration.EXPLORATORY_BELOW}); "
                         f"got {seeds[-1] if seeds else 'no records'}")
    facts = provenance_facts(records)
    pilot = {"command": command, "seeds": seeds, "runs": facts["runs"], "commits": facts["commits"],
             "code_versions": facts["code_versions"]}
    tasks = sorted({r["config"]["task"] for r in records})
    cost = {task: seconds / slowdown for task, seconds in seconds_per_seed(records).items()}
    claims = literature_claims(records)
    registration = preregistration.plan(claims, tasks, pilot, cost, budget_minutes)
    registration["pilot_slowdown"] = slowdown
    registration["registered"] = when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if amend or redesign:
        existing = preregistration.load(path)
        if existing is None:
            raise ValueError(f"nothing to {'amend' if amend else 'redesign'}: {path} does not exist; register "
                             "without --amend or --redesign first")
        registration = (preregistration.amend(existing, registration, when) if amend else
                        preregistration.redesign(existing, registration, list(redesign), when, claims))
    write_text_atomic(path, json.dumps(registration, indent=1, ensure_ascii=False) + "\n")
    return registration
