"""Plain-data configuration of one run: model, training recipe, task options, seed.

A RunConfig is the identity of a run: its hash names the cached result file. The fields of ModelConfig and
TrainConfig, like every task's options (suite/core/options.py), declare their valid range or choices with
`option`, and one validator (`check_fields`, `check_value`) refuses a bad value in one line that names the
field, what is valid and the value given. What a declaration cannot say (an architecture registered by a
plugin, a combination of fields) the layer that knows it checks (suite/models/zoo.py validate_model_config).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration a user asked for that cannot be run (bad name, impossible combination)."""


SKIP_ABBREVIATIONS = {"residual": "res", "highway": "hwy"}


# --------------------------------------------------------------------------- a field and its valid values


def option(default: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, choices: tuple = (), help: str = "") -> Any:
    """A dataclass field with its valid range (inclusive unless *_open) or its valid choices."""
    meta = {"low": low, "high": high, "low_open": low_open, "high_open": high_open,
            "choices": tuple(choices), "help": help}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)



def check_value(name: str, value: Any, hint: Any, meta: typing.Mapping) -> Any:
    """`value` as the annotated type, checked against the field's range or choices; one ConfigError naming
    `name`, what is valid and the value otherwise."""
    kinds = _kinds(hint)
    if value is None:
        if type(None) in kinds:
            return None
        raise ConfigError(f"{name} must be {_describe(kinds, meta)}; got null")
    for kind in kinds:
        converted = _convert(value, kind)
        if converted is not _NO:
            _check_range(name, converted, kinds, meta)
            return converted
    raise ConfigError(f"{name} must be {_describe(kinds, meta)}; got {value!r}")


_NO = object()


def _kinds(hint: Any) -> tuple:
    """The accepted Python types of an annotation: `int | None` → (int, NoneType)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(a for arg in typing.get_args(hint) for a in _kinds(arg))
    return (typing.get_origin(hint) or hint,)


def _convert(value: Any, kind: type) -> Any:
    """`value` as `kind`, or _NO. Booleans are never numbers; whole floats may be ints (JSON's 1.0)."""
    if kind is bool:
        return value if isinstance(value, bool) else _NO
    if isinstance(value, bool):
        return _NO
    if kind is int:
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) and value.is_integer() else _NO
    if kind is float:
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else _NO
    if kind is str:
        return value if isinstance(value, str) else _NO
    if kind in (list, tuple):
        return list(value) if isinstance(value, (list, tuple)) else _NO
    if kind is dict:
        return dict(value) if isinstance(value, dict) else _NO
    return value if isinstance(value, kind) else _NO


def _check_range(name: str, value: Any, kinds: tuple, meta: typing.Mapping) -> None:
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, (int, float)) or isinstance(item, bool):
            continue
        low, high = meta.get("low"), meta.get("high")
        too_low = low is not None and (item <= low if meta.get("low_open") else item < low)
        too_high = high is not None and (item >= high if meta.get("high_open") else item > high)
        if too_low or too_high:
            raise ConfigError(f"{name} must be {_describe(kinds, meta)}; got {value!r}")


def _describe(kinds: tuple, meta: typing.Mapping) -> str:
    """'an integer ≥ 1', 'a number in (0, 0.5)', 'true or false', 'one of word, bpe', 'a number > 0 or null' …"""
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "a JSON object"}
    values = [k for k in kinds if k is not type(None)]
    text = " or ".join(names.get(k, k.__name__) for k in values) if values else "null"
    if list in kinds or tuple in kinds:
        text += " of numbers"
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        text = f"{text} in {'(' if meta['low_open'] else '['}{low:g}, {high:g}{')' if meta['high_open'] else ']'}"
    elif low is not None:
        text = f"{text} {'>' if meta['low_open'] else '≥'} {low:g}"
    elif high is not None:
        text = f"{text} {'<' if meta['high_open'] else '≤'} {high:g}"
    # null last, so a range reads with the number it bounds ("a number > 0 or null", not "… or null > 0")
    return f"{text} or null" if values and type(None) in kinds else text


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_fields(config: Any, where: str) -> None:
    """Check every field of a config dataclass against its type and declared range or choices, without
    changing it (its values are part of the run id); one ConfigError such as "model hidden must be an
    integer ≥ 1; got 0" on the first bad field."""
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        check_value(f"{where} {f.name}", getattr(config, f.name), hints[f.name], f.metadata)


# --------------------------------------------------------------------------- the configs


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lstm"  # a registered architecture (plugins add some): checked by the zoo
    layers: int = option(1, low=1)
    hidden: int = option(128, low=1)
    embed: int = option(0, low=0)  # 0 means "same as hidden"
    dropout: float = option(0.0, low=0, high=1, high_open=True)
    # between stacked layers: residual (x + f(x)) or highway (gated)
    skip: str = option("none", choices=("none", "residual", "highway"))
    tie_weights: bool = False  # share embedding and output matrices (needs embed == hidden)
    bidirectional: bool = False  # only for tasks whose objective is not language modelling
    forget_bias: float | None = None  # LSTM: total forget-gate bias; None keeps torch's init
    init: str = option("default", choices=("default", "orthogonal", "identity"))
    spectral_radius: float | None = option(None, low=0, low_open=True)  # rescale every recurrent matrix to it
    # language models: full or adaptive (Grave et al. 2017, for large word vocabularies)
    softmax: str = option("full", choices=("full", "adaptive"))
    # adaptive: frequency-rank boundaries of the clusters, increasing; () = V/16, V/4
    adaptive_cutoffs: tuple[int, ...] = option((), low=1)
    # The architecture whose parameter count this model's hidden size was chosen to match (e.g. a GRU widened to
    # an LSTM's count); a label, not a rule: the hidden size stays explicit. Tables show it ('gru≈lstm'), so such
    # a model never stands in for the plain architecture in a claim.
    sized_as: str = ""

    def __post_init__(self):
        object.__setattr__(self, "adaptive_cutoffs", tuple(self.adaptive_cutoffs))  # JSON gives a list

    @property
    def embed_size(self) -> int:
        return self.embed or self.hidden

    @property
    def label(self) -> str:
        """Short human name used in tables and plots, e.g. 'lstm', 'lstm×2+res', 'bi-gru', 'lstm+adaptive'."""
        name = ("bi-" if self.bidirectional else "") + self.arch
        if self.layers > 1:
            name += f"×{self.layers}"
        if self.skip != "none" and self.layers > 1:
            name += "+" + SKIP_ABBREVIATIONS[self.skip]
        if self.softmax != "full":  # tables keep full- and adaptive-softmax runs of one model apart
            name += "+" + self.softmax
        if self.sized_as:
            name += "≈" + self.sized_as
        return name


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = option("adamw", choices=("adamw", "sgd"))
    lr: float = option(3e-3, low=0, low_open=True)
    weight_decay: float = 0.0
    momentum: float = 0.0  # sgd only
    batch_size: int = option(32, low=1)
    bptt: int = option(64, low=1)  # truncated-BPTT window for stream tasks
    steps: int = option(1000, low=1)  # optimiser steps (upper bound)
    epochs: float | None = None  # if set, steps = epochs × batches per epoch
    max_seconds: float | None = None  # wall-clock budget for training
    clip: float | None = option(1.0, low=0, low_open=True)  # gradient-norm clipping threshold; None = no clipping
    schedule: str = option("constant", choices=("constant", "cosine", "plateau"))
    warmup_steps: int = 0
    plateau_factor: float = 4.0  # plateau: divide lr by this when validation loss stalls
    eval_every: int = 0  # steps between validations; 0 = 10 evaluations per run (or once per epoch)
    eval_batches: int = 0  # validation batches per evaluation; 0 = the whole validation split
    patience: int | None = None  # early stopping after this many evaluations without improvement
    loss_spike_factor: float = 3.0  # a step whose loss exceeds this × running mean counts as a spike
    # bf16: autocast for forward and loss; weights and optimiser stay fp32 (suite/training/trainer.py PRECISIONS)
    precision: str = option("fp32", choices=("fp32", "bf16"))


@dataclass(frozen=True)
class RunConfig:
    task: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # task-specific, JSON-serialisable
    device: str = "cpu"
    # What else changes a run's numbers, so that it is part of the run id (the cache key): the version of
    # the code the run executes (suite/run/code_version.py: a record made by code that computes different
    # numbers is never reused), the torch version, on CPU the intra-op thread count (a different split of each matrix product changes the last
    # digits of every metric, so a run with 1 thread is not the run with 2), and a hash of the source of
    # any plugin module that registered the run's architecture or task (a plugin that registers its own
    # `lstm` must not be served the built-in lstm's results). Filled in by suite.run.identity.identify;
    # changing --workers therefore changes threads and reruns the sweep, which is the honest price.
    identity: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        return cls(
            task=d["task"],
            model=ModelConfig(**d["model"]),
            train=TrainConfig(**d["train"]),
            seed=d["seed"],
            options=dict(d.get("options", {})),
            device=d.get("device", "cpu"),
            identity=dict(d.get("identity", {})),
        )

    @property
    def run_id(self) -> str:
        """Stable hash of the full config: the cache key of this run."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def request_id(self) -> str:
        """The hash of what was asked for, without the identity: `report` and `eval` find a finished run
        by it even when it ran with another thread count or torch version."""
        return dataclasses.replace(self, identity={}).run_id


def replace(obj, **changes):
    """dataclasses.replace that ignores None values, so CLI overrides can be passed through blindly."""
    return dataclasses.replace(obj, **{k: v for k, v in changes.items() if v is not None})
