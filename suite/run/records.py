"""Run records on disk: one atomic JSON per run, named by its config hash (the cache)."""
from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


from suite.core.config import RunConfig
from suite.task import all_tasks
from suite.run.outputs import write_json_atomic, write_text_atomic  # noqa: F401

FINISHED = ("ok", "diverged")  # statuses that are results; "failed" runs are retried
STATUSES = (*FINISHED, "failed")


def runs_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "runs"


def record_path(out_dir: Path, run_id: str) -> Path:
    return runs_dir(out_dir) / f"{run_id}.json"


class CorruptRecord(Exception):
    """A run file that is unreadable, not JSON, or not a well-formed run record (the message says which)."""


def read_record(path: Path) -> dict | None:
    """The run record at `path`, None when there is none; raises CorruptRecord for anything else."""
    path = Path(path)
    try:
        kind = path.stat().st_mode
        if not stat.S_ISREG(kind):  # a folder, a pipe (reading it would block), a device…: never a record
            raise CorruptRecord(f"not a file (a {'folder' if stat.S_ISDIR(kind) else 'special file'})")
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptRecord(f"unreadable: {exc.strerror or exc}") from None
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptRecord("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CorruptRecord(f"not JSON ({exc.msg}, line {exc.lineno})") from None
    problem = malformation(record, path.stem)
    if problem:
        raise CorruptRecord(problem)
    return record


def malformation(record: Any, run_id: str) -> str | None:
    """Why `record` is not the well-formed record of run `run_id`, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a run record"
    missing = [key for key in ("run_id", "status", "config") if key not in record]
    if missing:
        return f"not a run record (no {', '.join(missing)})"
    if record["status"] not in STATUSES:
        return f"unknown status {record['status']!r}; valid: {', '.join(STATUSES)}"
    if record["run_id"] != run_id:
        return f"holds run {record['run_id']!r}, not {run_id!r}"
    try:
        config_id = RunConfig.from_dict(record["config"]).run_id
    except (TypeError, KeyError, ValueError, AttributeError):
        return "its config is not a run config"
    if config_id != run_id:
        return "its config does not hash to its run id"
    if record["status"] in FINISHED and not isinstance(record.get("metrics"), dict):
        return f"a {record['status']} run without metrics"
    if record["status"] == "ok":
        return missing_metrics(record)
    return None


def missing_metrics(record: dict) -> str | None:
    """Why an ok record's metrics cannot be results, or None: an ok run measured something (no empty
    metrics), and each metric its task declares numeric (`Task.numeric_metrics`) is, where present, a number
    (or null for an undefined value). Such a metric may be absent: some apply to some models only (gradients'
    bound violations to vanilla RNNs). A task not registered here (a plugin not loaded) declares none."""
    metrics = record["metrics"]
    if not metrics:
        return "an ok run with no metrics"
    task = all_tasks().get(record["config"].get("task"))
    for name in getattr(task, "numeric_metrics", ()):
        value = metrics.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"an ok run whose metric '{name}' is not a number ({type(value).__name__} {value!r:.40})"
    return None


def set_aside(path: Path) -> Path:
    """Move a corrupt run file (or a folder or other entry in its place) to runs/corrupt/, kept for
    inspection, and return where it went."""
    path = Path(path)
    folder = path.parent / "corrupt"
    folder.mkdir(exist_ok=True)
    prefix = f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}."
    if path.is_dir() and not path.is_symlink():  # a folder can only be renamed onto an empty folder
        target = Path(tempfile.mkdtemp(dir=folder, prefix=prefix))
    else:
        fd, name = tempfile.mkstemp(dir=folder, prefix=prefix)
        os.close(fd)  # a unique name, which the move below takes over
        target = Path(name)
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another process sharing the folder set it aside first
        target.rmdir() if target.is_dir() else target.unlink()
    return target


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def cached_record(out_dir: Path, run_id: str, warn: Callable[[str], None] = _warn) -> dict | None:
    """The finished record of a run, or None when it must (re)run. A corrupt file is reported in one line
    through `warn` and set aside, so the run is redone instead of crashing every later command."""
    path = record_path(out_dir, run_id)
    try:
        record = read_record(path)
    except CorruptRecord as exc:
        kept = set_aside(path)
        warn(f"corrupt cache entry {path}: {exc}; moved to {kept}, the run will be redone")
        return None
    return record if record and record["status"] in FINISHED else None


def load_records(out_dir: Path, run_ids: Iterable[str] | None = None,
                 warn: Callable[[str], None] = _warn) -> list[dict]:
    """Well-formed records of the given runs (or all runs in the folder), finished or not; corrupt files
    are reported through `warn` and skipped."""
    folder = runs_dir(out_dir)
    paths = ([record_path(out_dir, r) for r in run_ids] if run_ids is not None
             else sorted(folder.glob("*.json")))
    records = []
    for path in paths:
        try:
            record = read_record(path)
        except CorruptRecord as exc:
            warn(f"corrupt cache entry {path}: {exc}; skipped")
            continue
        if record is not None:
            records.append(record)
    return records


def finished_records_of(out_dir: Path, configs: Sequence[RunConfig], other_code: list[str] | None = None,
                        any_code: bool = False) -> list[dict]:
    """The finished records of a sweep's configs, one per config, found by what each asked for: a run
    cached under another identity (thread count, torch version) still serves `report` and `eval`; the one
    with the config's own identity is preferred. Only records made by the code each config would run with now
    (its identity's code version) count; `other_code` receives one line per code version set aside. With
    `any_code`, records of other code versions count too (a pilot, which only measures variability, may
    predate a change that alters no number it is planned from; the registration names its code versions)."""
    own = {cfg.request_id: cfg for cfg in configs}
    found: dict[str, dict] = {}
    stale: dict[tuple[str, str], int] = {}
    for record in load_records(out_dir):
        if record["status"] not in FINISHED:
            continue
        request = RunConfig.from_dict(record["config"]).request_id
        if request not in own:
            continue
        made_by = record["config"].get("identity", {}).get("code", "unknown")
        if not any_code and made_by != own[request].identity.get("code", made_by):
            stale[(record["config"]["task"], made_by)] = stale.get((record["config"]["task"], made_by), 0) + 1
            continue
        if request not in found or record["run_id"] == own[request].run_id:
            found[request] = record
    if other_code is not None:
        other_code.extend(f"{n} {task} record(s) made by code version {version}, not the current "
                          f"{next(c for c in configs if c.task == task).identity.get('code')}: set aside"
                          for (task, version), n in sorted(stale.items()))
    return [found[r] for r in dict.fromkeys(cfg.request_id for cfg in configs) if r in found]
