"""Run a sweep: reuse cached runs, execute the rest on worker processes, write one JSON per run.

`execute` is the one place that runs a config and writes its record. `execute_pending` runs many and
yields their records; where they run is a backend (this process, or a pool of worker processes).
"""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import platform
import signal
import sys
import threading
import time
import traceback
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from pebble import ProcessExpired, ProcessPool
from tqdm.auto import tqdm

from suite import __version__
from suite.core.config import ConfigError, RunConfig
from suite.run.code_version import git_commit
from suite.run.identity import import_plugins
from suite.run.locks import claim
from suite.run.progress import InFlight, StatusLines, status_line
from suite.run.records import FINISHED, cached_record, record_path
from suite.run.outputs import write_json_atomic
from suite.run.checkpoints import has_saved_model, save_run_model
from suite.task import get_task

CLAIMED = "claimed"  # status of a stub record: another process holds the run (never written to disk)
PARENT_POLL_SECONDS = 0.5  # how often a worker checks that the driver is still alive
_IDLE = threading.Event()  # set while this process has no run in hand (see _exit_when_orphaned)
_IDLE.set()


@dataclass(frozen=True)
class Execution:
    """How runs execute (its threads enter each run's identity; see RunConfig.identity)."""

    workers: int = 1
    threads: int = 1  # torch intra-op threads per worker
    plugins: tuple[str, ...] = ()
    progress: bool = False
    backend: str = "local"  # local (worker processes here) | ray (tasks on a Ray cluster)
    address: str | None = None  # ray: None starts a local cluster; "auto" or "ray://host:port" joins one
    save_models: bool = False  # keep each finished run's weights beside its record (suite.checkpoints)


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def plan_execution(workers: int | None, device: str, plugins: Sequence[str] = (), progress: bool = False,
                   cores: int | None = None) -> Execution:
    """Split the machine's cores between workers so that workers × threads never exceeds them."""
    cores = available_cores() if cores is None else cores
    if workers is None:
        # one process per GPU (each takes its own, see _worker_init), else one per core
        workers = max(1, torch.cuda.device_count()) if device.startswith("cuda") else cores
    if not 1 <= workers <= cores:
        raise ConfigError(f"--workers {workers} is impossible on {cores} core(s); valid: 1 to {cores} "
                          "(workers × threads never exceeds the cores)")
    return Execution(workers, cores // workers, tuple(plugins), progress and workers == 1)


def versions() -> dict[str, str]:
    return {"suite": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "commit": git_commit() or "unknown"}


def machine() -> dict[str, object]:
    """Where a run ran, recorded with it: the report names the machine of its records, not its own."""
    return {"platform": platform.platform(), "cores": available_cores(), "processor": _processor()}


def _processor() -> str:
    try:  # Linux names the model; platform.processor() often gives only the architecture or nothing
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """What actually ran, e.g. 'cpu' or 'cuda:0 (NVIDIA H200)'."""
    if not device.startswith("cuda"):
        return device
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


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


def execute(cfg: RunConfig, out_dir: Path, execution: Execution, wait: bool = False) -> dict:
    """Claim one run, run it in this process and write its record; never raises for a failing run.

    Another process sharing `out_dir` may hold the run: then this returns a CLAIMED stub at once
    (wait=False), or waits for it and returns its record, training the run only if it left none
    (wait=True). A record found finished once the claim is held is returned with "reused": True.
    """
    _IDLE.clear()
    try:
        return _execute_claimed(cfg, out_dir, execution, wait)
    finally:
        _IDLE.set()


def _execute_claimed(cfg: RunConfig, out_dir: Path, execution: Execution, wait: bool) -> dict:
    with claim(out_dir, cfg.run_id, wait) as mine:
        if not mine:
            return {"run_id": cfg.run_id, "status": CLAIMED}
        done = reusable(out_dir, cfg, execution)
        if done is not None:
            return {**done, "reused": True}
        record = _train(cfg, execution, out_dir if execution.save_models else None)
        write_json_atomic(record_path(out_dir, cfg.run_id), record)
        return record


def reusable(out_dir: Path, cfg: RunConfig, execution: Execution) -> dict | None:
    """The cached record that makes training `cfg` unnecessary, or None. Under --save-models a cached run
    whose weights are missing trains once more to save them (a recorded None: its task keeps no model)."""
    hit = cached_record(out_dir, cfg.run_id)
    if execution.save_models and hit is not None and hit["status"] == "ok" and \
            hit.get("saved_model", "") is not None and not has_saved_model(out_dir, cfg.run_id):
        return None
    return hit


def _train(cfg: RunConfig, execution: Execution, save_to: Path | None = None) -> dict:
    """Run one config here and return its record (written by the caller); with `save_to`, the trained
    model is saved beside the record's place in that folder."""
    torch.set_num_threads(execution.threads)
    keep_freed_memory()
    import_plugins(execution.plugins)
    record = {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(), "seed": cfg.seed,
              "versions": versions(), "threads": execution.threads, "plugins": list(execution.plugins),
              "host": platform.node(), "machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "device": device_name(cfg.device), "precision": cfg.train.precision}
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
        if save_to is not None:
            record["saved_model"] = save_run_model(save_to, cfg, outcome)
    except Exception as exc:  # a failing run is recorded; the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["wall_seconds"] = time.perf_counter() - started
    return record


def record_failure(cfg: RunConfig, out_dir: Path, error: str) -> dict:
    """Record a run that died outside `execute` (its worker was killed). Writes nothing when another
    process has claimed the run since, and returns the finished record instead when the run got as far as
    writing one: a result is never overwritten."""
    record = {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(), "seed": cfg.seed,
              "status": "failed", "error": error}
    with claim(out_dir, cfg.run_id) as mine:
        done = cached_record(out_dir, cfg.run_id)
        if done is not None:
            return done
        if mine:
            write_json_atomic(record_path(out_dir, cfg.run_id), record)
    return record


Backend = Callable[..., Iterator[dict]]  # (configs, out_dir, execution, wait, in_flight) → records


def execute_pending(pending: Sequence[RunConfig], out_dir: Path, execution: Execution,
                    in_flight: InFlight | None = None) -> Iterator[dict]:
    """Execute configs and yield each record as it finishes. Runs another sweep is training are done last:
    this waits for them and yields the other sweep's records (or trains a run the other left undone)."""
    backend: Backend = (ray_tasks if execution.backend == "ray" else
                        in_process if execution.workers == 1 or len(pending) <= 1 else process_pool)
    in_flight = InFlight() if in_flight is None else in_flight
    by_id = {cfg.run_id: cfg for cfg in pending}
    claimed = []
    for record in backend(pending, out_dir, execution, False, in_flight):
        if record["status"] == CLAIMED:
            claimed.append(by_id[record["run_id"]])
        else:
            yield record
    if claimed:
        yield from backend(claimed, out_dir, execution, True, in_flight)


def in_process(configs, out_dir, execution, wait, in_flight: InFlight) -> Iterator[dict]:
    for cfg in configs:
        in_flight.running = (cfg,)
        record = execute(cfg, out_dir, execution, wait)
        in_flight.running = ()
        yield record


def ray_tasks(configs, out_dir, execution, wait, in_flight: InFlight) -> Iterator[dict]:
    """One Ray task per run; the driver writes each record (workers need no shared filesystem)."""
    from suite.run import ray_backend

    yield from ray_backend.run(configs, out_dir, execution, _train, record_failure)


POOL_ATTEMPTS = 2  # a pool that breaks as a whole (a worker killed while starting) is rebuilt once


def process_pool(configs, out_dir, execution, wait, in_flight: InFlight) -> Iterator[dict]:
    """One run per task on a pool of spawned workers (fresh interpreters, no forked OpenMP state). A worker
    that dies costs only the run it was executing: pebble replaces it and the other runs go on. Runs the
    pool could not start at all (it broke as a whole) go to a new pool instead of being recorded failed."""
    remaining = list(configs)
    for _ in range(POOL_ATTEMPTS):
        unstarted: list[RunConfig] = []
        yield from _pool_once(remaining, out_dir, execution, wait, unstarted, in_flight)
        if not unstarted:
            return
        remaining = unstarted
    for cfg in remaining:
        yield record_failure(cfg, out_dir, f"the worker pool broke {POOL_ATTEMPTS} times before this run started")


def _pool_once(configs, out_dir, execution, wait, unstarted: list, in_flight: InFlight) -> Iterator[dict]:
    context = multiprocessing.get_context("spawn")
    gpus = _gpu_queue(context, configs, execution.workers)
    pool = ProcessPool(max_workers=min(execution.workers, len(configs)), initializer=_worker_init,
                       initargs=(execution.threads, execution.plugins, os.getpid(), gpus), context=context)
    try:
        futures = {pool.schedule(execute, (cfg, out_dir, execution, wait)): cfg for cfg in configs}
        in_flight.futures = futures
        for future in cf.as_completed(futures):
            cfg = futures[future]
            try:
                yield future.result()
            except ProcessExpired as exc:  # its worker died while running it
                yield record_failure(cfg, out_dir, f"worker process died ({_exit_cause(exc.exitcode)})")
            except Exception:  # the pool itself failed: the run may never have started
                done = cached_record(out_dir, cfg.run_id)
                if done is not None:
                    yield done
                else:
                    unstarted.append(cfg)
    except BaseException:  # interrupted (SIGINT, SIGTERM, the consumer stopped): stop the workers now
        pool.stop()
        raise
    else:
        pool.close()
    finally:
        in_flight.futures = {}
        pool.join()
        if gpus is not None:  # its semaphore and feeder thread, released now rather than warned about at exit
            gpus.close()
            gpus.join_thread()


def _exit_cause(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _gpu_queue(context, pending, workers: int):
    """One GPU index per worker process when runs ask for plain "cuda" on a multi-GPU machine, else None."""
    if not any(c.device == "cuda" for c in pending) or torch.cuda.device_count() < 2:
        return None
    queue = context.Queue()
    for worker in range(workers):
        queue.put(worker % torch.cuda.device_count())
    return queue


def _worker_init(threads: int, plugins: tuple[str, ...], parent: int, gpus=None) -> None:
    if gpus is not None:  # before CUDA starts in this process: "cuda" is then this worker's own GPU
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    torch.set_num_threads(threads)
    import_plugins(plugins)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_when_orphaned(parent: int) -> None:
    """A worker whose driver is gone (even by kill -9) exits instead of idling forever: once the parent
    dies the worker is re-parented and getppid() changes. A run in hand is finished and its record written
    first (under its claim, so a rerun started meanwhile waits for it), so a killed driver loses no
    training; a driver stopped on purpose (SIGTERM, Ctrl-C) stops its workers at once instead."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    _IDLE.wait()
    os._exit(1)


STATUS_SECONDS = 60.0  # off a terminal (logs, CI): one status line this often while runs execute


def run_sweep(configs: Sequence[RunConfig], out_dir: Path, execution: Execution, log=print,
              status_every: float = STATUS_SECONDS) -> list[dict]:
    """Execute every config not already cached; return all records in config order. Progress: on a
    terminal a bar over the sweep; elsewhere a status line through `log` every `status_every` seconds."""
    unique = list({c.run_id: c for c in configs}.values())  # a config listed twice runs once
    records: dict[str, dict] = {}
    pending = []
    for cfg in unique:
        hit = reusable(out_dir, cfg, execution)
        if hit is not None:
            records[cfg.run_id] = hit
        else:
            pending.append(cfg)
    log(f"{len(configs)} runs: {len(records)} cached, {len(pending)} to run "
        f"({execution.workers} worker(s) × {execution.threads} thread(s))")
    bar = tqdm(total=len(pending), desc="sweep", disable=not sys.stderr.isatty() or not pending)
    in_flight, done, started = InFlight(), [0], time.monotonic()
    status = StatusLines(lambda: status_line(done[0], len(pending), in_flight.now(), started), status_every, log)
    if bar.disable and pending:
        status.start()
    try:
        with closing(execute_pending(pending, out_dir, execution, in_flight)) as finished:  # closed on an
            for record in finished:                                                     # interruption too,
                records[record["run_id"]] = record                                      # which stops the workers
                done[0] += 1
                bar.update(1)
                (log if bar.disable else tqdm.write)(summary_line(record))
    finally:
        status.stop()
        bar.close()
    return [records[c.run_id] for c in unique if c.run_id in records]


def summary_line(record: dict) -> str:
    cfg = record["config"]
    head = f"{cfg['task']:<14} {record['label']:<14} seed {cfg['seed']}"
    if record.get("reused"):
        return f"{head}  {record['status']}  (finished by another sweep on this folder)"
    if record["status"] == "failed":
        return f"{head}  FAILED  {record.get('error')}"
    if record["status"] == "diverged":
        return f"{head}  diverged  {record.get('error')}"
    return f"{head}  ok  {record.get('wall_seconds', 0):.1f}s  {record.get('tokens_per_second', 0):,.0f} tok/s"


def failed(records: Sequence[dict]) -> list[dict]:
    return [r for r in records if r["status"] not in FINISHED]
