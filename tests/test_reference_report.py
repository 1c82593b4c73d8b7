"""The committed reference report (results/reference/) is what the committed code makes of the committed records:
rebuilt from a copy of its run records by its own `report` command, every page, table and claims file comes out
byte-identical except the one stated "rendered" line, and every plot is drawn from the same data."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite.judge.pages import RENDERED
from suite.judge.report import CLAIMS_FILE, MANIFEST
from suite.run.code_version import task_code_version
from suite.task import get_task

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"


def reference_command() -> list[str]:
    """The report command REPORT.md states for itself (its provenance's `command`, as `report`)."""
    text = (REFERENCE / "REPORT.md").read_text(encoding="utf-8")
    command = re.search(r"^- command: `([^`]+)`", text, re.M).group(1)
    argv = shlex.split(command)
    return argv[argv.index("run_suite.py") + 1:]


def without_rendered(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(RENDERED)]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    """The report command REPORT.md states, run in a fresh folder holding only a copy of the committed records
    at the same relative path (the command names its output folder, and REPORT.md quotes the command). The
    corpus path the command names does not exist there: a report reads records only."""
    work = tmp_path_factory.mktemp("rebuild")
    argv = [a for a in reference_command() if a != "report"]
    out = work / argv[argv.index("--out") + 1]
    shutil.copytree(REFERENCE / "runs", out / "runs")
    done = subprocess.run([sys.executable, str(ROOT / "run_suite.py"), "report", *argv], cwd=work,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_the_reference_report_rebuilds_byte_identically_except_the_rendered_line(rebuilt):
    manifest = json.loads((REFERENCE / MANIFEST).read_text(encoding="utf-8"))
    again = json.loads((rebuilt / MANIFEST).read_text(encoding="utf-8"))
    assert again["files"] == manifest["files"]
    assert again["plot_data"] == manifest["plot_data"]  # plots by the data they draw, not their PNG bytes
    for name in manifest["files"]:
        if name.endswith(".png"):
            continue
        committed = (REFERENCE / name).read_text(encoding="utf-8")
        assert without_rendered((rebuilt / name).read_text(encoding="utf-8")) == without_rendered(committed), name


def test_every_reference_record_was_made_by_the_committed_code():
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((REFERENCE / "runs").glob("*.json"))]
    assert records
    versions = {}
    for record in records:
        task = record["config"]["task"]
        versions.setdefault(task, task_code_version(get_task(task)))
        assert record["config"]["identity"]["code"] == versions[task], (task, record["run_id"])


def test_the_readme_verdict_table_is_the_reports_claims_file():
    from suite.judge.verdicts import README_END, README_START, verdict_table
    claims = json.loads((REFERENCE / CLAIMS_FILE).read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split(README_START, 1)[1].split(README_END, 1)[0]
    assert table.strip() == verdict_table(claims).strip()


def test_the_committed_results_stay_small():
    size = sum(p.stat().st_size for p in (ROOT / "results").rglob("*") if p.is_file())
    assert size <= 30 * 2**20, f"results/ holds {size / 2**20:.1f} MB"
