"""Paired, alternating timing in one process: the way to compare the speed of two pieces of code.

Two measurements taken in separate processes (or one after the other) differ by whatever else the machine
was doing at the time; here both contenders run in every round, in alternating order (A B, B A, A B, …), so
drift and noise hit them alike, and the comparison is made round by round: the ratio of their speeds in
each round, with a t-interval over rounds of its logarithm.
"""
from __future__ import annotations

from typing import Callable, Mapping



def alternate(measures: Mapping[str, Callable[[], float]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Call every measurement once per round, reversing the order every other round; return each one's
    values by name, one per round. `warmup` untimed rounds go first (allocator, kernels, caches)."""
    if rounds < 1:
        raise ValueError("need at least one round")
    names = list(measures)
    for _ in range(warmup):
        for name in names:
            measures[name]()
    values: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            values[name].append(float(measures[name]()))
    return values
