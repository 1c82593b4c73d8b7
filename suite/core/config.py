"""Plain-data configuration of one run: model, training recipe, task options, seed.

A RunConfig is the identity of a run: its hash names the cached result file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration a user asked for that cannot be run (bad name, impossible combination)."""


SKIP_ABBREVIATIONS = {"residual": "res", "highway": "hwy"}


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lstm"
    layers: int = 1
    hidden: int = 128
    embed: int = 0  # 0 means "same as hidden"
    dropout: float = 0.0
    skip: str = "none"  # between stacked layers: none | residual (x + f(x)) | highway (gated)
    tie_weights: bool = False  # share embedding and output matrices (needs embed == hidden)
    bidirectional: bool = False  # only for tasks whose objective is not language modelling
    forget_bias: float | None = None  # LSTM: total forget-gate bias; None keeps torch's init
    init: str = "default"  # default | orthogonal | identity
    spectral_radius: float | None = None  # rescale every recurrent matrix to this spectral radius
    softmax: str = "full"  # language models: full | adaptive (Grave et al. 2017, for large word vocabularies)
    adaptive_cutoffs: tuple[int, ...] = ()  # adaptive: frequency-rank boundaries of the clusters; () = V/16, V/4

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
        return name


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 3e-3
    weight_decay: float = 0.0
    momentum: float = 0.0  # sgd only
    batch_size: int = 32
    bptt: int = 64  # truncated-BPTT window for stream tasks
    steps: int = 1000  # optimiser steps (upper bound)
    epochs: float | None = None  # if set, steps = epochs × batches per epoch
    max_seconds: float | None = None  # wall-clock budget for training
    clip: float | None = 1.0  # gradient-norm clipping threshold; None = no clipping
    schedule: str = "constant"  # constant | cosine | plateau
    warmup_steps: int = 0
    plateau_factor: float = 4.0  # plateau: divide lr by this when validation loss stalls
    eval_every: int = 0  # steps between validations; 0 = 10 evaluations per run (or once per epoch)
    eval_batches: int = 0  # validation batches per evaluation; 0 = the whole validation split
    patience: int | None = None  # early stopping after this many evaluations without improvement
    loss_spike_factor: float = 3.0  # a step whose loss exceeds this × running mean counts as a spike
    precision: str = "fp32"  # fp32 | bf16 (autocast for forward and loss; weights and optimiser stay fp32)


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
