"""Command-line pieces shared by `run_suite.py` and `run_suite.py eval`: a parser whose errors are one
line and exit 2, the list and KEY=VALUE argument types, and the output-folder check."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

EXIT_BAD_INPUT = 2
EXIT_CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE: what a shell reports for a process its reader stopped early
DEFAULT_OUT = Path("results/latest")  # gitignored: the committed reference report lives in results/reference/


def until_the_reader_goes(command: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """`command(argv)`'s exit code, or EXIT_CLOSED_PIPE when the reader of the output stopped early
    (`--dry-run | head`): no error worth a traceback."""
    try:
        code = command(argv)
        sys.stdout.flush()  # a reader gone shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # Python's own advice: no second error flushing stdout
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLOSED_PIPE


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (what is wrong, what is valid) and exit 2.
    Abbreviated flags are off: `--out` must never be taken for a prefix of another flag, and the sub-command
    is found among the arguments by the flags' exact names (see split_command)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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


def split_command(argv: Sequence[str], commands: Sequence[str], parsers: Sequence[argparse.ArgumentParser],
                  default: str) -> tuple[str, list[str]]:
    """(the sub-command, the other arguments) wherever the sub-command stands: the first argument that is
    neither a flag nor a flag's value, read with the parsers' own flags and their arities (so `--out run`
    is a folder named run, not the run command). None given: `default`. A first such argument that is no
    sub-command is refused in one line (exit 2)."""
    takes_value = {}
    for parser in parsers:
        for action in parser._actions:  # argparse keeps no public table of a flag's arity
            for flag in action.option_strings:
                takes_value[flag] = action.nargs != 0
    argv = list(argv)
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            break
        if token.startswith("-") and len(token) > 1:
            i += 2 if "=" not in token and takes_value.get(token, False) else 1
            continue
        if token not in commands:
            parsers[0].error(f"unknown command '{token}'; valid: {', '.join(commands)} (default: {default})")
        return token, argv[:i] + argv[i + 1:]
    return default, argv


def reproduction_command(args: argparse.Namespace, parser: argparse.ArgumentParser, leave_out: Sequence[str],
                         head: str = "python run_suite.py") -> str:
    """The command that reproduces these results, written from the parsed arguments: every flag whose value
    differs from its default, in the parser's order, quoted for a POSIX shell; `leave_out` names the
    destinations that change no result (output verbosity, listing)."""
    words = [head]
    for action in parser._actions:
        if not action.option_strings or action.dest in leave_out or action.dest == "help":
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default or value is None:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:
            words.append(flag)
        elif isinstance(value, list):  # repeatable flags
            for item in value:
                words += [flag, _option_word(item) if action.dest == "option" else _word(item)]
        else:
            words += [flag, _word(value)]
    return " ".join(words)


def _word(value) -> str:
    if isinstance(value, tuple):  # a comma-separated list
        value = ",".join(str(v) for v in value)
    return shlex.quote(str(value))


def _option_word(item: tuple[str, object]) -> str:
    """A KEY=VALUE option as it was parsed back to its text (JSON where it was JSON)."""
    key, value = item
    return shlex.quote(f"{key}={value if isinstance(value, str) else json.dumps(value)}")
