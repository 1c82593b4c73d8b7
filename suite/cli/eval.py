"""`run_suite.py eval`: score saved runs and external models on test sets and probes, with no training.

Runs are selected like a sweep (--preset/--tasks/--archs/--seeds…, the run ids a `run` would make) or
from a folder (--runs DIR: the saved models there, filtered by --tasks/--archs/--seeds; results go to --out,
default DIR). Every run is scored by default, each named by the settings that tell it from its siblings
(learning rate, softmax, …) and marked `chosen` when its task's tuning picked it on validation;
--chosen-only scores only those. Test sets are loaded before anything is scored (a file that is not of its
format: one line, exit 2; a few bad items: set aside, said in one line). A model that cannot be loaded or
scored is reported in one line and recorded in evals/failures.json while the others still score; the exit
code is then 2. When nothing could be scored at all the command wrote nothing: it was bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from suite.run.checkpoints import SavedModel, load_saved_model, saved_run_ids
from suite.cli.args import DEFAULT_OUT, EXIT_BAD_INPUT, OneLineParser, add_selection, selection
from suite.core.config import ConfigError
from suite.evaluate.probes import load_probes
from suite.evaluate.scoring import (OOV_POLICIES, WordLM, check_testsets, evaluate_run_probes, evaluate_task_probes,
                                    evaluate_testset, suite_word_lm, summary_line)
from suite.evaluate.selection import check_out, chosen_ids, distinguishing_labels, filter_saved, strict_seeds
from suite.evaluate.external import BOS_POLICIES, load_hf_model, load_torch_model
from suite.run.identity import PluginError, import_plugins
from suite.run.records import finished_records_of
from suite.run.outputs import write_json_atomic
from suite.run.sweep import PRESETS, expand


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="run_suite.py eval",
                      description="Score saved runs (--save-models) and external language models on "
                                  "minimal-pair test sets and the suite's probes; nothing is trained. "
                                  "Results are cached under OUT/evals by model and test-set content.")
    p.add_argument("--testset", action="append", default=[], metavar="FILE",
                   help="minimal-pair set: BLiMP .jsonl or hf:NAME_OR_FOLDER:CONFIG, Linzen/Gulordava .text+.gold "
                        "or .tab, .csv/.tsv (prefix,correct,wrong or Marvin & Linzen templates) (repeatable)")
    p.add_argument("--oov", choices=OOV_POLICIES,
                   help="unknown words of word-level suite models: 'unk' maps them to <unk> (the default, as "
                        "Gulordava et al.), 'skip' leaves their items unscored; does not apply to other models")
    p.add_argument("--chosen-only", action="store_true",
                   help="score only the runs their task's tuning chose on validation (default: every run, "
                        "the chosen ones marked)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first, so saved models of the architectures it registers load (repeatable)")
    p.add_argument("--probes", action="store_true",
                   help="also score the suite's own probes: each saved run's task probes; for external "
                        "models the agreement task's held-out pairs and the recall task's stories "
                        "(per --seeds, at --preset's size)")
    p.add_argument("--runs", type=Path, metavar="DIR", help="score every saved run under DIR (an --out folder)")
    p.add_argument("--hf-model", action="append", default=[], metavar="NAME_OR_PATH",
                   help="a Hugging Face causal LM (needs the [hf] extra; repeatable)")
    p.add_argument("--bos", default="bos", choices=BOS_POLICIES,
                   help="Hugging Face models: 'bos' starts each item with the BOS token (default), 'none' does not")
    p.add_argument("--torch-model", action="append", default=[], metavar="MODULE:FACTORY",
                   help="your own torch LM: FACTORY() returns suite.evaluate.external.TorchLM (repeatable)")
    p.add_argument("--preset", help=f"select the runs of this preset: {', '.join(PRESETS)} (default: quick); "
                                    "with external models it sizes their --probes, and --seeds seeds them")
    add_selection(p)
    p._option_string_actions["--seeds"].type = strict_seeds  # the same rule as `run`: no empty or negative entry
    p.add_argument("--out", type=Path, help="folder for evals/ and tables/ (default: --runs DIR, else results)")
    p.add_argument("--quiet", action="store_true", help="print only errors and the final table")
    return p


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    out = args.out or args.runs or DEFAULT_OUT
    models_from = args.runs or out  # saved models are read where they were saved
    if not args.testset and not args.probes:
        parser.error("nothing to score: give --testset FILE (repeatable) and/or --probes")
    if args.preset is not None and args.preset not in PRESETS:
        parser.error(f"unknown preset '{args.preset}'; valid: {', '.join(PRESETS)}")
    log = (lambda *a: None) if args.quiet else print
    try:
        import_plugins(args.plugin)
        testsets = check_testsets(args.testset)
        run_ids, records = selected_runs(args, out)
    except (ConfigError, PluginError) as exc:
        parser.error(str(exc))
    if args.oov is not None and not run_ids:
        parser.error(f"--oov {args.oov} applies to the suite's word-level models (they have <unk>), and no saved "
                     "run is selected: --hf-model and --torch-model spell every word their own way; leave --oov out")
    for path, items in testsets.items():
        notice = items.notice(path) if hasattr(items, "notice") else None
        if notice:
            log(notice)
    chosen = chosen_ids(records)
    if args.chosen_only:
        run_ids = [r for r in run_ids if r in chosen]
    loaders: list[tuple[str, Callable[[], tuple[WordLM, SavedModel | None]]]] = [
        *((f"run {r}", lambda r=r: _run_lm(models_from, r, args.device, args.oov)) for r in run_ids),
        *((f"hf {n}", lambda n=n: (load_hf_model(n, args.bos, args.device), None)) for n in args.hf_model),
        *((f"torch {s}", lambda s=s: (load_torch_model(s, args.device), None)) for s in args.torch_model)]
    if not loaders:
        parser.error("no model selected: the selection matched no saved run; "
                     "give --runs DIR, --hf-model or --torch-model")
    problem = check_out(out)
    if problem:
        parser.error(problem)
    labels = distinguishing_labels(records, chosen)
    failures, scored = [], 0
    for name, load in loaders:
        try:
            lm, saved = load()
            for line in score_model(lm, saved, testsets, args, out):
                log(f"{line}  [{labels[lm.key]}]" if labels.get(lm.key) else line)
            scored += 1
        except Exception as exc:  # one failing model is recorded; the others still score
            message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            print(f"run_suite.py eval: {name}: {message}", file=sys.stderr)
            failures.append({"model": name, "error": message})
    if not scored:  # every model was refused: bad input, so nothing is written
        return EXIT_BAD_INPUT
    from suite.judge.eval_tables import eval_tables  # the judging stack only once something was scored
    from suite.judge.tables import write_table

    write_json_atomic(out / "evals" / "failures.json", failures)
    for table_name, table in eval_tables(out, labels=labels, chosen=chosen).items():
        write_table(table, table_name, out)
        log(f"wrote {out / 'tables' / table_name}.csv")
    return EXIT_BAD_INPUT if failures else 0


def selected_runs(args: argparse.Namespace, out: Path) -> tuple[list[str], list[dict]]:
    """Run ids to score and the records of their runs (for labels and the tuning's choice): every saved run
    under --runs (filtered by --tasks/--archs/--seeds), else the runs of the sweep the flags describe. With
    external models the sweep flags size the probes instead (--preset, --seeds): saved runs then come from
    --runs only."""
    if args.runs is not None:
        if not args.runs.is_dir():
            raise ConfigError(f"--runs {args.runs}: not a folder")
        return filter_saved(args.runs, saved_run_ids(args.runs), args)
    if args.hf_model or args.torch_model:
        return [], []
    over = selection(args)
    configs = expand(PRESETS[args.preset or "quick"], over, [])
    records = finished_records_of(out, configs)
    return [r["run_id"] for r in records], records


def _run_lm(out: Path, run_id: str, device: str, oov: str | None = None) -> tuple[WordLM, SavedModel]:
    saved = load_saved_model(out, run_id, device)
    return suite_word_lm(saved, device, oov), saved


def score_model(lm: WordLM, saved: SavedModel | None, testsets: dict, args: argparse.Namespace,
                out: Path) -> list[str]:
    """Score one model on every test set, and on the probes when asked; one summary line each."""
    lines = []
    for path, items in testsets.items():
        lines.append(summary_line(*evaluate_testset(lm, path, out, items)))
    if args.probes:
        if saved is not None:
            lines.append(summary_line(*evaluate_run_probes(saved, out, args.device)))
        else:
            size = PRESETS[args.preset or "quick"].size
            for seed in args.seeds or (0,):
                for provider in load_probes().values():  # each task package's own (tasks/<name>/probes.py)
                    lines.append(summary_line(*evaluate_task_probes(lm, provider, seed, size, out)))
    return lines
