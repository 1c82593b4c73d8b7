"""Presets and sweep expansion: (tasks × model variants × hidden sizes × seeds) → RunConfigs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, replace
from suite.core.options import option_names
from suite.run.seed_blocks import confirmatory_seeds, load_registration, registration_path
from suite.models.zoo import validate_model_config
from suite.task import Task, all_tasks, check_run_config
from suite.training.trainer import validate_train_config


@dataclass(frozen=True)
class Variant:
    """A point in model space the sweep visits (before task-specific sizing)."""

    arch: str
    layers: int = 1
    skip: str = "none"
    bidirectional: bool = False


@dataclass(frozen=True)
class Preset:
    name: str
    size: str  # the size tasks scale themselves to: smoke | quick | standard | paper
    description: str
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]
    tasks: tuple[str, ...] | None = None  # None = every registered task


# No stack with skips: no claim on the tasks that run the preset's models reads one (skips are judged by the
# depth task's own grid), and the residual lstm×2 cost 12.7 of the second reference run's 162 run-minutes.
_STANDARD_VARIANTS = (Variant("rnn_tanh"), Variant("rnn_relu"), Variant("lstm"), Variant("gru"),
                      Variant("lstm", layers=2))
PRESETS = {p.name: p for p in [
    Preset("smoke", "smoke", "tiny models, a few steps: checks the pipeline end to end (< 60 s)",
           (Variant("rnn_tanh"), Variant("lstm")), (0,), ("grammar_lm",)),
    Preset("quick", "quick", "every task; rnn_tanh, lstm, gru, 2-layer lstm; 1 seed (< 10 min on 2 cores)",
           (Variant("rnn_tanh"), Variant("lstm"), Variant("gru"), Variant("lstm", layers=2)), (0,)),
    Preset("standard", "standard", "every task and architecture, a 2-layer stack (skips: the depth tasks' grids); "
           "exploratory seeds (the pilot the confirm preset is planned from; 53 min on 2 cores)",
           _STANDARD_VARIANTS, (0, 1, 2)),
    Preset("confirm", "standard", "the reference run: standard's models and budgets on the fresh confirmatory seed "
           "block (2000 on), as many seeds per task as its claims' power needs (preregistration/confirm.json)",
           _STANDARD_VARIANTS, ()),
    Preset("paper", "paper", "larger models, 5 seeds, every architecture and depth: for a GPU or a cluster",
           (Variant("rnn_tanh"), Variant("rnn_relu"), Variant("lstm"), Variant("gru"),
            Variant("lstm", layers=2), Variant("lstm", layers=4, skip="residual"),
            Variant("gru", layers=2)), (0, 1, 2, 3, 4)),
]}


@dataclass(frozen=True)
class Overrides:
    """Command-line overrides of a preset; None leaves the preset's choice."""

    tasks: tuple[str, ...] | None = None
    archs: tuple[str, ...] | None = None
    layers: tuple[int, ...] | None = None
    hidden: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None
    steps: int | None = None
    skip: str | None = None
    bidirectional: bool | None = None
    device: str = "cpu"
    options: dict[str, Any] = field(default_factory=dict)  # task options, applied where a task has them


def expand(preset: Preset, over: Overrides, notices: list[str] | None = None, resources: bool = True
           ) -> list[RunConfig]:
    """Every run of the sweep, validated; raises ConfigError for names or combinations that cannot run.
    Why a preset leaves a task out (e.g. no corpus given) is appended to `notices`, once per reason.
    With `resources=False` (commands that only read records: report, preregister) names, options, models and
    training settings are still checked, but not what a run would read — a corpus folder, generated data
    sizes — so a clone without the corpus rebuilds a report from the committed records."""
    notices = [] if notices is None else notices
    tasks = all_tasks()
    _check_overrides(over)
    task_names = over.tasks or preset.tasks or tuple(sorted(tasks))
    for name in task_names:
        if name not in tasks:
            raise ConfigError(f"unknown task '{name}'; valid: {', '.join(sorted(tasks))}")
    _check_options(task_names, over.options)
    configs: list[RunConfig] = []
    for name in task_names:
        configs.extend(_expand_task(name, preset, over, notices, resources))
    if resources:
        check_data_sizes(configs, over.options)
    if not configs:
        raise ConfigError("the sweep is empty: no task accepts the requested models "
                          "(bidirectional models only run on classify/tag tasks)")
    return configs


def _variants(preset: Preset, over: Overrides) -> list[Variant]:
    if over.archs is None and over.layers is None and over.skip is None and over.bidirectional is None:
        return list(preset.variants)
    archs = over.archs or tuple(dict.fromkeys(v.arch for v in preset.variants))
    layers = over.layers or (1,)
    return [Variant(a, n, over.skip or "none", bool(over.bidirectional)) for a in archs for n in layers]


def _expand_task(name: str, preset: Preset, over: Overrides, notices: list[str], resources: bool = True
                 ) -> list[RunConfig]:
    task = all_tasks()[name]
    settings = task.settings(preset.size)
    explicit_bidirectional = bool(over.bidirectional)
    configs = []
    for v in _variants(preset, over):
        if v.bidirectional and task.objective == "lm":
            if explicit_bidirectional and over.tasks:
                raise ConfigError(f"task '{name}' is a language model and cannot take a bidirectional model "
                                  "(the backward direction sees the future); drop --bidirectional")
            continue  # preset-level bidirectional variants only visit tasks that allow them
        for hidden in over.hidden or (settings.model.get("hidden", ModelConfig.hidden),):
            base = ModelConfig(**{**settings.model, "arch": v.arch, "layers": v.layers, "hidden": hidden,
                                  "skip": v.skip, "bidirectional": v.bidirectional})
            for variant in task.variants(base, preset.size):
                model = replace(base, **variant.get("model", {}))
                train = _with_steps(replace(settings.train, **variant.get("train", {})), over.steps, name,
                                    notices)
                options = run_options(task, settings.options, variant.get("options", {}), over.options)
                for seed in over.seeds or task_seeds(task, preset):
                    cfg = RunConfig(name, model, train, seed, options, over.device)
                    reason = task.skip_reason(cfg)
                    if reason and over.tasks:
                        raise ConfigError(reason)
                    if reason:
                        if f"skipping {name}: {reason}" not in notices:
                            notices.append(f"skipping {name}: {reason}")
                        continue
                    if resources:
                        check_run_config(cfg)
                    else:  # everything check_run_config checks but the task's own look at its data
                        task.options(cfg)
                        validate_model_config(cfg.model, task.objective)
                        validate_train_config(cfg.train)
                    configs.append(cfg)
    return configs


def task_seeds(task: Task, preset: Preset) -> tuple[int, ...]:
    """The confirm preset: the task's pre-registered block of confirmatory seeds. Other presets: their seeds,
    or as many as the task's claims need at that size (seeds 0…n−1, so the preset's are reused)."""
    if preset.name == "confirm":
        registration = load_registration()
        if registration is None:
            raise ConfigError(f"the confirm preset needs a pre-registration ({registration_path()}); write it "
                              "with run_suite.py preregister after a standard pilot")
        return confirmatory_seeds(task.name, registration)
    count = task.seed_count(preset.size)
    return preset.seeds if count is None else tuple(range(count))


def run_options(task: Task, *layers: dict[str, Any]) -> dict[str, Any]:
    """The run's full option dict: the task's defaults, then each layer (preset size, variant, command
    line) in turn, keeping only the task's own option names; typed and range-checked by the task."""
    names = option_names(task.Options)
    merged = {k: v for layer in layers for k, v in layer.items() if k in names}
    return task.options(RunConfig(task.name, options=merged)).as_dict()


SEED_RANGE = (0, 2**32 - 1)  # numpy's seeding accepts no more; torch's and random's accept these too


def _check_overrides(over: Overrides) -> None:
    """An override given but empty would silently mean "the preset's"; a seed must be seedable."""
    for name in ("tasks", "archs", "layers", "hidden", "seeds"):
        if getattr(over, name) == ():
            raise ConfigError(f"--{name} is empty; give at least one value or leave it out for the preset's")
    for seed in over.seeds or ():
        if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
            raise ConfigError(f"seed {seed} is out of range; valid: {SEED_RANGE[0]} to {SEED_RANGE[1]}")


def _with_steps(train: TrainConfig, steps: int | None, task: str, notices: list[str]) -> TrainConfig:
    """--steps replaces the task's budget; where that budget is in epochs, the epochs go (said once)."""
    if steps is None:
        return train
    if train.epochs is not None:
        notice = f"--steps {steps} replaces {task}'s budget of {train.epochs:g} epoch(s)"
        if notice not in notices:
            notices.append(notice)
    return dataclasses.replace(train, steps=steps, epochs=None)


# A fixed cap on generated data sizes (the options named *_sentences): generated sentences are held in
# memory, and a mistyped 1e9 would otherwise run until killed. The paper preset uses at most 100,000.
MAX_SENTENCES = 2_000_000
# An explicit size below this is generated once up front (cheap at that size), so data too small for one
# training batch is refused before any run instead of failing inside each.
PREPARE_CHECK_BELOW = 20_000


def check_data_sizes(configs: list[RunConfig], explicit: dict[str, Any]) -> None:
    """Sizes of generated data within [enough for one batch, MAX_SENTENCES]; ConfigError otherwise."""
    checked = set()
    for cfg in configs:
        sizes = {k: v for k, v in cfg.options.items() if k.endswith("_sentences") and isinstance(v, int)}
        for key, value in sizes.items():
            if value > MAX_SENTENCES:
                raise ConfigError(f"{cfg.task}: option {key}={value:,} is above the cap of {MAX_SENTENCES:,} "
                                  f"generated sentences; valid: 1 to {MAX_SENTENCES:,}")
        small = {k: v for k, v in sizes.items() if k in explicit and v < PREPARE_CHECK_BELOW}
        key = (cfg.task, tuple(sorted(cfg.options.items(), key=str)), cfg.train.batch_size, cfg.train.bptt)
        if small and key not in checked:
            checked.add(key)
            try:
                all_tasks()[cfg.task].prepare(cfg)
            except (ValueError, ConfigError) as exc:
                given = ", ".join(f"{k}={v}" for k, v in small.items())
                reason = (str(exc).splitlines() or [""])[0]
                raise ConfigError(f"{cfg.task}: {given} gives too little data for one batch ({reason}); give a "
                                  f"larger value (batch {cfg.train.batch_size} × BPTT {cfg.train.bptt})") from None


def _check_options(task_names, options: dict[str, Any]) -> None:
    known = {k for n in task_names for k in option_names(all_tasks()[n].Options)}
    for key in options:
        if key not in known:
            raise ConfigError(f"no selected task has option '{key}'; valid: {', '.join(sorted(known)) or 'none'}")
