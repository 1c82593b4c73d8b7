"""The cost of a GRU against an LSTM of the same hidden size: parameters, and training speed timed in pairs.

One run builds both models from the run's model config (same layers, hidden and embedding sizes, the arch
set to each in turn) and times the suite's own training loop on each, alternating within one process
(suite.training.timing): each round trains every (kernel path, cell) pair for `train.steps` steps, the
order reversed every other round, so machine noise hits all alike. The vocabulary is small (100 by
default) so that the recurrent cell, whose cost the claim is about, dominates the step rather than the
softmax. Quality is not measured here: the report takes it from other tasks' records.

Two kernel paths, because the answer depends on them:
- `default`: torch's defaults. On CPU nn.LSTM runs oneDNN's fused kernel and nn.GRU torch's generic cell
  loop, so the figure compares two libraries — an implementation fact, reported as such. Here (quick size,
  1 thread) the GRU ran at 0.62× [0.54, 0.72] the LSTM's tokens/s.
- `same_path`: the vendor RNN libraries off (suite.training.timing.framework_kernels), both cells through
  torch's own loop, differing only in their arithmetic: the GRU ran at 1.26× (hidden 128), near the 4/3 its
  fewer multiply-adds allow. The claim is judged on this path.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, replace, option
from suite.core.options import TaskOptions
from suite.data.batches import StreamBatcher
from suite.models.zoo import build_model, count_parameters
from suite.task import RunOutcome, Task, TaskSettings, by_size, register_task
from suite.training.timing import alternate, framework_kernels, vendor_rnn_kernels
from suite.training.trainer import TrainResult, fit

PAIR = ("lstm", "gru")  # baseline first: the ratio is GRU over LSTM
PATHS = {"default": contextlib.nullcontext, "same_path": framework_kernels}
JUDGED_PATH = "same_path"


@dataclass(frozen=True)
class CostOptions(TaskOptions):
    rounds: int = option(7, low=2, high=1000, help="timed rounds; each trains every (path, cell) pair train.steps steps")
    vocab_size: int = option(100, low=4, high=1_000_000,
                             help="tokens of the random stream; small, so the recurrent cell dominates the step")


def recurrent_parameters(model: nn.Module) -> int:
    """Parameters of the fused recurrent layers only (no embedding, head or skip gates)."""
    return sum(p.numel() for name, p in model.named_parameters() if ".rnn." in name)


def measure_name(path: str, arch: str) -> str:
    return f"{path}_{arch}"


@register_task
class GruVsLstm(Task):
    name = "gru_vs_lstm"
    description = "GRU against an LSTM of the same hidden size: parameters, and training tokens/s timed in pairs"
    objective = "lm"
    Options = CostOptions

    def settings(self, size: str) -> TaskSettings:
        # A round trains 4 (path, cell) pairs for `steps` steps; standard: 8 rounds (1 warm-up) × 4 × 10 steps
        # at hidden 128. Per-round log-ratio SD on the judged path ≈ 0.05–0.1 here, so 7 rounds a run already
        # resolve a 10 % difference; the seeds add machine states, not precision.
        s = by_size(size, steps=(3, 10, 10, 50), rounds=(2, 5, 7, 15), hidden=(32, 128, 128, 256))
        return TaskSettings(train=TrainConfig(steps=s["steps"], batch_size=32, bptt=35, lr=1e-3, clip=1.0),
                            model={"hidden": s["hidden"]}, options={"rounds": s["rounds"]})

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        # The pair is one run, recorded under the GRU: a single-layer LSTM or GRU in the sweep asks for it
        # (the same config twice is one run id, so it runs once); stacks and other cells add nothing to a
        # claim about the cell, and would only add runs.
        if model.arch not in PAIR or model.bidirectional or model.layers != 1:
            return []
        return [{"model": {"arch": "gru"}}]

    def validate(self, cfg: RunConfig) -> None:
        if cfg.model.arch != "gru":
            raise ConfigError(f"gru_vs_lstm times a GRU against its LSTM twin; its runs are GRUs "
                              f"(got '{cfg.model.arch}')")

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Not a training run to evaluate: a paired timing of two models on two kernel paths, one stream."""
        opts = self.options(cfg)
        generator = torch.Generator().manual_seed(cfg.seed)
        tokens = cfg.train.batch_size * cfg.train.bptt * (cfg.train.steps + 1) + 1
        batcher = StreamBatcher(torch.randint(0, opts.vocab_size, (tokens,), generator=generator),
                                cfg.train.batch_size, cfg.train.bptt)
        models, results = {}, {}
        for arch in PAIR:
            torch.manual_seed(cfg.seed)
            models[arch] = build_model(replace(cfg.model, arch=arch), opts.vocab_size, self.objective).to(cfg.device)

        def train_and_time(path: str, arch: str) -> float:
            with PATHS[path]():
                result = fit(models[arch], batcher, None, cfg.train, seed=cfg.seed, device=cfg.device)
            results.setdefault(measure_name(path, arch), []).append(result)
            return result.tokens_per_second

        speeds = alternate({measure_name(p, a): partial(train_and_time, p, a) for p in PATHS for a in PAIR},
                           opts.rounds)
        metrics = {f"{arch}_{what}": value for arch in PAIR for what, value in (
            ("parameters", count_parameters(models[arch])),
            ("recurrent_parameters", recurrent_parameters(models[arch])))}
        metrics.update({f"{name}_round_tokens_per_second": values for name, values in speeds.items()})
        metrics.update(rounds=opts.rounds, paths=list(PATHS), judged_path=JUDGED_PATH,
                       default_rnn_library=vendor_rnn_kernels(cfg.device))
        judged = results[measure_name(JUDGED_PATH, "gru")][-opts.rounds:]
        return RunOutcome(summed(judged), metrics, metrics["gru_parameters"], model=models["gru"])


def summed(results: list[TrainResult]) -> TrainResult:
    """The timed rounds of one model as one training result (the record's tokens/s and status)."""
    diverged = [r for r in results if r.status != "ok"]
    return TrainResult(status=diverged[0].status if diverged else "ok",
                       divergence=diverged[0].divergence if diverged else None,
                       steps=sum(r.steps for r in results), train_tokens=sum(r.train_tokens for r in results),
                       train_seconds=sum(r.train_seconds for r in results))
