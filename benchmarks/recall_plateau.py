#!/usr/bin/env python
"""Why the recall task's tanh RNN never learns, even at the shortest distances (issue 19, item 2).

The suite's recall runs put rnn_tanh at chance (1/24) at every distance, d = 5 included. Is that the suite's
code, the training distribution (0–40 filler tokens), or the plain tanh RNN under this budget? This script
takes the suite out of the loop: bare torch (nn.Embedding → nn.RNN / nn.GRU → nn.Linear, AdamW, clipping 1.0,
batch 32, loss on the recalled key only) trained on the suite's own recall stories with only 0–5 filler
tokens, and prints the key accuracy on the training batch every 500 steps.

    python benchmarks/recall_plateau.py                      # tanh 4000 steps, then gru 1000 (≈ 2 min, 1 thread)
    python benchmarks/recall_plateau.py --cells tanh --lr 0.003 --steps 2000

Measured with this script, 3 Dec 2026 (seed 0, stories of seed 100, one thread; key accuracy on a training batch
of 32): tanh at lr 1e-3 is at chance through step 1000 (loss 3.18 ≈ ln 24), leaves the plateau after it and
reaches 0.59 at 4000; at lr 3e-3 it is at 0.22 at step 1000 and stalls near 0.69 from step 2000 to 3000; at 1e-2
and 3e-4 it is at chance at step 1000. The GRU is at 1.0 by step 500. The suite's recall budget is 1000 steps a
grid point, so a tanh RNN cannot show a memory span there even when every story has at most 5 filler tokens;
the step budget that might let it (several times more, for every architecture) did not fit the reference run.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.data.batches import Vocab  # noqa: E402
from tasks.recall.scoring import story_example  # noqa: E402
from tasks.recall.task import RecallOptions, story_splits  # noqa: E402


class KeyRecaller(nn.Module):
    """The smallest model the suite's recall LM reduces to: embedding, one recurrent layer, output layer."""

    def __init__(self, cell: str, vocab: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = (nn.RNN(hidden, hidden, nonlinearity=cell, batch_first=True) if cell in ("tanh", "relu")
                    else nn.GRU(hidden, hidden, batch_first=True))
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.embed(tokens))[0])


def batches(examples: list, batch_size: int, rng: random.Random):
    while True:
        rng.shuffle(examples)
        for start in range(0, len(examples) - batch_size, batch_size):
            chunk = examples[start:start + batch_size]
            tokens = pad_sequence([torch.tensor(e.tokens) for e in chunk], batch_first=True)
            targets = pad_sequence([torch.tensor(e.target) for e in chunk], batch_first=True, padding_value=-100)
            yield tokens, targets


def train(cell: str, steps: int, lr: float, examples: list, vocab: int, hidden: int, seed: int) -> None:
    torch.manual_seed(seed)
    model = KeyRecaller(cell, vocab, hidden)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    stream = batches(list(examples), 32, random.Random(seed))
    for step in range(steps + 1):
        tokens, targets = next(stream)
        logits = model(tokens)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if step % 500 == 0:
            keyed = targets != -100
            accuracy = (logits.argmax(-1)[keyed] == targets[keyed]).float().mean().item()
            print(f"{cell:<5} lr {lr:g}  step {step:>5}  loss {loss.item():.3f}  key accuracy {accuracy:.2f}",
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="tanh,gru", help="comma-separated: tanh, relu, gru")
    parser.add_argument("--steps", default="4000,1000", help="steps per cell, comma-separated")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the suite's per-worker setting on 2 cores
    options = RecallOptions(train_distances=[0, 5], test_distances=[5], valid_distances=[5])
    stories = story_splits(options, 100)
    vocab = Vocab.from_corpus([*(s.tokens for s in stories.train), list(stories.items)])
    examples = [story_example(s, vocab, "key") for s in stories.train]
    cells, steps = args.cells.split(","), [int(s) for s in args.steps.split(",")]
    for cell, n in zip(cells, steps + steps[-1:] * len(cells)):
        train(cell, n, args.lr, examples, len(vocab), 64, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
