"""Paired, alternating timing: the order of calls, the ratio's interval over rounds, and the kernel path."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from suite.training.timing import alternate, framework_kernels, vendor_rnn_kernels
from suite.judge.stats import ratio_interval


def test_alternate_reverses_the_order_every_other_round_after_a_warmup():
    calls = []
    counter = itertools.count()

    def measure(name):
        calls.append(name)
        return float(next(counter))

    values = alternate({"a": lambda: measure("a"), "b": lambda: measure("b")}, rounds=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then A B, B A, A B
    assert values == {"a": [2.0, 5.0, 6.0], "b": [3.0, 4.0, 7.0]}


def test_ratio_interval_is_the_geometric_mean_with_a_t_interval_on_the_log_scale():
    ratio = ratio_interval([2.0, 4.0, 8.0], [1.0, 1.0, 2.0])  # per-round ratios 2, 4, 4
    logs = np.log([2.0, 4.0, 4.0])
    half = stats.t.ppf(0.975, 2) * stats.sem(logs)
    assert ratio.mean == pytest.approx(math.exp(logs.mean()))
    assert (ratio.low, ratio.high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    with pytest.raises(ValueError):
        ratio_interval([1.0], [1.0, 2.0])


def test_framework_kernels_turn_the_vendor_rnn_libraries_off_and_back_on():
    before = (torch.backends.mkldnn.enabled, torch.backends.cudnn.enabled)
    with framework_kernels():
        assert not torch.backends.mkldnn.enabled and not torch.backends.cudnn.enabled
    assert (torch.backends.mkldnn.enabled, torch.backends.cudnn.enabled) == before
    assert vendor_rnn_kernels("cpu") in ("onednn", "none")


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_the_same_code_path_computes_the_same_function(cell):
    """Only the kernels change: outputs and gradients agree with torch's default path."""
    torch.manual_seed(0)
    layer, x = cell(8, 16, batch_first=True), torch.randn(4, 7, 8)

    def run():
        layer.zero_grad()
        y, _ = layer(x)
        y.square().sum().backward()
        return y.detach(), [p.grad.clone() for p in layer.parameters()]

    y1, g1 = run()
    with framework_kernels():
        y2, g2 = run()
    assert torch.allclose(y1, y2, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g1, g2))
