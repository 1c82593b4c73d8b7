"""Shared helpers of the judging side: read run records, group them, attach the right interval.

Report modules receive plain run records (the JSON the runner wrote). These helpers are the only place
that knows the record layout, so a table or claim reads `metric(r, "test_ppl")` and `label(r)` instead of
digging through `r["config"]["model"]`.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Hashable, Iterable, Sequence

from suite.core.families import BUILTIN_RECURRENT
from suite.run.records import FINISHED  # noqa: F401  (re-exported for report modules)
from suite.judge.stats import Interval, geometric_mean_ci, mean_ci, pooled_rate_ci
from suite.judge.task_report import report_of
from suite.task import all_tasks


# --------------------------------------------------------------------------- records


def unique_runs(records: Iterable[dict]) -> list[dict]:
    """One record per run id (the last one wins): a config listed twice in a sweep is one run."""
    return list({r["run_id"]: r for r in records}.values())


def literature_runs(records: Iterable[dict]) -> list[dict]:
    """Records of the built-in zoo (suite.core.families and the Transformer reference) made without a plugin
    replacing the architecture: the only ones a claim from the literature is judged on."""
    builtin = (*BUILTIN_RECURRENT, "transformer")
    return [r for r in records
            if arch(r) in builtin and not (r["config"].get("identity") or {}).get("plugins")]


def ok_runs(records: Iterable[dict], *tasks: str) -> list[dict]:
    """Records that finished without diverging, of the given tasks (all tasks when none given)."""
    return [r for r in unique_runs(records)
            if r.get("status") == "ok" and (not tasks or r["config"]["task"] in tasks)]


def task_of(record: dict) -> str:
    return record["config"]["task"]


def label(record: dict) -> str:
    """The model's short name in tables and plots, e.g. 'lstm×2+res'."""
    return record.get("label") or record["config"]["model"]["arch"]


def arch(record: dict) -> str:
    return record["config"]["model"]["arch"]


def model_field(record: dict, name: str) -> Any:
    return record["config"]["model"].get(name)


def train_field(record: dict, name: str) -> Any:
    return record["config"]["train"].get(name)


def option(record: dict, name: str, default: Any = None) -> Any:
    return record["config"].get("options", {}).get(name, default)


def seed(record: dict) -> int:
    return record["config"]["seed"]


def metric(record: dict, name: str, default: float = math.nan) -> Any:
    value = (record.get("metrics") or {}).get(name, default)
    return default if value is None else value


# --------------------------------------------------------------------------- grouping


def group_by(records: Iterable[dict], key: Callable[[dict], Hashable]) -> dict[Hashable, list[dict]]:
    """Records grouped by key(record), groups in sorted key order."""
    groups: dict[Hashable, list[dict]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: _sortable(kv[0])))


def by_label(records: Iterable[dict]) -> dict[str, list[dict]]:
    return group_by(records, label)  # type: ignore[return-value]


def _sortable(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(_sortable(k) for k in key)
    return (0, key, "") if isinstance(key, (int, float)) and not isinstance(key, bool) else (1, 0, str(key))


def tuned_runs(records: Iterable[dict], fields: Sequence[str], score: Callable[[dict], Any]) -> list[dict]:
    """Per run configuration apart from its tuning point (`fields`, dotted: "train.lr", "model.init"), the
    record with the best validation `score` (the run id breaks ties): a tuning grid is judged by the point
    chosen for each seed, never by its average. No fields: every record."""
    records = list(records)
    if not fields:
        return records

    def untuned(record: dict) -> str:
        config = {k: dict(v) if isinstance(v, dict) else v for k, v in record["config"].items() if k != "identity"}
        for name in fields:
            section, _, key = name.partition(".")
            config.get(section, {}).pop(key, None)
        return json.dumps(config, sort_keys=True, default=str)

    return [max(group, key=lambda r: (score(r), r["run_id"])) for group in group_by(records, untuned).values()]


def chosen_runs(records: Iterable[dict]) -> list[dict]:
    """Every record of a task without a tuning grid, and the chosen point per seed of each task with one
    (`Task.tuning`, chosen by its report's `validation_score`)."""
    tasks, out = all_tasks(), []
    for name, group in group_by(records, task_of).items():
        task = tasks.get(name)
        out += tuned_runs(group, task.tuning, report_of(name).validation_score) if task else group
    return out


# --------------------------------------------------------------------------- intervals


def over_seeds(values: Sequence[float], name: str, log_scale: Sequence[str] = ()) -> Interval:
    """The interval over seeds of a continuous metric (undefined with one seed): a perplexity (any name with
    a `ppl` part: exp of a mean loss) and each positive quantity named in `log_scale` get the geometric mean
    with a t-interval on the log scale, so never below 0; anything else the mean and a t-interval."""
    if "ppl" in name.split("_") or name in log_scale:
        return geometric_mean_ci(values)
    return mean_ci(values)


def seed_interval(runs: Sequence[dict], name: str) -> Interval:
    """A continuous metric of these runs over their seeds (see `over_seeds`)."""
    return over_seeds([metric(r, name) for r in runs], name)


def rate_interval(runs: Sequence[dict], counts: Callable[[dict], tuple[int, int]]) -> Interval:
    """A proportion from per-run (successes, trials): Wilson over items for one seed, pooled over seeds
    with an overdispersion correction for several (never a t-interval that leaves [0, 1])."""
    pairs = [counts(r) for r in runs]
    return pooled_rate_ci([k for k, _ in pairs], [n for _, n in pairs])


def interval_label(interval: Interval) -> str:
    """How an interval was computed, for a table's `ci` column."""
    return {"t": f"t over {interval.n} seeds", "t on log": f"t on the log scale over {interval.n} seeds",
            "wilson": "Wilson over items (1 seed)",
            "pooled wilson": f"Wilson pooled over {interval.n} seeds",
            "welch": f"Welch over seeds (n ≥ {interval.n})"}.get(interval.method, "one value")


def put(row: dict, name: str, interval: Interval) -> None:
    """Add `name`, `name_low`, `name_high` columns (the Markdown writer folds them into 'm [lo, hi]')."""
    row[name], row[f"{name}_low"], row[f"{name}_high"] = interval.mean, interval.low, interval.high
