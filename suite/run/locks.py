"""Per-run claims, so that sweeps sharing an output folder train each run once.

A claim is an OS file lock (fcntl.flock through `filelock`) on runs/.locks/<run_id>.lock. The OS drops it
when the holding process dies, however it dies (even kill -9), so a lock left by a killed sweep is never
stale: the next process simply takes it over. The lock file itself stays; it holds no data.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout


def lock_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / "runs" / ".locks" / f"{run_id}.lock"


@contextmanager
def claim(out_dir: Path, run_id: str, wait: bool = False) -> Iterator[bool]:
    """Hold the run's lock for the block and yield True; yield False at once when another process holds it
    (wait=False), or block until it lets go (wait=True)."""
    path = lock_path(out_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=-1 if wait else 0)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
