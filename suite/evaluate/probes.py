"""Probe providers: the probes a task package offers to models the suite did not train (`eval --probes` with
--hf-model or --torch-model), so that the framework names no task.

A task package with such probes registers a provider in `tasks/<name>/probes.py`. That module is imported only
when probes are asked for (`load_probes`, the way the judge loads `report.py`), never by the task's measuring
code, so a provider can change without changing any run's code version:

    @register_probes("agreement")                   # the task whose prepared data the items come from
    def held_out_pairs(seed: int, size: str) -> list[MinimalPair]:
        return list(prepared_data("agreement", seed, size).extra["probe_items"])

A provider returns the items for a seed and a preset size, of the kind it registered: minimal pairs
(`MinimalPair`, scored by the correct continuation's margin over the wrong one) or K-way choices (`Choice`,
the answer against the best other option). Both summarise alike (error rate with its Wilson interval, by
attractors and by distance) and are cached as `<task>-probes-<size>-seed<seed>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from suite.core.config import RunConfig
from suite.evaluate.testsets import MinimalPair


@dataclass(frozen=True)
class Choice:
    """A K-way probe: which of `options` follows `prefix` (e.g. "she finally printed her ___")."""

    prefix: tuple[str, ...]
    options: tuple[str, ...]
    answer: int  # index of the right option
    source: str = ""
    distance: int | None = None


ITEM_KINDS = (MinimalPair, Choice)  # what a provider may return; each kind has its scorer in scoring.py


@dataclass(frozen=True)
class ProbeProvider:
    task: str  # the task the probes come from: it names their cache entry and their rows in the tables
    items: Callable[[int, str], Sequence[Any]]  # (seed, preset size) → the probe items, all of `kind`
    kind: type = MinimalPair  # MinimalPair or Choice: how the items are scored

    def name(self, seed: int, size: str) -> str:
        """The test-set name (and cache name) of these probes at a seed and preset size."""
        return f"{self.task}-probes-{size}-seed{seed}"


PROVIDERS: dict[str, ProbeProvider] = {}


def register_probes(task: str, kind: type = MinimalPair) -> Callable[[Callable], Callable]:
    """Decorator: `fn(seed, size)` returns `task`'s probes for external models, as items of `kind`."""
    if kind not in ITEM_KINDS:
        raise ValueError(f"probes of '{task}': kind must be one of {', '.join(k.__name__ for k in ITEM_KINDS)}, "
                         f"not {getattr(kind, '__name__', kind)}")

    def register(fn: Callable[[int, str], Sequence[Any]]) -> Callable[[int, str], Sequence[Any]]:
        PROVIDERS[task] = ProbeProvider(task, fn, kind)
        return fn
    return register


def load_probes() -> dict[str, ProbeProvider]:
    """Every registered probe provider, by task name in alphabetical order (the order `eval` scores them)."""
    from suite.task import import_task_modules  # the task layer sits below evaluate: a downward import
    import_task_modules("probes")  # imports each module once: a second call finds them all in sys.modules
    return dict(sorted(PROVIDERS.items()))


def prepared_data(task_name: str, seed: int, size: str):
    """A task's prepared data for a seed and preset size, exactly as its runs see it: what providers read."""
    from suite.run.sweep import run_options  # the sweep loads every task package: only when probes are made
    from suite.task import get_task

    task = get_task(task_name)
    settings = task.settings(size)
    cfg = RunConfig(task_name, train=settings.train, seed=seed, options=run_options(task, settings.options))
    return task.prepare(cfg)
