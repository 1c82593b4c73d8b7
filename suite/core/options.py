"""Task options: one frozen dataclass per task, checked by one validator before anything runs.

A task declares its options as a dataclass whose fields carry their valid range (`option`, from
suite/core/config.py, where ModelConfig and TrainConfig declare theirs the same way):

    @dataclass(frozen=True)
    class GrammarOptions(TaskOptions):
        train_sentences: int = option(20000, low=1, help="training sentences")
        modifier_prob: float = option(0.35, low=0, high=1, high_open=True)

`parse_options(GrammarOptions, {"train_sentences": "abc"})` raises one ConfigError naming the option,
its valid range and the value given, so a mistyped `--option` never reaches training.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from suite.core.config import ConfigError, check_value


@dataclass(frozen=True)
class TaskOptions:
    """Base class of every task's options (a frozen dataclass of plain JSON values)."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def option_names(cls: type[TaskOptions]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def parse_options(cls: type[TaskOptions], raw: dict[str, Any], task: str = "") -> TaskOptions:
    """Validate and normalise `raw` (defaults filled in); raise one ConfigError on the first problem."""
    where = f"{task} option" if task else "option"
    names = option_names(cls)
    for key in raw:
        if key not in names:
            raise ConfigError(f"unknown {where} '{key}'; valid: {', '.join(names) or 'none'}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            values[f.name] = check_value(f"{where} {f.name}", raw[f.name], hints[f.name], f.metadata)
    return cls(**values)
