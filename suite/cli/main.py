"""Command line of run_suite.py: parse, validate everything up front (exit 2), run, write tables."""
from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from suite.cli.args import DEFAULT_OUT, until_the_reader_goes, OneLineParser, add_selection, reproduction_command, selection, split_command, unwritable
from suite.core.config import ConfigError, RunConfig, replace
from suite.models.zoo import ARCHITECTURES
from suite.run.identity import BUILTIN_ARCHITECTURES, PluginError, identify, import_plugins
from suite.run import preflight
from suite.run.preflight import check_fits_in_memory
from suite.run import seed_blocks
from suite.run.records import FINISHED, finished_records_of, runs_dir
from suite.run.seed_blocks import EXPLORATORY_BELOW
from suite.run.sweep import PRESETS, expand
from suite.task import all_tasks, check_run_config

if TYPE_CHECKING:
    from suite.run.runner import Execution

# Imported where a command needs them, not here: the judging stack (suite.judge: pandas, scipy, statsmodels,
# matplotlib) by report, preregister and run once trained, the runner (worker pools) by planning; so --help,
# --list and refusals of bad input pay for neither (tests/test_layers.py checks that importing this module
# loads no judging).

EXIT_FAILED_RUNS = 1


COMMANDS = {
    "run": "train what is not cached, then write tables, plots and REPORT.md (the default command)",
    "report": "rebuild the tables, plots and REPORT.md from the cached runs only; nothing is trained",
    "preregister": "from a finished pilot on exploratory seeds (--preset standard), write "
                   "preregistration/confirm.json: each claim's rule hash and the confirmatory seeds its power needs",
    "eval": "score saved models and external LMs on test sets, with no training (run_suite.py eval --help)",
}
DEFAULT_COMMAND = "run"
NO_RESULT_FLAGS = ("quiet", "save_models", "list", "dry_run")  # change nothing in the results


def add_run_options(p: argparse.ArgumentParser, preset: str = "quick") -> None:
    """The flags of the sweep commands (run, report, preregister): which runs, where, and how they execute."""
    p.add_argument("--preset", default=preset, help=f"sweep preset: {', '.join(PRESETS)} (default: {preset})")
    add_selection(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder for runs/, tables/, plots/ and REPORT.md (default: {DEFAULT_OUT})")
    p.add_argument("--workers", type=int, help="parallel worker processes (default: one per core on CPU, "
                                               "1 on CUDA); threads per worker = cores / workers")
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
    p.add_argument("--save-models", action="store_true",
                   help="keep each finished run's weights, vocabulary and config under OUT/runs (on by "
                        "default in the paper preset), so `eval` can score it later without retraining")
    p.add_argument("--list", action="store_true", help="list tasks, architectures and presets, then exit")
    p.add_argument("--dry-run", action="store_true", help="print the runs the sweep would make, then exit")
    p.add_argument("--quiet", action="store_true",
                   help="print only errors (each failed run in one line) and the final table")


def build_parsers(budget: bool = True) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser with one sub-parser per command. `eval` keeps its own flags (suite/cli/eval.py)
    and gets the arguments as they were given. `budget=False` leaves out preregister's budget flags (their
    default comes from the judge): main adds them once the command is known to be preregister."""
    top = OneLineParser(prog="run_suite.py", description=_description())
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    parsers = {}
    for name, text in COMMANDS.items():
        if name == "eval":
            sub.add_parser(name, help=text, add_help=False)
            continue
        parsers[name] = sub.add_parser(name, help=text, description=_description())
        add_run_options(parsers[name], preset="standard" if name == "preregister" else "quick")
    if budget:
        add_budget_options(parsers["preregister"])
    return top, parsers


def add_budget_options(p: argparse.ArgumentParser) -> None:
    from suite.judge.preregistration import BUDGET_MINUTES

    p.add_argument("--budget-minutes", type=float, default=BUDGET_MINUTES,
                   help=f"wall-clock minutes the confirmatory run may take here (default {BUDGET_MINUTES})")
    p.add_argument("--pilot-slowdown", type=float, default=1.0,
                   help="how many times slower the pilot ran than the confirmatory run will (a pilot run on a "
                        "busy machine: rerun one of its configs on the idle one and divide); default 1")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--amend", action="store_true",
                     help="add only the claims and tasks the existing pre-registration lacks (a claim or task "
                          "built after it), each stamped with today's time; nothing registered before changes")
    how.add_argument("--redesign", metavar="TASKS", default="",
                     help="comma-separated registered tasks whose design (data, probes) changed: register them "
                          "and the claims on them afresh from this pilot, on a seed block not used before; what "
                          "they replace stays in the file as superseded")


def build_parser() -> argparse.ArgumentParser:
    return build_parsers()[0]


def _description() -> str:
    head = ("Train recurrent language models and probe long-distance behaviour. Results are cached per run; "
            "rerunning a command reuses finished runs. ")
    commands = "; ".join(f"{name}: {text}" for name, text in COMMANDS.items())
    return head + f"Commands, anywhere among the arguments (default {DEFAULT_COMMAND}): {commands}."


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 every run finished (ok or diverged: a divergence is a result), 1 a run failed (the
    tables still hold the others), 2 bad input (nothing run or written), 130/143 interrupted, 141 the reader
    of the output stopped early (`--dry-run | head`), which is no error worth a traceback."""
    return until_the_reader_goes(run_command, argv)


def run_command(argv: Sequence[str] | None = None) -> int:
    from suite.cli.eval import build_parser as eval_parser, main as eval_main  # eval builds on args.py

    argv = list(sys.argv[1:] if argv is None else argv)
    top, parsers = build_parsers(budget=False)
    command, rest = split_command(argv, list(COMMANDS), [parsers["run"], eval_parser()], DEFAULT_COMMAND)
    if command == "eval":
        return eval_main(rest)
    if command == "preregister":
        add_budget_options(parsers["preregister"])
    args = top.parse_args([command, *rest])
    parser = parsers[command]
    try:
        import_plugins(args.plugin)
    except PluginError as exc:
        parser.error(str(exc))
    if args.list:  # here only when the catalogue could not answer (a plugin, changed sources)
        from suite.cli.catalogue import build, listing

        print(listing(build()))
        return 0
    if command in ("report", "preregister"):
        check_readable_folder(args, command, parser)  # before planning: one line, not notices and then it
    try:
        configs, execution = plan(args)
    except ConfigError as exc:
        parser.error(str(exc))
    except OSError as exc:  # e.g. a corpus folder the user may not read, met while validating the sweep
        parser.error(unreadable(exc))
    if args.dry_run:
        for cfg in configs:
            print(f"{cfg.run_id}  {cfg.task:<14} {cfg.model.label:<14} seed {cfg.seed}  {cfg.options}")
        return 0
    # a `run` command in every case (the pilot a pre-registration names is run, too): defaults are run's
    reproduce = reproduction_command(args, parsers["run"], NO_RESULT_FLAGS)
    if command == "preregister":
        return preregister(args, configs, parser, reproduce)
    if command == "report":
        records = finished_of_sweep(args, configs, parser)
    if args.backend == "ray" and command == "run":
        from suite.run.ray_backend import connect
        problem = connect(args.address, args.plugin)  # before anything is written: a bad address stops here
        if problem:
            parser.error(problem)
    problem = unwritable(args.out)
    if problem:
        parser.error(problem)
    log = (lambda *a: None) if args.quiet else print
    started = time.perf_counter()
    if command == "run":
        from suite.run.runner import run_sweep

        with signals_as_exit():
            records = run_sweep(configs, args.out, execution, log=log)
    else:
        log(f"{len(records)} of {len(configs)} runs of this sweep are cached under {args.out}")
    finished = [r for r in records if r["status"] in FINISHED]
    from suite.judge.report import write_outputs  # the judging stack, once there is something to judge

    summary = write_outputs(args.out, finished, command=reproduce, preset=args.preset, log=log)
    print(summary)
    log(f"done in {time.perf_counter() - started:.1f}s; tables in {args.out / 'tables'}")
    return _exit_code(records, finished, command)


def check_readable_folder(args: argparse.Namespace, command: str, parser) -> None:
    """The commands that only read (report, preregister) need a folder with runs; nothing is created."""
    if command == "preregister" and args.preset == "confirm":
        parser.error("preregister plans the confirm preset from a pilot: give the pilot's preset "
                     "(default: standard), not confirm")
    if not runs_dir(args.out).is_dir():
        parser.error(f"no runs under '{args.out}' (no {runs_dir(args.out)} folder): run the sweep first, "
                     f"e.g. python run_suite.py --preset {args.preset} --out {args.out}")


def finished_of_sweep(args: argparse.Namespace, configs: list[RunConfig], parser, any_code: bool = False
                      ) -> list[dict]:
    """The finished records of this sweep under --out, for the commands that only read (report,
    preregister); a folder with none of them is refused in one line and left as it was."""
    other_code: list[str] = []
    records = finished_records_of(args.out, configs, other_code, any_code)
    for line in other_code:
        print(f"run_suite.py: {line}", file=sys.stderr)
    if not records:
        parser.error(f"none of the {len(configs)} runs of this sweep is finished under '{args.out}' (with the "
                     "current code); run the sweep first, with the same flags")
    return records


def preregister(args: argparse.Namespace, configs: list[RunConfig], parser, command: str) -> int:
    """Write the pre-registration from a finished pilot on exploratory seeds and say what it registered."""
    records = finished_of_sweep(args, configs, parser, any_code=True)  # code versions: in the registration
    confirmatory = sorted({r["config"]["seed"] for r in records if r["config"]["seed"] >= EXPLORATORY_BELOW})
    if confirmatory:
        parser.error(f"the pilot under '{args.out}' has runs on non-exploratory seeds "
                     f"({', '.join(map(str, confirmatory[:5]))}); a pilot uses seeds below {EXPLORATORY_BELOW} only")
    path = seed_blocks.registration_path()
    if args.budget_minutes <= 0 or args.pilot_slowdown <= 0:
        parser.error("--budget-minutes and --pilot-slowdown must be positive")
    from suite.judge.report import write_preregistration

    redesign = tuple(t for t in args.redesign.split(",") if t)
    try:
        registration = write_preregistration(records, path, command, args.budget_minutes, args.pilot_slowdown,
                                             amend=args.amend, redesign=redesign)
    except ValueError as exc:
        parser.error(str(exc))
    added = registration["amendments"][-1] if args.amend or redesign else None
    done = "redesigned tasks in" if redesign else "amended" if added else "wrote"
    print(f"{done} {path} from {len(records)} pilot runs")
    for task, entry in registration["tasks"].items():
        if added is None or task in added["tasks"]:
            print(f"  {task:<18} {entry['seeds']} confirmatory seeds from {entry['first_seed']}")
    for claim in registration["claims"]:
        if added is not None and claim["id"] not in added["claims"]:
            continue
        for part in claim["parts"]:
            needed = part["seeds_needed"] if part["feasible"] else f"more than {registration['cap']} (infeasible)"
            print(f"  {claim['id']} / {part['name']}: {needed} seeds needed")
    return 0


def unreadable(exc: OSError) -> str:
    where = f" '{exc.filename}'" if exc.filename else ""
    return (f"cannot read{where}: {exc.strerror or exc}; check the path and that you may read it "
            "(folders also need execute permission)")


def plan(args: argparse.Namespace) -> tuple[list[RunConfig], Execution]:
    """The sweep's configs, each with its identity, and how they will execute; ConfigError when any
    part of the request cannot run."""
    if args.preset not in PRESETS:
        raise ConfigError(f"unknown preset '{args.preset}'; valid: {', '.join(PRESETS)}")
    if args.address and args.backend != "ray":
        raise ConfigError("--address needs --backend ray")
    if args.backend == "ray" and args.device.startswith("cuda:"):
        raise ConfigError(f"with --backend ray use --device cuda, not {args.device}: Ray gives each run a GPU "
                          "of its own")
    from suite.run.runner import plan_execution  # worker pools: imported once a sweep is planned

    execution = plan_execution(args.workers, args.device, args.plugin, progress=sys.stderr.isatty())
    if args.save_models and args.backend == "ray":
        raise ConfigError("--save-models does not work with --backend ray yet: the weights would stay on "
                          "the workers' disks; save them with the local backend")
    execution = dataclasses.replace(execution, backend=args.backend, address=args.address,
                                    save_models=args.save_models or (args.preset == "paper" and args.backend != "ray"))
    over = selection(args)
    notices: list[str] = []
    reads_only = args.command in ("report", "preregister")  # records only: no corpus or data checks
    configs = with_output_choices(expand(PRESETS[args.preset], over, notices, resources=not reads_only),
                                  args.softmax, args.precision)
    if any(cfg.train.precision == "bf16" for cfg in configs):
        preflight.check_precision_supported("bf16", args.device)
    check_memory(configs, execution.workers)
    for notice in notices:
        print(notice, file=sys.stderr)
    return [identify(cfg, execution.threads) for cfg in configs], execution


def with_output_choices(configs, softmax: str | None, precision: str | None) -> list[RunConfig]:
    """--softmax for recurrent language models and --precision for language-model tasks, re-validated."""
    out = []
    for cfg in configs:
        if (softmax or precision) and all_tasks()[cfg.task].objective == "lm":
            adaptive_fits = softmax and ARCHITECTURES[cfg.model.arch].recurrent and not cfg.model.tie_weights
            model = replace(cfg.model, softmax=softmax if adaptive_fits else None)
            cfg = dataclasses.replace(cfg, model=model, train=replace(cfg.train, precision=precision))
            check_run_config(cfg)
        out.append(cfg)
    return out


# A lower bound on any task's vocabulary: the memory check here needs no data, so it can only refuse a
# model that cannot fit whatever the vocabulary (tasks that know theirs check again with it).
MIN_VOCABULARY = 2


def check_memory(configs, workers: int) -> None:
    """Refuse models whose parameters cannot fit in memory, `workers` runs at a time (each shape once)."""
    seen = set()
    for cfg in configs:
        key = (cfg.model, cfg.task, cfg.train.optimizer, cfg.train.momentum > 0, cfg.device)
        if key not in seen:
            seen.add(key)
            check_fits_in_memory(cfg, all_tasks()[cfg.task].objective, MIN_VOCABULARY, num_outputs=2,
                                 concurrent=min(workers, len(configs)))
            if cfg.model.arch not in BUILTIN_ARCHITECTURES:
                preflight.check_plugin_model(cfg, all_tasks()[cfg.task].objective, num_outputs=2)


def _exit_code(records: list[dict], finished: list[dict], command: str) -> int:
    failures = [r for r in records if r["status"] not in FINISHED]
    for r in failures:
        print(f"run_suite.py: failed run {r['run_id']} ({r['config']['task']}, {r.get('label')}, seed "
              f"{r['config']['seed']}): {r.get('error')}", file=sys.stderr)
    if failures:
        print(f"run_suite.py: {len(failures)} of {len(records)} runs failed; rerunning the command retries "
              "them and reuses the rest", file=sys.stderr)
        return EXIT_FAILED_RUNS
    if not finished:
        print("run_suite.py: no finished runs to report", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return 0


@contextmanager
def signals_as_exit():
    """SIGTERM (and SIGINT) stop the sweep through an exception, so the worker pool is stopped on the way
    out (within seconds) instead of being left behind; finished runs are already on disk."""
    def stop(signum, frame):
        raise SweepInterrupted(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except SweepInterrupted as exc:
        print(f"run_suite.py: interrupted by {signal.Signals(exc.signum).name}; finished runs are kept, "
              "rerun the command to resume", file=sys.stderr)
        sys.exit(128 + exc.signum)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class SweepInterrupted(BaseException):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
