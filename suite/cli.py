"""Command line of run_suite.py: parse, validate everything up front (exit 2), run, write tables."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .config import ConfigError
from .models import ARCHITECTURES
from .report import write_outputs
from .results import cached_record
from .runner import import_plugins, plan_execution, run_sweep
from .sweep import PRESETS, Overrides, expand
from .tasks import load_builtin_tasks

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


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="run_suite.py",
        description="Train recurrent language models and probe long-distance behaviour. "
                    "Results are cached per run; rerunning a command reuses finished runs.")
    p.add_argument("command", nargs="?", default="run", choices=["run", "report", "eval"],
                   help="'run' (default) trains what is not cached, then writes tables, plots and REPORT.md; "
                        "'report' rebuilds them from the cached runs only; 'eval' scores saved models and "
                        "external LMs on test sets with no training (see `run_suite.py eval --help`)")
    p.add_argument("--preset", default="quick", help=f"sweep preset: {', '.join(PRESETS)} (default: quick)")
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
    p.add_argument("--out", type=Path, default=Path("results"), help="output folder for runs/, tables/, plots/ and REPORT.md (default: results)")
    p.add_argument("--workers", type=int, help="parallel worker processes (default: one per core on CPU, "
                                               "1 on CUDA); threads per worker = cores / workers")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first, so it can register architectures or tasks (repeatable)")
    p.add_argument("--save-models", action="store_true",
                   help="keep each finished run's weights, vocabulary and config under OUT/runs (on by "
                        "default in the paper preset), so `eval` can score it later without retraining")
    p.add_argument("--list", action="store_true", help="list tasks, architectures and presets, then exit")
    p.add_argument("--dry-run", action="store_true", help="print the runs the sweep would make, then exit")
    p.add_argument("--quiet", action="store_true", help="print only errors and the final table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:
        from .eval_cli import main as eval_main  # eval_cli builds on this module's parser helpers
        return eval_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        import_plugins(args.plugin)
    except Exception as exc:
        parser.error(f"cannot import plugin: {type(exc).__name__}: {exc}")
    tasks = load_builtin_tasks()
    if args.list:
        print(listing(tasks))
        return 0
    if args.preset not in PRESETS:
        parser.error(f"unknown preset '{args.preset}'; valid: {', '.join(PRESETS)}")
    if args.workers is not None and args.workers <= 0:
        parser.error(f"--workers must be positive (got {args.workers})")
    over = Overrides(tasks=args.tasks, archs=args.archs, layers=args.layers, hidden=args.hidden,
                     seeds=args.seeds, steps=args.steps, skip=args.skip,
                     bidirectional=args.bidirectional, device=args.device, options=_options(args))
    notices: list[str] = []
    try:
        configs = expand(PRESETS[args.preset], over, notices)
    except ConfigError as exc:
        parser.error(str(exc))
    for notice in notices:
        print(notice, file=sys.stderr)
    if args.dry_run:
        for cfg in configs:
            print(f"{cfg.run_id}  {cfg.task:<14} {cfg.model.label:<14} seed {cfg.seed}  {cfg.options}")
        return 0
    problem = unwritable(args.out)
    if problem:
        parser.error(problem)
    log = (lambda *a: None) if args.quiet else print
    started = time.perf_counter()
    if args.command == "report":
        records = [r for r in (cached_record(args.out, c.run_id) for c in configs) if r is not None]
        log(f"{len(records)} of {len(configs)} runs of this sweep are cached under {args.out}")
    else:
        execution = plan_execution(args.workers, args.device, args.plugin, progress=sys.stderr.isatty())
        execution = dataclasses.replace(execution, save_models=args.save_models or args.preset == "paper")
        records = run_sweep(configs, args.out, execution, log=log)
    sweep_args = [a for a in argv if a not in ("run", "report", "--quiet", "--save-models")]
    summary = write_outputs(args.out, records, command=" ".join(["python run_suite.py", *sweep_args]),
                            preset=args.preset, log=log)
    print(summary)
    log(f"done in {time.perf_counter() - started:.1f}s; tables in {args.out / 'tables'}")
    return 0


def _options(args: argparse.Namespace) -> dict[str, object]:
    """--option KEY=VALUE pairs, with --corpus as sugar for corpus=…"""
    options = dict(args.option)
    if args.corpus is not None:
        options["corpus"] = args.corpus
    return options


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


def listing(tasks) -> str:
    lines = ["Tasks:"]
    lines += [f"  {name:<18} [{t.objective}] {t.description}" for name, t in sorted(tasks.items())]
    lines.append("Architectures:")
    lines += [f"  {name:<18} {a.description}" for name, a in sorted(ARCHITECTURES.items())]
    lines.append("Presets:")
    lines += [f"  {name:<18} {p.description}" for name, p in PRESETS.items()]
    return "\n".join(lines)
