"""The version of the code a run executes: a hash of the source of every module its task's measuring code
imports, followed through the suite's training path (the task interface, trainer, models, data, core) and the
task's own package — not the judging side, the runner or the command line, which do not change a run's numbers.

It enters each run's identity (suite.run.identity), so a record made by code that would compute different
numbers is never served from the cache, and `report` uses only records made by the code it runs with.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

NOT_MEASURING = ("suite.judge", "suite.evaluate", "suite.cli", "suite.run")  # never executed by a run's numbers


def source_file(name: str) -> Path | None:
    """The file of module `name` (a module or a package's __init__), found on disk without importing it:
    importing would pull torch into a command that only needs a hash."""
    loaded = getattr(sys.modules.get(name), "__file__", None)  # e.g. a test module imported by path
    if loaded and loaded.endswith(".py"):
        return Path(loaded)
    top, _, rest = name.partition(".")
    spec = importlib.util.find_spec(top)  # top-level packages only: cheap, imports nothing
    if spec is not None and not rest and spec.origin and spec.origin.endswith(".py"):
        return Path(spec.origin)  # a top-level module or package
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        base = Path(folder, *rest.split(".")) if rest else Path(folder)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def module_imports(name: str) -> set[str]:
    """The suite and task modules a module imports anywhere in its source (lazy imports included)."""
    path = source_file(name)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from package import module`
    return {m for m in found if m.split(".")[0] in ("suite", "tasks", name.split(".")[0]) and source_file(m)}


def measuring_modules(start: str) -> list[str]:
    """`start` and every module of the suite or its task package reachable from it by imports, judging, run
    orchestration and command line excluded."""
    parts = start.split(".")
    own_package = ".".join(parts[:2] if parts[0] == "tasks" else parts[:1])  # tasks.<name>, or a plugin's package
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for target in module_imports(name):
            inside = target.startswith("suite.") or target.startswith(own_package + ".") or target == own_package
            if inside and not target.startswith(NOT_MEASURING) and target not in seen:
                todo.append(target)
    return sorted(seen)


@functools.cache
def code_version(task_module: str) -> str:
    """Hash of the names and sources of the modules a task's measuring code executes (12 hex digits)."""
    digest = hashlib.sha256()
    for name in measuring_modules(task_module):
        source = source_file(name).read_bytes()
        digest.update(name.encode() + b"\0" + hashlib.sha256(source).digest())
    for root, path in package_data_files(task_module):  # shipped data a run reads (text_lm's BLiMP files)
        digest.update(path.as_posix().encode() + b"\0" + hashlib.sha256((root / path).read_bytes()).digest())
    return digest.hexdigest()[:12]


def package_data_files(task_module: str) -> list[tuple[Path, Path]]:
    """The non-Python files shipped inside a task's package, as (package folder, relative path), sorted."""
    parts = task_module.split(".")
    package = ".".join(parts[:2] if parts[0] == "tasks" else parts[:1])
    init = source_file(package)
    if init is None or init.name != "__init__.py":
        return []
    root = init.parent
    return sorted((root, p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)


def task_code_version(task) -> str:
    """The code version of a registered task object (its class's module is where the walk starts)."""
    return code_version(inspect.getmodule(type(task)).__name__)


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout the suite runs from ("+dirty" when tracked files differ from it), or None
    outside a git checkout: recorded with every run so that a claim can name the code that made its records."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")
