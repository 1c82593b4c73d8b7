"""Paired, alternating timing in one process: the way to compare the speed of two pieces of code.

Two measurements taken in separate processes (or one after the other) differ by whatever else the machine
was doing at the time; here every contender runs in every round, in alternating order (A B, B A, A B, …), so
drift and noise hit them alike, and the comparison is made round by round: the ratio of their speeds in
each round, with a t-interval over rounds of its logarithm.

What is timed also depends on which kernels run it. torch sends some recurrent cells to a vendor library
(oneDNN's fused LSTM on CPU, cuDNN on CUDA) and others to its own generic cell loop, so a comparison of two
cells can be a comparison of two libraries. `framework_kernels` turns the vendor RNN libraries off, so that
every cell runs the same code path (aten/src/ATen/native/RNN.cpp) and differs only in its arithmetic.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Iterator, Mapping

import torch


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


@contextlib.contextmanager
def framework_kernels() -> Iterator[None]:
    """Within the block, recurrent layers run torch's own cell loop: oneDNN (CPU) and cuDNN (CUDA) are off."""
    with warnings.catch_warnings():
        # torch 2.x warns about TF32 on Intel GPUs whenever the oneDNN flags are set; it concerns no CPU run.
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
        with torch.backends.mkldnn.flags(enabled=False), torch.backends.cudnn.flags(enabled=False):
            yield


def vendor_rnn_kernels(device: str) -> str:
    """Which library runs torch's fused LSTM by default on `device` (for the record)."""
    if torch.device(device).type == "cuda":
        return "cudnn" if torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled else "none"
    return "onednn" if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else "none"
