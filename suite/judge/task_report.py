"""The judging interface: a TaskReport turns its own tasks' run records into tables, plots, claims and
sanity checks. It never trains or measures, so `run_suite.py report` rebuilds everything from the cache.

A task package registers one next to its task (`tasks/<name>/report.py`); the judge imports that module when
it judges (`load_reports`), so commands that only train, list or refuse never pay for the judging stack.
The report of a task's own package also says how the whole suite reads that task's records (`report_of`):
which metrics the summary table shows, which tuning point a seed keeps, the counts behind a proportion.
The smallest one:

    @register_report
    class GrammarReport(TaskReport):
        name = "grammar_lm"          # the report page, results/report/grammar_lm.md
        tasks = ("grammar_lm",)      # the records it receives (already finished, one per run id)
        headline = ("test_ppl",)     # its column in the cross-task summary
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pandas as pd

from suite.judge.claims import Check, Claim


class TaskReport:
    name: str = ""
    title: str = ""  # the page's heading; defaults to the name
    tasks: tuple[str, ...] = ()  # whose records it judges
    headline: tuple[str, ...] = ()  # metrics of the tasks it owns (`report_of`) in the cross-task summary table

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        """Write PNGs under out_dir and return their paths."""
        return []

    def claims(self, records: list[dict]) -> list[Claim]:
        return []

    def checks(self, records: list[dict]) -> list[Check]:
        return []

    def notes(self, records: list[dict]) -> list[str]:
        """Paragraphs (markdown) under the page's title: what a reader needs to read its tables, e.g. why a model
        shows no result. Numbers in them come from `records`, or name the script that measured them."""
        return []

    # ----- how the suite reads the records of the tasks this report owns (`report_of`)
    def validation_score(self, record: dict[str, Any]) -> Any:
        """How a point of the tuning grid (`Task.tuning`) is chosen per seed, on validation data only (higher
        is better). Default: the lower validation perplexity; a run without one (diverged) is never preferred."""
        value = (record.get("metrics") or {}).get("valid_ppl")
        return -value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf

    def counts(self, record: dict[str, Any], metric: str) -> tuple[int, int] | None:
        """(events, trials) behind a proportion metric of a finished record, so that tables give it a
        binomial interval; None for a continuous metric. Default: the `<stem>correct` / `<stem>total`
        fields a classifier or tagger records beside its `<stem>accuracy`."""
        if not metric.endswith("accuracy"):
            return None
        stem, values = metric.removesuffix("accuracy"), record.get("metrics") or {}
        events, trials = values.get(f"{stem}correct"), values.get(f"{stem}total")
        return (int(events), int(trials)) if events is not None and trials else None


REPORTS: dict[str, TaskReport] = {}


def register_report(cls: type[TaskReport]) -> type[TaskReport]:
    """Class decorator: add a report section (its page, tables, plots, claims and checks)."""
    if not cls.name or not cls.tasks:
        raise ValueError(f"{cls.__name__} needs a name and the tasks whose records it judges")
    REPORTS[cls.name] = cls()
    return cls


@functools.cache
def load_reports() -> dict[str, TaskReport]:
    """Import the `report` module beside every registered task's module (tasks/<name>/report.py), which
    registers its TaskReport; return every report registered."""
    from suite.task import import_task_modules  # the task layer sits below the judge: a downward import
    import_task_modules("report")
    return REPORTS


DEFAULT = TaskReport()  # how a task whose package registers no report for it is read


def report_of(task: str) -> TaskReport:
    """The report that says how the suite reads `task`'s records: the one its own package registered that
    judges it. Another package's page may judge the same records (gru_vs_lstm's judges recall's) without
    changing how they read. A task without one reads by TaskReport's defaults and has no summary column."""
    from suite.task import all_tasks

    load_reports()
    found = all_tasks().get(task)
    package = type(found).__module__.rpartition(".")[0] if found is not None else None
    return next((report for report in REPORTS.values()
                 if task in report.tasks and type(report).__module__.rpartition(".")[0] == package), DEFAULT)
