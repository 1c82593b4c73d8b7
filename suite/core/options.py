"""Task options: one frozen dataclass per task, checked by one validator before anything runs.

A task declares its options as a dataclass whose fields carry their valid range:

    @dataclass(frozen=True)
    class GrammarOptions(TaskOptions):
        train_sentences: int = option(20000, low=1, help="training sentences")
        modifier_prob: float = option(0.35, low=0, high=1, high_open=True)

`parse_options(GrammarOptions, {"train_sentences": "abc"})` raises one ConfigError naming the option,
its valid range and the value given, so a mistyped `--option` never reaches training.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from suite.core.config import ConfigError


@dataclass(frozen=True)
class TaskOptions:
    """Base class of every task's options (a frozen dataclass of plain JSON values)."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def option(default: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, choices: tuple = (), help: str = "") -> Any:
    """A dataclass field with its valid range (inclusive unless *_open) or its valid choices."""
    meta = {"low": low, "high": high, "low_open": low_open, "high_open": high_open,
            "choices": tuple(choices), "help": help}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


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
            values[f.name] = _check(f"{where} {f.name}", raw[f.name], hints[f.name], f.metadata)
    return cls(**values)


def _check(name: str, value: Any, hint: Any, meta: typing.Mapping) -> Any:
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
    """'an integer ≥ 1', 'a number in (0, 0.5)', 'true or false', 'one of word, bpe' …"""
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "a JSON object", type(None): "null"}
    text = " or ".join(names.get(k, k.__name__) for k in kinds)
    if list in kinds or tuple in kinds:
        text += " of numbers"
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        return f"{text} in {'(' if meta['low_open'] else '['}{low:g}, {high:g}{')' if meta['high_open'] else ']'}"
    if low is not None:
        return f"{text} {'>' if meta['low_open'] else '≥'} {low:g}"
    if high is not None:
        return f"{text} {'<' if meta['high_open'] else '≤'} {high:g}"
    return text
