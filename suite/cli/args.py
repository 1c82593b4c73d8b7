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


def add_selection(p: argparse.ArgumentParser) -> None:
    """The flags that pick a sweep's runs, shared by `run` (what to train) and `eval` (what to score)."""
    p.add_argument("--tasks", type=_names, help="comma-separated task names (default: the preset's)")
    p.add_argument("--archs", type=_names, help="comma-separated architectures (default: the preset's)")
    p.add_argument("--layers", type=_ints, help="comma-separated stack depths, e.g. 1,2,4")
    p.add_argument("--hidden", type=_ints, help="comma-separated hidden sizes (default: each task's)")
    p.add_argument("--seeds", type=_ints, help="comma-separated seeds, e.g. 0,1,2 (default: the preset's)")
    p.add_argument("--steps", type=int, help="training steps per run (default: each task's for the preset)")
    p.add_argument("--skip", help="skip connections between stacked layers: none, residual, highway")
    p.add_argument("--bidirectional", action="store_true", default=None,
                   help="bidirectional models (classification/tagging tasks only)")
    p.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="task option for every selected task that has it (repeatable)")
    p.add_argument("--corpus", metavar="FOLDER_OR_HUB_NAME",
                   help="natural-text corpus for text tasks: a folder with train/valid/test files or a "
                        "hub name such as wikitext:wikitext-2-raw-v1 (same as --option corpus=…)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")


def selection(args: argparse.Namespace):
    """The sweep overrides the selection flags describe (--corpus is sugar for --option corpus=…)."""
    from suite.run.sweep import Overrides

    options = dict(args.option)
    if args.corpus is not None:
        options["corpus"] = args.corpus
    return Overrides(tasks=args.tasks, archs=args.archs, layers=args.layers, hidden=args.hidden,
                     seeds=args.seeds, steps=args.steps, skip=args.skip, bidirectional=args.bidirectional,
                     device=args.device, options=options)
