"""The architecture registry: a name → how to build it. Its own module so that every file defining
architectures (suite/models/zoo.py, suite/models/transformer.py, a user's plugin) imports it without importing
each other."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from suite.core.config import ModelConfig

ModelBuilder = Callable[[ModelConfig, int, str, int], nn.Module]


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    build: ModelBuilder  # (config, vocab_size, objective, num_outputs) -> model
    recurrent: bool = True  # has a hidden state and a step_by_step path
    fused: bool = True  # trains on torch's fused kernels
    tunable_init: bool = True  # honours init / spectral_radius / forget_bias
    check: Callable[[ModelConfig], None] | None = None  # extra validation: raises ConfigError


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> Architecture:
    """Add an architecture to the zoo (plugins call this, or `register_cell`)."""
    ARCHITECTURES[arch.name] = arch
    return arch
