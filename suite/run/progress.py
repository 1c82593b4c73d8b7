"""Progress of a sweep off a terminal: which runs execute now, and a status line at a fixed interval."""
from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

from suite.core.config import RunConfig


class InFlight:
    """The runs executing now, as the backend sees them, for the sweep's status line (read from another
    thread, so each backend replaces whole containers instead of mutating them)."""

    def __init__(self):
        self.running: tuple[RunConfig, ...] = ()
        self.futures: dict = {}  # a worker pool's future → config; a future is running once a worker has it

    def now(self) -> list[RunConfig]:
        return [*self.running, *(cfg for future, cfg in list(self.futures.items()) if future.running())]


class StatusLines(threading.Thread):
    """Says `line()` through `log` every `every` seconds until stopped (an Event, so stopping is at once)."""

    def __init__(self, line: Callable[[], str], every: float, log):
        super().__init__(daemon=True, name="sweep-status")
        self.line, self.every, self.log, self.stopped = line, every, log, threading.Event()

    def run(self):
        while not self.stopped.wait(self.every):
            self.log(self.line())

    def stop(self):
        self.stopped.set()
        if self.is_alive():
            self.join()


def status_line(done: int, total: int, running: Sequence[RunConfig], started: float) -> str:
    elapsed = int(time.monotonic() - started)
    now = ", ".join(f"{c.task} {c.model.label} seed {c.seed}" for c in running) or "none yet (workers starting)"
    return (f"status: {done}/{total} runs done, {elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d} "
            f"elapsed, running now: {now}")
