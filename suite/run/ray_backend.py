"""Sweeps on a Ray cluster: each pending run is one Ray task; the driver writes every record.

Workers need no shared filesystem: a task runs one config on its node and returns the record, which the driver writes atomically into `--out` (so cache, resume and the
progress bar behave as with the local pool). The suite, the tasks package and every --plugin reach the
workers through Ray's runtime environment (`py_modules`); the Python packages the suite needs (torch,
datasets, …) must be installed on the cluster's nodes.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit

from suite.core.config import RunConfig
from suite.run.records import record_path
from suite.run.outputs import write_json_atomic

Trainer = Callable[[RunConfig, Any], dict]  # the runner's _train: run one config here, return its record

INSTALL = "--backend ray needs Ray, which is not installed; install it with: pip install -e '.[ray]'"
RETRIES = 1  # Ray reruns a task once when its worker process or node dies; after that the run is failed
CONNECT_TIMEOUT_S = 5.0


def connect(address: str | None, plugins: Sequence[str] = ()) -> str | None:
    """Join (or, with no address, start) a Ray cluster that can import the suite and `plugins`;
    a one-line reason on failure, else None. A connection made before (ray.init) is kept as it is."""
    try:
        import ray
    except ImportError:
        return INSTALL
    if ray.is_initialized():
        return None
    address = address or os.environ.get("RAY_ADDRESS") or None  # what ray.init itself would join
    problem = unreachable(address)
    if problem:
        return problem
    # Local code can only be shipped for the whole job, at connection time (Ray refuses it per task).
    settings = dict(runtime_env=runtime_env(plugins), logging_level=logging.WARNING, log_to_driver=False)
    if address is None:
        settings["include_dashboard"] = False
    try:
        ray.init(address=address, **settings)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own types here
        return f"cannot join the Ray cluster at '{address}': {_first_line(exc)}"
    return None


def unreachable(address: str | None) -> str | None:
    """Why nothing listens at a host:port (or ray://host:port) address, or None; 'auto' and None pass."""
    if address in (None, "auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        return f"bad Ray address '{address}'; expected auto, host:port or ray://host:port"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"cannot reach the Ray cluster at '{address}': {exc.strerror or exc}"


def runtime_env(plugins: Sequence[str]) -> dict:
    """Ship the suite, the tasks package and the plugins' top-level modules to every worker."""
    modules = ["suite", "tasks", *(name.split(".")[0] for name in plugins)]
    return {"py_modules": [_source(importlib.import_module(m)) for m in dict.fromkeys(modules)]}


def _source(module) -> str:
    """A package's folder, or a single-file module's .py file."""
    paths = getattr(module, "__path__", None)
    return str(list(paths)[0]) if paths else str(module.__file__)


def run(pending: Sequence[RunConfig], out_dir: Path, execution, train: Trainer,
        record_failure: Callable[[RunConfig, Path, str], dict], retries: int = RETRIES) -> Iterator[dict]:
    """Run each config as a Ray task (its threads as CPUs, one GPU on CUDA); yield records as they finish.

    `train` runs one config and returns its record without writing it (the runner's own, passed in so
    that this module does not import the runner that dispatches to it); the driver writes each record
    atomically, and `record_failure` records a run whose task died on every attempt."""
    if not pending:
        return
    import ray

    problem = connect(execution.address, execution.plugins)
    if problem:
        raise RuntimeError(problem)
    quiet = dataclasses.replace(execution, progress=False)  # progress bars belong to the driver
    remote = ray.remote(train)
    waiting = {}
    for cfg in pending:
        task = remote.options(num_cpus=execution.threads, num_gpus=1 if cfg.device.startswith("cuda") else 0,
                              max_retries=retries, retry_exceptions=False)
        waiting[task.remote(cfg, quiet)] = cfg
    try:
        while waiting:
            (done,), _ = ray.wait(list(waiting), num_returns=1)
            cfg = waiting.pop(done)
            yield _collect(done, cfg, out_dir, retries, record_failure)
    finally:  # interrupted: stop what is still queued or running; finished records are already written
        for ref in waiting:
            ray.cancel(ref, force=True)


def _collect(ref, cfg: RunConfig, out_dir: Path, retries: int, record_failure) -> dict:
    import ray

    try:
        record = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # raised outside the run itself, e.g. the suite failed to import
        cause = _first_line(getattr(exc, "cause", None) or exc)
        return record_failure(cfg, out_dir, f"failed on the Ray worker: {cause}")
    except ray.exceptions.RayError as exc:  # the worker process or its node died, every attempt
        return record_failure(cfg, out_dir, f"Ray worker died ({retries + 1} attempt(s)): {_first_line(exc)}")
    write_json_atomic(record_path(out_dir, cfg.run_id), record)
    return record


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
