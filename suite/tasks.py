"""The task interface and registry.

A task declares its data, its objective, its metrics, how big it is at each preset size, and
(optionally) the tables, plots and claims the report shows for it. Task modules live in the
top-level `tasks/` package and register themselves with `@register_task`.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from .config import ConfigError, ModelConfig, RunConfig, TrainConfig
from .data import Vocab
from .models import ARCHITECTURES, build_model, count_parameters
from .train import Batcher, TrainResult, fit

SIZES = ("smoke", "quick", "standard", "paper")


@dataclass(frozen=True)
class TaskSettings:
    """How a task sizes itself for one preset size."""

    train: TrainConfig
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig field overrides (hidden, embed, …)
    options: dict[str, Any] = field(default_factory=dict)  # task options


@dataclass
class TaskData:
    train: Batcher
    valid: Batcher | None
    vocab: Vocab
    num_outputs: int | None = None  # classes for classify/tag objectives
    extra: dict[str, Any] = field(default_factory=dict)  # probes, test items, …


@dataclass
class RunOutcome:
    """What a task's run produced; the runner wraps it into the run's JSON record."""

    training: TrainResult
    metrics: dict[str, Any]
    parameters: int
    extra: dict[str, Any] = field(default_factory=dict)
    # The trained model and what maps its ids to words (a Vocab or a suite.tokenizers.Tokenizer), so
    # that the runner can save them (--save-models); never serialised into the run record.
    model: nn.Module | None = field(default=None, repr=False)
    vocab: Any = field(default=None, repr=False)


class Task:
    name: str = ""
    description: str = ""
    objective: str = "lm"  # lm | classify | tag
    default_options: dict[str, Any] = {}
    headline: tuple[str, ...] = ()  # metrics shown in the cross-task summary table

    def settings(self, size: str) -> TaskSettings:
        """Training budget, model shape and options for a preset size."""
        raise NotImplementedError

    def variants(self, model: ModelConfig, size: str) -> list[dict[str, dict[str, Any]]]:
        """Runs to make of one model: each a dict of optional 'model', 'train' and 'options'
        overrides (e.g. a grid of spectral radii); [] skips the model for this task."""
        return [{}]

    def validate(self, cfg: RunConfig) -> None:
        """Raise ConfigError when this task cannot run `cfg`."""

    def skip_reason(self, cfg: RunConfig) -> str | None:
        """One line saying why a preset sweep leaves `cfg` out (e.g. no corpus given), or None to run it.
        A task the user names explicitly is not skipped: the reason becomes a ConfigError instead."""
        return None

    def prepare(self, cfg: RunConfig) -> TaskData:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Prepare data, build, train, evaluate. Tasks that measure during training override this."""
        data = self.prepare(cfg)
        model = build_model(cfg.model, len(data.vocab), self.objective, data.num_outputs).to(cfg.device)
        training = fit(model, data.train, data.valid, cfg.train, seed=cfg.seed, device=cfg.device,
                       progress=progress)
        metrics = self.evaluate(model, data, cfg) if training.status == "ok" else {}
        return RunOutcome(training, metrics, count_parameters(model), model=model, vocab=data.vocab)

    # ----- report hooks: derived from run records only, so `run_suite.py report` needs no training.
    # `records` holds every finished record of the sweep (all tasks): filter to the tasks you need.
    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        return []

    def claims(self, records: list[dict]) -> list:
        return []


TASKS: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    TASKS[cls.name] = cls()
    return cls


def load_builtin_tasks() -> dict[str, Task]:
    """Import every module of the `tasks` package so that each registers itself."""
    import tasks as package
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"tasks.{info.name}")
    return TASKS


def get_task(name: str) -> Task:
    load_builtin_tasks()
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'; valid: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def check_run_config(cfg: RunConfig) -> Task:
    """Validate a whole run config (task, model for the task's objective, training); return the task."""
    from .models import validate_model_config
    from .train import validate_train_config

    task = get_task(cfg.task)
    validate_model_config(cfg.model, task.objective)
    validate_train_config(cfg.train)
    if cfg.device != "cpu" and not cfg.device.startswith("cuda"):
        raise ConfigError(f"unknown device '{cfg.device}'; valid: cpu, cuda, cuda:N")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{cfg.device}' requested but torch sees no CUDA device")
    task.validate(cfg)
    return task


def architecture_names() -> list[str]:
    return sorted(ARCHITECTURES)
