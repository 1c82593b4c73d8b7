"""The one task-option validator: types, ranges and choices, one line naming option, range and value."""
from dataclasses import dataclass

import pytest

from suite.core.config import ConfigError, option
from suite.core.options import TaskOptions, option_names, parse_options


@dataclass(frozen=True)
class Example(TaskOptions):
    sentences: int = option(100, low=1)
    fraction: float = option(0.2, low=0, high=0.5, low_open=True, high_open=True)
    nonce: bool = False
    tokenizer: str = option("word", choices=("word", "bpe"))
    distances: list = option([5, 10], low=1)
    target: float | None = None


def test_defaults_fill_in_and_values_normalise():
    opts = parse_options(Example, {"fraction": 0.25, "sentences": 10.0})
    assert opts == Example(sentences=10, fraction=0.25)
    assert isinstance(opts.sentences, int) and isinstance(parse_options(Example, {"fraction": 0.1}).fraction, float)
    assert parse_options(Example, {}).as_dict()["distances"] == [5, 10]
    assert option_names(Example) == ("sentences", "fraction", "nonce", "tokenizer", "distances", "target")


@pytest.mark.parametrize("raw, message", [
    ({"fraction": "abc"}, "t option fraction must be a number in (0, 0.5); got 'abc'"),
    ({"fraction": None}, "t option fraction must be a number in (0, 0.5); got null"),
    ({"fraction": 0.5}, "t option fraction must be a number in (0, 0.5); got 0.5"),
    ({"sentences": 0}, "t option sentences must be an integer ≥ 1; got 0"),
    ({"sentences": 1.5}, "t option sentences must be an integer ≥ 1; got 1.5"),
    ({"sentences": True}, "t option sentences must be an integer ≥ 1; got True"),
    ({"nonce": "abc"}, "t option nonce must be true or false; got 'abc'"),
    ({"tokenizer": "chars"}, "t option tokenizer must be one of word, bpe; got 'chars'"),
    ({"distances": [5, 0]}, "t option distances must be a list of numbers ≥ 1; got [5, 0]"),
    ({"colour": 1}, "unknown t option 'colour'; valid: sentences, fraction, nonce, tokenizer, distances, target"),
])
def test_bad_values_name_the_option_its_range_and_the_value(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_options(Example, raw, task="t")
    assert str(err.value) == message


def test_optional_fields_take_null():
    assert parse_options(Example, {"target": None}).target is None
    assert parse_options(Example, {"target": 3}).target == 3.0


