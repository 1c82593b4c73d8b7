"""Tokens/s of the suite's trainer against a bare hand-written torch loop, on the same data.

The model is pytorch/examples word_language_model's default: 2-layer LSTM, embed = hidden = 200,
dropout 0.2, vocabulary 10k, batch 20, BPTT 35, SGD lr 20, clip 0.25. The two loops alternate
(suite.training.timing), so machine noise hits both alike; the median of each is reported with the ratio suite / bare.

    python benchmarks/trainer_speed.py [--rounds 5] [--steps 100] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from suite.core.config import ModelConfig, TrainConfig
from suite.data.batches import StreamBatcher
from suite.models.zoo import build_model
from suite.training.timing import alternate
from suite.judge.stats import ratio_interval
from suite.training.trainer import fit

VOCAB, HIDDEN, LAYERS, BATCH, BPTT, LR, CLIP, DROPOUT = 10_000, 200, 2, 20, 35, 20.0, 0.25, 0.2


def zipf_stream(tokens: int, seed: int = 0) -> torch.Tensor:
    """A Zipf-distributed token stream, so the softmax sees a realistic spread of word frequencies."""
    ranks = torch.arange(1, VOCAB + 1, dtype=torch.float)
    return torch.multinomial(1 / ranks, tokens, replacement=True, generator=torch.Generator().manual_seed(seed))


class BareLM(nn.Module):
    """The same network as pytorch/examples' RNNModel, written out by hand."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(DROPOUT)
        self.encoder = nn.Embedding(VOCAB, HIDDEN)
        self.rnn = nn.LSTM(HIDDEN, HIDDEN, LAYERS, dropout=DROPOUT, batch_first=True)
        self.decoder = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden


def bare_loop(stream: torch.Tensor, steps: int) -> float:
    """pytorch/examples' training loop: detach state, forward, backward, clip, manual SGD step."""
    torch.manual_seed(0)
    model = BareLM()
    model.train()
    data = StreamBatcher(stream, BATCH, BPTT)
    criterion = nn.CrossEntropyLoss()
    hidden, tokens = None, 0
    batches = iter(data.epoch())
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        hidden = None if hidden is None else tuple(h.detach() for h in hidden)
        model.zero_grad()
        output, hidden = model(batch.inputs, hidden)
        loss = criterion(output.reshape(-1, VOCAB), batch.targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)
        tokens += batch.targets.numel()
        loss.item()  # the example logs the loss; the suite reads it every step too
    return tokens / (time.perf_counter() - start)


def suite_loop(stream: torch.Tensor, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="lstm", layers=LAYERS, hidden=HIDDEN, dropout=DROPOUT), VOCAB)
    cfg = TrainConfig(optimizer="sgd", lr=LR, clip=CLIP, batch_size=BATCH, bptt=BPTT, steps=steps)
    result = fit(model, StreamBatcher(stream, BATCH, BPTT), None, cfg)
    return result.tokens_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps per measurement")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stream = zipf_stream(BATCH * BPTT * (args.steps + 1) + 1)
    speeds = alternate({"suite": lambda: suite_loop(stream, args.steps), "bare": lambda: bare_loop(stream, args.steps)},
                       args.rounds)
    for r, (suite_speed, bare_speed) in enumerate(zip(speeds["suite"], speeds["bare"]), 1):
        print(f"round {r}: suite {suite_speed:,.0f} tok/s   bare {bare_speed:,.0f} tok/s")
    suite_med, bare_med = statistics.median(speeds["suite"]), statistics.median(speeds["bare"])
    ratio = ratio_interval(speeds["suite"], speeds["bare"])
    print(f"median: suite {suite_med:,.0f} tok/s, bare torch loop {bare_med:,.0f} tok/s, "
          f"ratio suite/bare = {ratio.format()} (geometric mean over rounds, 95 % t-interval; "
          f"{args.threads} threads)")


if __name__ == "__main__":
    main()
