"""Test-only tasks loaded with --plugin fault_tasks: runs that sleep, log who trained them, or kill their
own worker, so the runner's fault handling can be exercised in seconds."""
import os
import signal
import time
from pathlib import Path

from dataclasses import dataclass

from suite.core.config import TrainConfig
from suite.core.options import TaskOptions
from suite.task import RunOutcome, Task, TaskSettings, register_task
from suite.training.trainer import TrainResult


@dataclass(frozen=True)
class SleepOptions(TaskOptions):
    seconds: float = 0.0
    log: str = ""
    kill_seed: int = -1
    meet: int = 0  # wait until `log` shows runs started by this many processes, at most MEET_SECONDS


MEET_SECONDS = 60.0


@register_task
class SleepTask(Task):
    """Sleeps `seconds`, appending "<seed> <pid>" to `log` (when given) before and after; seed `kill_seed`
    kills its own process with SIGKILL instead, as an out-of-memory kill would."""

    name = "fault_sleep"
    description = "test-only: sleeps, logs, or kills its worker"
    Options = SleepOptions

    def settings(self, size):
        return TaskSettings(train=TrainConfig(steps=1))

    def run(self, cfg, progress=False):
        log = cfg.options["log"]
        if log:
            with open(log, "a") as f:
                f.write(f"start {cfg.seed} {os.getpid()}\n")
        if cfg.seed == cfg.options["kill_seed"]:
            os.kill(os.getpid(), signal.SIGKILL)
        meet = cfg.options.get("meet", 0)
        deadline = time.monotonic() + MEET_SECONDS
        while meet and len({pid for event, _, pid in log_lines(log) if event == "start"}) < meet \
                and time.monotonic() < deadline:
            time.sleep(0.05)  # polled: the other process may take any time to start under load
        time.sleep(cfg.options["seconds"])
        if log:
            with open(log, "a") as f:
                f.write(f"end {cfg.seed} {os.getpid()}\n")
        return RunOutcome(TrainResult(steps=1, train_tokens=1, train_seconds=1e-3), {"slept": cfg.options["seconds"]}, 1)


@register_task
class EpochTask(Task):
    """A task whose budget is set in epochs, as text_lm's `paper` recipe is."""

    name = "fault_epochs"
    description = "test-only: an epoch budget"

    def settings(self, size):
        return TaskSettings(train=TrainConfig(steps=1000, epochs=6))

    def run(self, cfg, progress=False):
        return RunOutcome(TrainResult(steps=cfg.train.steps), {}, 1)


def log_lines(path) -> list[tuple[str, int, int]]:
    """(event, seed, pid) for each line a SleepTask logged."""
    lines = Path(path).read_text().split("\n") if Path(path).exists() else []
    return [(e, int(s), int(p)) for e, s, p in (line.split() for line in lines if line)]


def unregister() -> None:
    """Undo `--plugin fault_tasks` in this process, so other tests see only the real tasks."""
    import sys

    from suite.run import identity
    from suite.task import TASKS

    for name in ("fault_sleep", "fault_epochs"):
        TASKS.pop(name, None)
    identity._PLUGINS.pop("fault_tasks", None)
    sys.modules.pop("fault_tasks", None)
