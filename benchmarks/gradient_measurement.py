#!/usr/bin/env python
"""What measuring ‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ for all j < i costs, against one training step (issue 5).

Prints, per architecture, the median time of one fused training step's backward pass (loss over
all T positions, as `suite.training.trainer.fit` computes it), of a whole training step (forward + backward),
and of one gradient-flow measurement (`suite.training.gradients.measure`: step-by-step forward with probes
plus ONE backward pass), in float32 and in float64 (what the `gradients` task uses); and the ratio
measurement / training backward. The naive alternative, one backward per distance, would cost ≈ T
training backwards. Run on an otherwise idle machine:

    python benchmarks/gradient_measurement.py --steps 200 --hidden 128 --batch 32
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from suite.core.config import ModelConfig
from suite.training.gradients import measure
from suite.models.zoo import build_model
from suite.training.trainer import loss_fn


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, lazy init)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_backward(model, inputs, targets, repeats: int) -> tuple[float, float]:
    """(backward only, forward + backward) of one fused training step."""
    def forward():
        output, _ = model(inputs)
        return loss_fn(output, targets)

    def backward_only():
        loss = forward()
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss.backward()
        return time.perf_counter() - start

    backward_only()
    backward = statistics.median(backward_only() for _ in range(repeats))

    def step():
        model.zero_grad(set_to_none=True)
        forward().backward()
    return backward, median_seconds(step, repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200, help="sequence length T")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--archs", default="rnn_tanh,lstm,gru")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    inputs = torch.randint(args.vocab, (args.batch, args.steps))
    targets = torch.randint(args.vocab, (args.batch, args.steps))
    positions = torch.full((args.batch,), args.steps - 1)
    last = targets[:, -1]
    print(f"T={args.steps} hidden={args.hidden} batch={args.batch} vocab={args.vocab} threads={args.threads} "
          f"torch={torch.__version__}")
    print(f"{'arch':<9} {'train bwd':>10} {'train step':>11} {'measure f32':>12} {'measure f64':>12} "
          f"{'f32/bwd':>8} {'f64/bwd':>8} {'naive/bwd':>10}")
    for arch in args.archs.split(","):
        model = build_model(ModelConfig(arch=arch, hidden=args.hidden), args.vocab, "lm")
        backward, step = training_backward(model, inputs, targets, args.repeats)
        m32 = median_seconds(lambda: measure(model, inputs, positions, last), args.repeats)
        model64 = copy.deepcopy(model).double()
        m64 = median_seconds(lambda: measure(model64, inputs, positions, last), args.repeats)
        print(f"{arch:<9} {backward * 1e3:>8.1f}ms {step * 1e3:>9.1f}ms {m32 * 1e3:>10.1f}ms {m64 * 1e3:>10.1f}ms "
              f"{m32 / backward:>8.1f} {m64 / backward:>8.1f} {args.steps:>10d}")


if __name__ == "__main__":
    main()
