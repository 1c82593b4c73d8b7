"""The code version in a run's identity: which modules it covers, and that a record made by code that
would compute different numbers is redone rather than reused."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from suite.run.code_version import code_version, measuring_modules

ROOT = Path(__file__).resolve().parents[1]

TASK = textwrap.dedent('''
    import math
    from dataclasses import dataclass
    from suite.core.config import TrainConfig
    from suite.core.options import TaskOptions
    from suite.task import RunOutcome, Task, TaskSettings, register_task
    from suite.training.trainer import TrainResult
    from .metric import value

    @register_task
    class Constant(Task):
        name = "constant_metric"
        description = "test-only: records a metric computed in a helper module"
        Options = TaskOptions

        def settings(self, size):
            return TaskSettings(train=TrainConfig(steps=1))

        def run(self, cfg, progress=False):
            return RunOutcome(TrainResult(status="ok"), {"value": value()}, 0)
''')


def test_the_training_path_and_the_tasks_measuring_modules_are_covered_and_judging_is_not():
    modules = measuring_modules("tasks.agreement.task")
    assert {"suite.task", "suite.training.trainer", "suite.models.zoo", "suite.data.batches", "suite.core.config",
            "tasks.agreement.task"} <= set(modules)
    assert not [m for m in modules if m.startswith(("suite.judge", "suite.cli", "suite.run", "suite.evaluate"))]
    assert "tasks.agreement.report" not in modules and not [m for m in modules if m.startswith("tasks.recall")]
    assert code_version("tasks.agreement.task") != code_version("tasks.recall.task")


def sweep(plugin_root: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "run_suite.py"), "--plugin", "mytasks.task", "--tasks",
                           "constant_metric", "--archs", "lstm", "--workers", "1", "--out", str(out)],
                          cwd=plugin_root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": f"{plugin_root}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    records = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    return {r["run_id"]: r for r in records}


def test_a_change_to_a_module_the_task_imports_redoes_its_cached_record(tmp_path):
    """The plugin's own source hash does not see its helper module; the code version does."""
    package = tmp_path / "mytasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text(TASK)
    (package / "metric.py").write_text("def value():\n    return 1.0\n")
    first = sweep(tmp_path, tmp_path / "out")
    (package / "metric.py").write_text("def value():\n    return 2.0\n")  # the code now computes another number
    second = sweep(tmp_path, tmp_path / "out")
    assert len(first) == 1 and len(second) == 2  # a new record beside the old one, not the old one reused
    new = next(r for rid, r in second.items() if rid not in first)
    assert new["metrics"]["value"] == 2.0
    assert new["config"]["identity"]["code"] != next(iter(first.values()))["config"]["identity"]["code"]


def test_data_shipped_in_a_task_package_is_part_of_its_code_version(tmp_path, monkeypatch):
    """A run that reads a shipped file (text_lm scores BLiMP's files) computes other numbers when the file
    changes: its code version changes with it."""
    package = tmp_path / "datatask"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text("VALUE = 1\n")
    (package / "data" / "items.jsonl").write_text('{"a": 1}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_version.__wrapped__("datatask.task")
    (package / "data" / "items.jsonl").write_text('{"a": 2}\n')
    assert code_version.__wrapped__("datatask.task") != before
