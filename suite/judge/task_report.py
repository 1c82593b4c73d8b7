"""The judging interface: a TaskReport turns its own tasks' run records into tables, plots, claims and
sanity checks. It never trains or measures, so `run_suite.py report` rebuilds everything from the cache.

A task package registers one next to its task (`tasks/<name>/report.py`); the judge imports that module when
it judges (`load_reports`), so commands that only train, list or refuse never pay for the judging stack:

    @register_report
    class GrammarReport(TaskReport):
        name = "grammar_lm"          # the report page, results/report/grammar_lm.md
        tasks = ("grammar_lm",)      # the records it receives (already finished, one per run id)
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from pathlib import Path

import pandas as pd

from suite.judge.claims import Check, Claim


class TaskReport:
    name: str = ""
    title: str = ""  # the page's heading; defaults to the name
    tasks: tuple[str, ...] = ()  # whose records it judges

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        """Write PNGs under out_dir and return their paths."""
        return []

    def claims(self, records: list[dict]) -> list[Claim]:
        return []

    def checks(self, records: list[dict]) -> list[Check]:
        return []


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
    from suite.task import all_tasks  # the task layer sits below the judge: a downward import
    for task in all_tasks().values():
        package = type(task).__module__.rpartition(".")[0]
        if package and importlib.util.find_spec(f"{package}.report") is not None:
            importlib.import_module(f"{package}.report")
    return REPORTS
