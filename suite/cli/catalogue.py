"""What `--list` shows and which names are valid, answered without importing torch or a task.

Loading the registries means importing every task and the model zoo: 2.2–2.5 s on this 2-core machine, of which
`import torch` alone takes 1.4–2.3 s — more than a listing or the refusal of a misspelt name should cost.
`catalogue.json` beside this module holds the task, architecture and preset names and descriptions as the
registries give them, with a fingerprint of the sources they come from. It answers only while that fingerprint
matches the sources and nothing outside them can add a name (no --plugin, no other task package installed);
otherwise the full command line answers, as slowly as before. `python -m suite.cli.catalogue` rewrites the file,
and tests/test_catalogue.py fails while the committed one is out of date.
"""
from __future__ import annotations

import hashlib
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Sequence

from suite.cli.args import EXIT_BAD_INPUT

ROOT = Path(__file__).resolve().parents[2]
FILE = Path(__file__).with_name("catalogue.json")
# Where the names and descriptions come from: the task package, the model zoo, the presets, the task interface.
SOURCES = ("tasks", "suite/models", "suite/run/sweep.py", "suite/task.py")
ENTRY_POINT_GROUP, OWN_TASKS = "recency_bench.tasks", "tasks"  # as in suite/task.py and pyproject.toml
# Flags that make the catalogue unable to answer: a plugin may register names, help has its own output.
DEFERRED_FLAGS = ("--plugin", "--help", "-h")
NAMED = (("--preset", "presets", "preset"), ("--tasks", "tasks", "task"), ("--archs", "architectures", "architecture"))


def fingerprint() -> str:
    """Hash of the sources the catalogue's names come from (16 hex digits)."""
    digest = hashlib.sha256()
    files = sorted(p for name in SOURCES for p in ((ROOT / name).rglob("*.py") if (ROOT / name).is_dir()
                                                      else [ROOT / name]))
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build() -> dict[str, Any]:
    """The catalogue from the live registries (imports every task and the zoo; plugins already imported count)."""
    from suite.models.registry import ARCHITECTURES
    from suite.run.sweep import PRESETS
    from suite.task import all_tasks

    return {"fingerprint": fingerprint(),
            "tasks": {name: [t.objective, t.description] for name, t in sorted(all_tasks().items())},
            "architectures": {name: a.description for name, a in sorted(ARCHITECTURES.items())},
            "presets": {name: p.description for name, p in PRESETS.items()}}


def listing(catalogue: dict[str, Any]) -> str:
    lines = ["Tasks:"]
    lines += [f"  {name:<18} [{objective}] {text}" for name, (objective, text) in catalogue["tasks"].items()]
    lines.append("Architectures:")
    lines += [f"  {name:<18} {text}" for name, text in catalogue["architectures"].items()]
    lines.append("Presets:")
    lines += [f"  {name:<18} {text}" for name, text in catalogue["presets"].items()]
    return "\n".join(lines)


def current() -> dict[str, Any] | None:
    """The committed catalogue, when it speaks for this checkout: only the suite's own task package is
    installed and no source it was built from has changed since."""
    if sorted(ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)) != [OWN_TASKS]:
        return None
    try:
        catalogue = json.loads(FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return catalogue if catalogue.get("fingerprint") == fingerprint() else None


def flag_values(argv: Sequence[str], flag: str) -> list[str] | None:
    """The comma-separated names given to `flag` (`--flag a,b` or `--flag=a,b`; the last one wins, as in
    argparse), or None when it is not given or has no value."""
    found = None
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            found = argv[i + 1]
        elif token.startswith(flag + "="):
            found = token.split("=", 1)[1]
    return None if found is None else [x.strip() for x in found.split(",") if x.strip()]


def misspelt(argv: Sequence[str], catalogue: dict[str, Any]) -> str | None:
    """The full command line's one-line error for the first unknown preset, task or architecture, checked in
    its order; None when every name given is known."""
    for flag, key, what in NAMED:
        valid = catalogue[key]
        for name in flag_values(argv, flag) or []:
            if name not in valid:
                order = valid if key == "presets" else sorted(valid)
                return f"unknown {what} '{name}'; valid: {', '.join(order)}"
    return None


def answer(argv: Sequence[str]) -> int | None:
    """Answer `--list`, or refuse a misspelt name, from the catalogue: the exit code, or None when the full
    command line must answer (anything else, an `eval` command, or a catalogue that cannot speak)."""
    argv = list(argv)
    if any(t in DEFERRED_FLAGS or t.startswith("--plugin=") for t in argv) or "eval" in argv or "--" in argv:
        return None
    if "--list" not in argv and not any(flag_values(argv, flag) for flag, _, _ in NAMED):
        return None
    catalogue = current()
    if catalogue is None:
        return None
    if "--list" in argv:  # as the full command line: a listing checks no name
        print(listing(catalogue))
        return 0
    problem = misspelt(argv, catalogue)
    if problem:
        sys.stderr.write(f"run_suite.py: error: {problem}\n")
        return EXIT_BAD_INPUT
    return None  # every name is known: the full command line checks and runs the rest


if __name__ == "__main__":
    FILE.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {FILE.relative_to(ROOT)}")
