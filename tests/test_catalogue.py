"""The catalogue (suite/cli/catalogue.py): the committed file is what the registries say, it answers `--list`
and misspelt names exactly as the full command line does, without importing torch, and it steps aside whenever
it cannot speak for the checkout (changed sources, a plugin, another task package, an eval command)."""
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from suite.cli import catalogue

ROOT = catalogue.ROOT


def test_the_committed_catalogue_is_what_the_registries_say():
    # built in a fresh interpreter: this session's registries also hold the tasks other tests register
    code = "import json; from suite.cli.catalogue import build; print(json.dumps(build()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    committed = json.loads(catalogue.FILE.read_text(encoding="utf-8"))
    assert committed == json.loads(done.stdout), "out of date: run python -m suite.cli.catalogue and commit it"


ANSWERED = [["--list"], ["report", "--list"], ["--archs", "nope"], ["--archs=lstm,nope"], ["--tasks", "recal,agreement"],
            ["--preset", "fast"], ["--preset", "smoke", "--tasks", "grammar_lm", "--archs", "lstn"],
            ["--preset", "fast", "--tasks", "x"]]


def answers_in_a_fresh_interpreter(function: str) -> list:
    """[exit code, stdout, stderr] of `function(argv)` for each of ANSWERED — the catalogue's answer or the full
    command line's — in one fresh interpreter: this session's registries also hold the tasks other tests
    register."""
    module, _, name = function.rpartition(".")
    code = f"""import contextlib, io, json
from {module} import {name} as answer
results = []
for argv in {ANSWERED!r}:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = answer(argv)
        except SystemExit as stop:
            code = stop.code
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return json.loads(done.stdout)


def test_it_answers_a_listing_and_a_misspelt_name_as_the_full_command_line_does():
    fast = answers_in_a_fresh_interpreter("suite.cli.catalogue.answer")
    assert [code for code, _, _ in fast] == [0, 0, 2, 2, 2, 2, 2, 2]  # it answered every one
    assert fast == answers_in_a_fresh_interpreter("suite.cli.main.main")
    assert all(err.count("\n") <= 1 for _, _, err in fast)  # a refusal is one line


@pytest.mark.parametrize("argv", [["--preset", "smoke"], ["--tasks", "recall", "--archs", "lstm"], ["--quiet"],
                                  ["eval", "--list"], ["--plugin", "x.py", "--list"], ["--help"], ["--out", "y"]])
def test_anything_else_goes_to_the_full_command_line(argv):
    assert catalogue.answer(argv) is None


def test_it_steps_aside_when_a_source_changed_or_another_task_package_is_installed(monkeypatch, tmp_path):
    assert catalogue.current() is not None
    stale = tmp_path / "catalogue.json"
    stale.write_text(json.dumps({**json.loads(catalogue.FILE.read_text(encoding="utf-8")), "fingerprint": "0"}))
    monkeypatch.setattr(catalogue, "FILE", stale)
    assert catalogue.current() is None and catalogue.answer(["--list"]) is None
    monkeypatch.undo()
    more = [SimpleNamespace(value="tasks"), SimpleNamespace(value="their_tasks")]
    monkeypatch.setattr(catalogue, "entry_points", lambda group: more)
    assert catalogue.answer(["--archs", "their_cell"]) is None


def test_the_fingerprint_follows_the_sources_it_names(monkeypatch, tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "a.py").write_text("name = 'a'\n")
    monkeypatch.setattr(catalogue, "ROOT", tmp_path)
    monkeypatch.setattr(catalogue, "SOURCES", ("tasks",))
    before = catalogue.fingerprint()
    (tmp_path / "tasks" / "a.py").write_text("name = 'b'\n")
    assert catalogue.fingerprint() != before


def test_a_listing_and_a_refusal_import_no_torch():
    code = ("import sys; from suite.cli.entry import main; main(['--list']); main(['--tasks', 'nope']); "
            "print('TORCH', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip().endswith("TORCH False") and "unknown task 'nope'" in done.stderr
