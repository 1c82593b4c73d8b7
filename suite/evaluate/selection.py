"""Which saved runs `eval` scores and how it names them: --runs DIR filtered by --tasks/--archs/--seeds, the
runs a task's tuning chose on validation, labels from the settings that tell sibling runs apart, the seed rule
shared with `run`, and an output-folder check that creates nothing."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Sequence

from suite.core.config import ConfigError, RunConfig
from suite.run.checkpoints import MANIFEST, model_dir
from suite.run.records import cached_record

NOT_WITH_RUNS = ("layers", "hidden", "steps", "skip", "bidirectional", "corpus")  # sweep flags that pick configs


def strict_seeds(text: str) -> tuple[int, ...]:
    """Comma-separated non-negative seeds; an empty entry (",," or "1,,2") or a negative one is refused."""
    parts = text.split(",")
    if any(not p.strip() for p in parts):
        raise argparse.ArgumentTypeError(f"--seeds '{text}' has an empty entry; give non-negative integers, e.g. 0,1,2")
    try:
        seeds = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"--seeds '{text}': seeds are non-negative integers, e.g. 0,1,2")
    return seeds


def check_out(out: Path) -> str | None:
    """Why `out` cannot take results, or None; unlike the run command's check it creates nothing, so a command
    that scores nothing leaves no empty folder behind."""
    if out.exists() and not out.is_dir():
        return f"output folder '{out}' is a file, not a folder"
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write to output folder '{out}': '{existing}' is not writable"
    return None


def _saved_config(runs_dir: Path, run_id: str) -> dict | None:
    try:
        return json.loads((model_dir(runs_dir, run_id) / MANIFEST).read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged model folder: its loader says why in one line when it is scored


def filter_saved(runs_dir: Path, run_ids: Sequence[str], args: argparse.Namespace) -> tuple[list[str], list[dict]]:
    """The saved runs under --runs that match --tasks/--archs/--seeds, and their records (the run's record,
    else its saved config). Flags that pick sweep configs do not apply to a folder of saved runs: refused."""
    from suite.task import all_tasks

    given = [f"--{name}" for name in NOT_WITH_RUNS if getattr(args, name, None) not in (None, False)]
    if getattr(args, "option", None):
        given.append("--option")
    if given:
        raise ConfigError(f"--runs DIR scores the runs saved there; {', '.join(given)} does not apply "
                          "(filter them with --tasks, --archs, --seeds)")
    tasks = all_tasks()
    unknown = [t for t in args.tasks or () if t not in tasks]
    if unknown:
        raise ConfigError(f"unknown task '{unknown[0]}'; valid: {', '.join(sorted(tasks))}")
    ids, records = [], []
    for run_id in run_ids:
        record = cached_record(runs_dir, run_id, warn=lambda _: None)
        config = (record or {}).get("config") or _saved_config(runs_dir, run_id)
        if config is not None and not _matches(config, args):
            continue
        ids.append(run_id)
        if config is not None:
            records.append(record or {"run_id": run_id, "config": config, "status": "ok", "seed": config.get("seed"),
                                      "label": None, "metrics": {}})
    return ids, records


def _matches(config: dict, args: argparse.Namespace) -> bool:
    return ((not args.tasks or config.get("task") in args.tasks) and
            (not args.archs or (config.get("model") or {}).get("arch") in args.archs) and
            (args.seeds is None or config.get("seed") in args.seeds))


def chosen_ids(records: Sequence[dict]) -> set[str]:
    """Run ids the task's tuning chose on validation (every run of a task without a tuning grid)."""
    from suite.judge.analysis import chosen_runs

    finished = [r for r in records if r.get("status") == "ok" and r.get("metrics")]
    return {r["run_id"] for r in chosen_runs(finished)} if finished else set()


def run_settings(config: dict) -> dict[str, Any]:
    """The settings that can tell two runs of one model and seed apart: the tuning grid's learning rate, the
    optimizer, the softmax, the size, the tokenizer."""
    train, model, options = (config.get(k) or {} for k in ("train", "model", "options"))
    found = {"lr": train.get("lr"), "optimizer": train.get("optimizer"), "softmax": model.get("softmax"),
             "hidden": model.get("hidden"), "layers": model.get("layers"), "steps": train.get("steps"),
             "epochs": train.get("epochs"), "tokenizer": options.get("tokenizer"),
             "vocab_size": options.get("vocab_size")}
    return {k: v for k, v in found.items() if v is not None}


def distinguishing_labels(records: Sequence[dict], chosen: set[str]) -> dict[str, str]:
    """{run id: "lr 20, chosen"} for runs that share a task, model and seed: the settings whose values differ
    among them, and whether validation chose it. Runs alone in their group get no label."""
    from suite.task import all_tasks

    tuned = {name for name, task in all_tasks().items() if task.tuning}  # "chosen" means something only there
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        config = r.get("config") or {}
        name = r.get("label") or RunConfig.from_dict(config).model.label if config else r.get("label")
        groups.setdefault((config.get("task"), name, config.get("seed")), []).append(r)
    labels = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        settings = {r["run_id"]: run_settings(r.get("config") or {}) for r in group}
        keys = sorted({k for s in settings.values() for k in s
                       if len({json.dumps(t.get(k)) for t in settings.values()}) > 1})
        for r in group:
            parts = [f"{k} {_show(settings[r['run_id']].get(k))}" for k in keys]
            if (r.get("config") or {}).get("task") in tuned:
                parts.append("chosen on validation" if r["run_id"] in chosen else "not chosen")
            labels[r["run_id"]] = ", ".join(parts)
    return labels


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
