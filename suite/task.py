"""The task interface and registry: the measuring side of a task.

A task declares its options (a frozen dataclass, validated in one place), how big it is at each preset
size, its data, its objective and its metrics. What the report makes of its records (tables, plots,
claims) lives apart, in a `TaskReport` (suite/judge/task_report.py). Task packages are found through the
`recency_bench.tasks` entry point group (pyproject.toml), so the framework names no task package.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import torch
from torch import nn

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.batches import Vocab
from suite.models.zoo import build_model, count_parameters, validate_model_config
from suite.core.options import TaskOptions, parse_options
from suite.training.trainer import Batcher, TrainResult, fit, validate_train_config

SIZES = ("smoke", "quick", "standard", "paper")
ENTRY_POINT_GROUP = "recency_bench.tasks"


def by_size(size: str, **rows: tuple) -> dict[str, Any]:
    """Pick one column of a table of settings, one row per setting and one column per size:
    by_size("quick", steps=(30, 800, 1500, 8000), hidden=(32, 64, 128, 256)) → {"steps": 800, "hidden": 64}."""
    if size not in SIZES:
        raise ConfigError(f"unknown size '{size}'; valid: {', '.join(SIZES)}")
    column = SIZES.index(size)
    for name, row in rows.items():
        if len(row) != len(SIZES):
            raise ValueError(f"setting '{name}' needs one value per size {SIZES} (got {len(row)})")
    return {name: row[column] for name, row in rows.items()}


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
    tokenizer: Any = None  # what spells words into ids where that is more than `vocab` (text tasks)


@dataclass
class RunOutcome:
    """What a task's run produced; the runner wraps it into the run's JSON record."""

    training: TrainResult
    metrics: dict[str, Any]
    parameters: int
    extra: dict[str, Any] = field(default_factory=dict)  # more record fields (provenance, item tables)
    model: nn.Module | None = None  # the trained model, for saving; never serialised into the record
    vocab: Any = None  # its vocabulary or tokenizer


class Task:
    name: str = ""
    description: str = ""
    objective: str = "lm"  # lm | classify | tag
    Options: type[TaskOptions] = TaskOptions
    # metrics an ok record must give as numbers (or null): the run cache sets aside one that does not
    # (suite/run/records.py), so the summary table (its report's `headline`) never reads text as a value
    numeric_metrics: tuple[str, ...] = ()
    tuning: tuple[str, ...] = ()  # config fields its variants sweep as a tuning grid, e.g. ("train.lr",)

    # ----- configuration
    def settings(self, size: str) -> TaskSettings:
        """Training budget, model shape and options for a preset size."""
        raise NotImplementedError

    def variants(self, model: ModelConfig, size: str) -> list[dict[str, dict[str, Any]]]:
        """Runs to make of one model: each a dict of optional 'model', 'train' and 'options'
        overrides (e.g. a grid of spectral radii); [] skips the model for this task."""
        return [{}]

    def seed_count(self, size: str) -> int | None:
        """Seeds this task's claims need at a preset size (their power analysis), run as seeds 0…n−1 in
        place of the preset's seed list; None keeps the preset's."""
        return None

    def options(self, cfg: RunConfig) -> Any:
        """The run's options as this task's typed dataclass (raises ConfigError when malformed)."""
        return parse_options(self.Options, cfg.options, self.name)

    def validate(self, cfg: RunConfig) -> None:
        """Raise ConfigError when this task cannot run `cfg` (options are already type-checked)."""

    def skip_reason(self, cfg: RunConfig) -> str | None:
        """One line saying why a preset sweep leaves `cfg` out (e.g. no corpus given), or None to run it.
        A task the user names explicitly is not skipped: the reason becomes a ConfigError instead."""
        return None

    # ----- measuring
    def prepare(self, cfg: RunConfig) -> TaskData:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        raise NotImplementedError

    def build(self, cfg: RunConfig, data: TaskData) -> nn.Module:
        """The model to train (hook: a task may re-initialise parts of it)."""
        return build_model(cfg.model, len(data.vocab), self.objective, data.num_outputs).to(cfg.device)

    def before_training(self, model: nn.Module, data: TaskData, cfg: RunConfig) -> Any:
        """Hook: attach meters to the model before training; the value goes to `after_training`."""
        return None

    def after_training(self, model: nn.Module, data: TaskData, cfg: RunConfig, training: TrainResult,
                       watch: Any) -> dict[str, Any]:
        """Hook: detach meters and return extra metrics (kept only when training finished ok)."""
        return {}

    def record_extra(self, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        """Hook: more fields for the run record that are not metrics (e.g. corpus provenance)."""
        return {}

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Prepare data, build, train, evaluate. Tasks that measure during training use the hooks;
        a task whose measurement is not a training run at all overrides this."""
        data = self.prepare(cfg)
        torch.manual_seed(cfg.seed)  # init and dropout follow the run's seed, with or without the runner
        model = self.build(cfg, data)
        watch = self.before_training(model, data, cfg)
        training = fit(model, data.train, data.valid, cfg.train, seed=cfg.seed, device=cfg.device,
                       progress=progress)
        more = self.after_training(model, data, cfg, training, watch)
        metrics = {**self.evaluate(model, data, cfg), **more} if training.status == "ok" else {}
        return RunOutcome(training, metrics, count_parameters(model), self.record_extra(data, cfg),
                          model=model, vocab=data.tokenizer or data.vocab)


TASKS: dict[str, Task] = {}


def parameter_twin(model: ModelConfig, task_hidden: int, twin_hidden: int | None, arch: str = "gru",
                   sized_as: str = "lstm") -> dict[str, Any] | None:
    """The model fields of `arch` widened to `sized_as`'s parameter count, for a plain single-layer `arch` at the
    task's own hidden size (the size `twin_hidden` was matched at); None for any other model or no twin."""
    plain = model.arch == arch and model.layers == 1 and not model.sized_as and model.hidden == task_hidden
    return {"hidden": twin_hidden, "sized_as": sized_as} if plain and twin_hidden else None


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    TASKS[cls.name] = cls()
    return cls


@functools.cache
def _load_task_packages() -> None:
    """Import every package registered under the entry point group (the suite's own `tasks`, and any
    installed third-party task package); each registers its tasks and reports on import."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    if not found and not TASKS:
        raise ConfigError(f"no task package is registered under '{ENTRY_POINT_GROUP}': install the project "
                          "with pip install -e . (see README)")
    for ep in found:
        ep.load()


def all_tasks() -> dict[str, Task]:
    _load_task_packages()
    return TASKS


def import_task_modules(module: str) -> None:
    """Import `<package>.<module>` beside every registered task's module, where that package has one: how the
    judge finds a task's `report` and `eval` its `probes` without naming a task package, and only when they
    are asked for (so measuring, listing and refusing never load them). It walks a copy of the registry: an
    imported module may register a task of its own, and a sweep's final report once stopped on that with
    "dictionary changed size during iteration"."""
    for task in list(all_tasks().values()):
        package = type(task).__module__.rpartition(".")[0]
        if package and importlib.util.find_spec(f"{package}.{module}") is not None:
            importlib.import_module(f"{package}.{module}")


def get_task(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise ConfigError(f"unknown task '{name}'; valid: {', '.join(sorted(tasks))}")
    return tasks[name]


def check_run_config(cfg: RunConfig) -> Task:
    """Validate a whole run config (task options, model for the task's objective, training); return the task."""
    task = get_task(cfg.task)
    task.options(cfg)
    validate_model_config(cfg.model, task.objective)
    validate_train_config(cfg.train)
    if cfg.device != "cpu" and not cfg.device.startswith("cuda"):
        raise ConfigError(f"unknown device '{cfg.device}'; valid: cpu, cuda, cuda:N")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{cfg.device}' requested but torch sees no CUDA device")
    task.validate(cfg)
    return task
