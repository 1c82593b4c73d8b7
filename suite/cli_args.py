"""Command-line pieces shared by `run_suite.py` and `run_suite.py eval`: a parser whose errors are one
line and exit 2, the list and KEY=VALUE argument types, and the output-folder check."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (what is wrong, what is valid) and exit 2."""

    def error(self, message: str):
        sys.stderr.write(f"run_suite.py: error: {message}\n")
        sys.exit(EXIT_BAD_INPUT)


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'")


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def unwritable(out: Path) -> str | None:
    """Why `out` cannot hold results, or None. Creates the folder only when it can be written."""
    if out.exists() and not out.is_dir():
        return f"output folder '{out}' is a file, not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        return f"cannot write to output folder '{out}': {exc.strerror or exc}"
    return None
