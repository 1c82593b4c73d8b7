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

from .config import ConfigError, replace
from .models import ARCHITECTURES
from .report import write_outputs
from .results import cached_record
from .runner import import_plugins, plan_execution, run_sweep
from .sweep import PRESETS, Overrides, expand
from .tasks import check_run_config, get_task, load_builtin_tasks

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
    p.add_argument("command", nargs="?", default="run", choices=["run", "report"],
                   help="'run' (default) trains what is not cached, then writes tables, plots and REPORT.md; "
                        "'report' rebuilds them from the cached runs only")
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
    p.add_argument("--backend", default="local", choices=["local", "ray"],
                   help="where runs execute: local worker processes (default) or tasks on a Ray cluster "
                        "(pip install -e '.[ray]')")
    p.add_argument("--address", help="Ray cluster to join: 'auto' (the one started here with `ray start`) or "
                                     "ray://host:port; without it --backend ray starts a local cluster")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="language-model tasks: bf16 autocast for "
                   "forward and loss (weights stay fp32; default fp32)")
    p.add_argument("--softmax", choices=["full", "adaptive"], help="output layer of recurrent language models: "
                   "full (default) or adaptive (for large word vocabularies, e.g. WikiText)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first, so it can register architectures or tasks (repeatable)")
    p.add_argument("--list", action="store_true", help="list tasks, architectures and presets, then exit")
    p.add_argument("--dry-run", action="store_true", help="print the runs the sweep would make, then exit")
    p.add_argument("--quiet", action="store_true", help="print only errors and the final table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
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
    if args.address and args.backend != "ray":
        parser.error("--address needs --backend ray")
    if args.backend == "ray" and args.device.startswith("cuda:"):
        parser.error(f"with --backend ray use --device cuda, not {args.device}: Ray gives each run a GPU of its own")
    over = Overrides(tasks=args.tasks, archs=args.archs, layers=args.layers, hidden=args.hidden,
                     seeds=args.seeds, steps=args.steps, skip=args.skip,
                     bidirectional=args.bidirectional, device=args.device, options=_options(args))
    notices: list[str] = []
    try:
        configs = expand(PRESETS[args.preset], over, notices)
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        configs = with_output_choices(configs, args.softmax, args.precision)
    except ConfigError as exc:
        parser.error(str(exc))
    for notice in notices:
        print(notice, file=sys.stderr)
    if args.dry_run:
        for cfg in configs:
            print(f"{cfg.run_id}  {cfg.task:<14} {cfg.model.label:<14} seed {cfg.seed}  {cfg.options}")
        return 0
    if args.backend == "ray" and args.command == "run":
        from .ray_backend import connect
        problem = connect(args.address, args.plugin)  # before anything is written: a bad address stops here
        if problem:
            parser.error(problem)
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
        execution = dataclasses.replace(execution, backend=args.backend, address=args.address)
        records = run_sweep(configs, args.out, execution, log=log)
    sweep_args = [a for a in (sys.argv[1:] if argv is None else argv) if a not in ("run", "report", "--quiet")]
    summary = write_outputs(args.out, records, command=" ".join(["python run_suite.py", *sweep_args]),
                            preset=args.preset, log=log)
    print(summary)
    log(f"done in {time.perf_counter() - started:.1f}s; tables in {args.out / 'tables'}")
    return 0


def with_output_choices(configs, softmax: str | None, precision: str | None):
    """--softmax for recurrent language models and --precision for language-model tasks, re-validated."""
    from .models import ARCHITECTURES

    out = []
    for cfg in configs:
        if (softmax or precision) and get_task(cfg.task).objective == "lm":
            adaptive_fits = softmax and ARCHITECTURES[cfg.model.arch].recurrent and not cfg.model.tie_weights
            model = replace(cfg.model, softmax=softmax if adaptive_fits else None)
            cfg = dataclasses.replace(cfg, model=model, train=replace(cfg.train, precision=precision))
            check_run_config(cfg)
        out.append(cfg)
    return out


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
