"""Run a sweep: reuse cached runs, execute the rest on worker processes, write one JSON per run."""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import importlib
import multiprocessing
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from . import __version__
from .checkpoints import has_saved_model, save_run_model
from .config import RunConfig
from .results import cached_record, record_path, write_json_atomic
from .tasks import get_task


@dataclass(frozen=True)
class Execution:
    """How runs execute (not part of a run's identity)."""

    workers: int = 1
    threads: int = 1  # torch intra-op threads per worker
    plugins: tuple[str, ...] = ()
    progress: bool = False
    save_models: bool = False  # keep each finished run's weights beside its record (suite.checkpoints)


def plan_execution(workers: int | None, device: str, plugins: Sequence[str] = (), progress: bool = False,
                   cores: int | None = None) -> Execution:
    """Split the machine's cores between workers so that workers × threads never exceeds them."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None:
        workers = 1 if device.startswith("cuda") else max(1, cores)
    workers = max(1, workers)
    return Execution(workers, max(1, cores // workers), tuple(plugins), progress and workers == 1)


def import_plugins(modules: Sequence[str]) -> None:
    """Import user modules that register architectures or tasks (e.g. --plugin mypkg.my_cell)."""
    for name in modules:
        importlib.import_module(name)


def versions() -> dict[str, str]:
    return {"suite": __version__, "torch": torch.__version__, "python": platform.python_version()}


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS; False off glibc.

    Training frees and reallocates the same large tensors every step (logits are tokens × vocabulary). By
    default glibc unmaps each one and the next step page-faults it back in: on WikiText-2's 33k-word
    vocabulary that cost about a third of each training step here (1.3–1.6× slower).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's mallopt parameter numbers
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def execute(cfg: RunConfig, out_dir: Path, execution: Execution) -> dict:
    """Run one config in this process and write its record; never raises for a failing run."""
    torch.set_num_threads(execution.threads)
    keep_freed_memory()
    import_plugins(execution.plugins)
    record = {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(), "seed": cfg.seed,
              "versions": versions(), "threads": execution.threads, "plugins": list(execution.plugins),
              "host": platform.node(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    started = time.perf_counter()
    try:
        torch.manual_seed(cfg.seed)
        outcome = get_task(cfg.task).run(cfg, progress=execution.progress)
        training = asdict(outcome.training)
        record.update(status=outcome.training.status, metrics=outcome.metrics, parameters=outcome.parameters,
                      training=training, tokens_per_second=outcome.training.tokens_per_second,
                      train_seconds=outcome.training.train_seconds, **outcome.extra)
        if outcome.training.status == "diverged":
            record["error"] = outcome.training.divergence
        if execution.save_models:
            record["saved_model"] = save_run_model(out_dir, cfg, outcome)
    except Exception as exc:  # a failing run is recorded; the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["wall_seconds"] = time.perf_counter() - started
    write_json_atomic(record_path(out_dir, cfg.run_id), record)
    return record


def _worker_init(threads: int, plugins: tuple[str, ...]) -> None:
    torch.set_num_threads(threads)
    import_plugins(plugins)


def run_sweep(configs: Sequence[RunConfig], out_dir: Path, execution: Execution, log=print) -> list[dict]:
    """Execute every config not already cached; return all records in config order."""
    unique = list({c.run_id: c for c in configs}.values())  # a config listed twice runs once
    records: dict[str, dict] = {}
    pending = []
    for cfg in unique:
        hit = cached_record(out_dir, cfg.run_id)
        if execution.save_models and hit is not None and hit["status"] == "ok" and \
                hit.get("saved_model", "") is not None and not has_saved_model(out_dir, cfg.run_id):
            hit = None  # a cached run without its weights retrains once to save them (None: nothing to save)
        if hit is not None:
            records[cfg.run_id] = hit
        else:
            pending.append(cfg)
    log(f"{len(configs)} runs: {len(records)} cached, {len(pending)} to run "
        f"({execution.workers} worker(s) × {execution.threads} thread(s))")
    bar = tqdm(total=len(pending), desc="sweep", disable=not sys.stderr.isatty() or not pending)
    for record in _execute_all(pending, out_dir, execution):
        records[record["run_id"]] = record
        bar.update(1)
        (log if bar.disable else tqdm.write)(_summary_line(record))
    bar.close()
    return [records[c.run_id] for c in unique if c.run_id in records]


def _execute_all(pending, out_dir, execution):
    if execution.workers == 1 or len(pending) <= 1:
        for cfg in pending:
            yield execute(cfg, out_dir, execution)
        return
    # spawn: fresh interpreters, no forked OpenMP state; each worker gets its share of the cores.
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(execution.workers, mp_context=context, initializer=_worker_init,
                                initargs=(execution.threads, execution.plugins)) as pool:
        futures = {pool.submit(execute, cfg, out_dir, execution): cfg for cfg in pending}
        for future in cf.as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker process itself died
                cfg = futures[future]
                record = {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(),
                          "seed": cfg.seed, "status": "failed", "error": f"worker died: {exc}"}
                write_json_atomic(record_path(out_dir, cfg.run_id), record)
                yield record


def _summary_line(record: dict) -> str:
    cfg = record["config"]
    head = f"{cfg['task']:<14} {record['label']:<14} seed {cfg['seed']}"
    if record["status"] == "failed":
        return f"{head}  FAILED  {record.get('error')}"
    if record["status"] == "diverged":
        return f"{head}  diverged  {record.get('error')}"
    return f"{head}  ok  {record.get('wall_seconds', 0):.1f}s  {record.get('tokens_per_second', 0):,.0f} tok/s"
