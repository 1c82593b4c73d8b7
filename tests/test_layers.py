"""The framework's layers, read from the source: every import in suite/ points down the stated order, no
module imports itself round a cycle, and a task package imports only the framework and itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# suite/__init__.py states the same order; a sub-package may import only its own layer and those before it
LAYERS = ("core", "data", "models", "training", "task", "run", "judge", "evaluate", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports (at any depth of the file, lazy imports included), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]  # `from pkg import module`
    return found


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "suite" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def suite_files() -> list[Path]:
    return sorted((ROOT / "suite").rglob("*.py"))


def wrong_way_imports() -> list[str]:
    problems = []
    for path in suite_files():
        own = layer_of(module_name(path))
        for target, line in imports_of(path):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                problems.append(f"{path.relative_to(ROOT)}:{line} ({LAYERS[own]}) imports {target} ({LAYERS[theirs]})")
    return problems


def test_every_import_in_suite_points_down_the_layers():
    assert wrong_way_imports() == []


def test_the_layer_test_sees_a_wrong_way_import(tmp_path, monkeypatch):
    """The walk itself can fail: a core module importing the judge is caught."""
    fake = tmp_path / "suite" / "core" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from suite.judge.stats import mean_ci\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert wrong_way_imports() == ["suite/core/bad.py:2 (core) imports suite.judge.stats (judge)",
                                   "suite/core/bad.py:2 (core) imports suite.judge.stats.mean_ci (judge)"]


def test_suite_has_no_import_cycle():
    modules = {module_name(p): p for p in suite_files()}
    graph = {m: {t for t, _ in imports_of(p) if t in modules and t != m} for m, p in modules.items()}
    # a package's __init__ re-exporting its own modules is not a cycle with them
    graph = {m: {t for t in ts if not (modules[m].name == "__init__.py" and t.startswith(m + "."))}
             for m, ts in graph.items()}
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in visiting:
            cycles.append(" → ".join(trail[trail.index(node):] + [node]))
            return
        if node in done:
            return
        visiting.add(node)
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_suite_has_at_least_four_layer_packages_and_nothing_loose_but_the_task_interface():
    packages = [p.name for p in (ROOT / "suite").iterdir() if (p / "__init__.py").exists()]
    assert set(packages) == set(LAYERS) - {"task"}
    loose = sorted(p.name for p in (ROOT / "suite").glob("*.py"))
    assert loose == ["__init__.py", "task.py"]


@pytest.mark.parametrize("package", sorted(p.name for p in (ROOT / "tasks").iterdir()
                                            if (p / "__init__.py").exists()))
def test_a_task_package_imports_only_the_framework_and_itself(package):
    outside = []
    for path in sorted((ROOT / "tasks" / package).rglob("*.py")):
        for target, line in imports_of(path):
            if target.startswith("tasks.") and not target.startswith(f"tasks.{package}"):
                outside.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert outside == []


def test_no_source_file_is_longer_than_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in [*suite_files(), *sorted((ROOT / "tasks").rglob("*.py"))]
            if (n := len(p.read_text().splitlines())) > 400]
    assert long == []


# --------------------------------------------------------------------------- the framework names no task

# Every task the suite ships, by its registered name (tasks/*/task.py): the framework dispatches on none of them.
TASK_NAMES = {"agreement", "agreement_number", "recall", "text_lm", "grammar_lm", "depth", "gradients", "clipping",
              "bidir_tag", "gru_vs_lstm", "ff_depth", "recall_lm"}
# A task name that stays in suite/ for a reason other than dispatch: (file, name) → why.
NAMED_ON_PURPOSE = {
    ("suite/run/sweep.py", "grammar_lm"): "the smoke preset's task list (a preset is data: it runs the template "
                                          "task only, to check the pipeline in a minute)",
}


def docstring_nodes(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (of the module, a class or a function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def task_names_in_suite() -> list[str]:
    """Every string constant in suite/ (docstrings and comments aside) that is a task's name."""
    found = []
    for path in suite_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = docstring_nodes(tree)
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TASK_NAMES \
                    and id(node) not in docstrings and (where, node.value) not in NAMED_ON_PURPOSE:
                found.append(f"{where}:{node.lineno} names task '{node.value}'")
    return found


def test_no_module_in_suite_names_a_task():
    assert task_names_in_suite() == []


def test_the_task_name_scan_sees_a_name_in_code_but_not_in_a_docstring(tmp_path, monkeypatch):
    fake = tmp_path / "suite" / "evaluate" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text('"""recall"""\n\n\ndef f(cfg):\n    """recall"""\n'
                    '    return cfg.task == "recall"  # recall\n')
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert task_names_in_suite() == ["suite/evaluate/bad.py:6 names task 'recall'"]


def test_the_task_name_list_is_every_task_the_suite_ships():
    from suite.task import all_tasks

    shipped = {name for name, task in all_tasks().items() if type(task).__module__.startswith("tasks.")}
    assert shipped == TASK_NAMES


@pytest.mark.parametrize("package", sorted(p.parent.name for p in (ROOT / "tasks").glob("*/probes.py")))
def test_a_tasks_probes_are_outside_its_measuring_code(package):
    """tasks/<name>/probes.py (suite.evaluate.probes) is loaded on demand, never by task.py: changing it
    changes no run's code version."""
    from suite.run.code_version import measuring_modules

    modules = measuring_modules(f"tasks.{package}.task")
    assert f"tasks.{package}.task" in modules and f"tasks.{package}.probes" not in modules


# --------------------------------------------------------------------------- a command imports what it needs

JUDGING = ("suite.judge", "scipy.stats", "statsmodels", "matplotlib")  # the judging and plotting stack


def modules_after(code: str) -> tuple[list[str], str]:
    """(the judging modules loaded, stdout) after running `code` in a fresh interpreter at the repository root."""
    probe = (f"{code}\nimport sys\nprint('LOADED', sorted(m for m in sys.modules "
             f"if any(m == j or m.startswith(j + '.') for j in {JUDGING!r})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    head, _, loaded = done.stdout.rpartition("LOADED ")
    return ast.literal_eval(loaded.strip()), head


def test_importing_the_command_line_loads_no_judging_or_plotting():
    assert modules_after("import suite.cli.main, suite.cli.eval")[0] == []


@pytest.mark.parametrize("argv", [["--help"], ["eval", "--help"], ["--preset", "huge"], ["evl"]])
def test_help_and_refusals_load_no_judging_or_plotting(argv):
    code = f"from suite.cli.main import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded, printed = modules_after(code)
    assert loaded == []
    assert "usage:" in printed or not printed  # help is printed; a refusal is on stderr


def test_loading_every_task_and_listing_them_load_no_judging_or_plotting():
    """A task package's measuring side never imports its judging side (a rules or outcomes module, and
    through it scipy): only the judge and eval load report.py and probes.py, on demand."""
    code = ("from suite.task import all_tasks\nall_tasks()\nfrom suite.cli.main import main\n"
            "try:\n    main(['--list'])\nexcept SystemExit:\n    pass")
    loaded, printed = modules_after(code)
    assert loaded == [] and "grammar_lm" in printed


def test_preregister_still_offers_its_budget_flags(capsys):
    from suite.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["preregister", "--help"])
    assert exit_info.value.code == 0 and "--budget-minutes" in capsys.readouterr().out
