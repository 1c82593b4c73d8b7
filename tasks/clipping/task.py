"""The `clipping` task: rnn_tanh and lstm trained with a large recurrent initialisation and a large SGD
learning rate, with and without norm clipping. Each run trains several replicate models (own seeds, same
data), so the diverged fraction is a proportion over independent trainings: the replicate is the unit."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from suite.core.config import RunConfig, TrainConfig
from suite.data.batches import StreamBatcher, Vocab, sentence_stream
from suite.data.grammar import generate
from suite.models.zoo import build_model, count_parameters
from suite.core.options import TaskOptions, option
from suite.task import RunOutcome, Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import TrainResult, evaluate_loss, fit

CLIP_ARCHS = ("rnn_tanh", "lstm")
# Thresholds per size (None = no clipping); the claim compares no clipping with the smallest one.
CLIP_THRESHOLDS = {"smoke": (None, 1.0), "quick": (None, 5.0, 1.0), "standard": (None, 5.0, 1.0, 0.25),
                   "paper": (None, 10.0, 5.0, 1.0, 0.25)}
# SGD step sizes at which unclipped training is unstable: the LSTM's saturated gates pass ~20× smaller
# gradients than the tanh RNN at this init, so it needs a larger step to blow up.
CLIP_LR = {"rnn_tanh": 10.0, "lstm": 50.0}
INIT_RADIUS = 3.0  # spectral radius of every recurrent gate block at initialisation
SUMMED = ("steps", "train_tokens", "train_seconds", "loss_spikes", "clipped_steps")


@dataclass(frozen=True)
class ClippingOptions(TaskOptions):
    replicates: int = option(4, low=1, help="independent trainings per run (the unit of the diverged fraction)")
    train_sentences: int = option(2000, low=1, help="grammar sentences to train on")
    valid_sentences: int = option(200, low=1, help="grammar sentences for the held-out loss")


@register_task
class Clipping(Task):
    name = "clipping"
    description = "exploding gradients: large recurrent init and SGD step, with and without norm clipping"
    objective = "lm"
    headline = ()  # pooled over thresholds per label it would mean nothing; see clipping_divergence
    Options = ClippingOptions

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=(20, 150, 200, 1000), hidden=(16, 64, 64, 128), replicates=(2, 4, 4, 10),
                    sentences=(300, 2000, 3000, 10000))
        return TaskSettings(
            train=TrainConfig(optimizer="sgd", lr=10.0, steps=s["steps"], batch_size=16, bptt=32, clip=None,
                              eval_every=s["steps"]),
            model={"hidden": s["hidden"]},
            options={"replicates": s["replicates"], "train_sentences": s["sentences"]})

    def variants(self, model, size: str) -> list[dict[str, dict[str, Any]]]:
        if model.arch not in CLIP_ARCHS or model.layers != 1 or model.bidirectional:
            return []
        large_init = {"init": "orthogonal", "spectral_radius": INIT_RADIUS}
        # config.replace drops None values, so "no clipping" is the settings' own clip=None.
        return [{"model": large_init, "train": {"lr": CLIP_LR[model.arch], **({"clip": c} if c is not None else {})}}
                for c in CLIP_THRESHOLDS[size]]

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = self.options(cfg)
        train = generate(opts.train_sentences, seed=cfg.seed * 1000 + 11)
        valid = generate(opts.valid_sentences, seed=cfg.seed * 1000 + 12)
        vocab = Vocab.from_corpus(s.tokens for s in train)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        streams = [StreamBatcher(sentence_stream((s.tokens for s in split), vocab), bs, bptt)
                   for split in (train, valid)]
        return TaskData(streams[0], streams[1], vocab)

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Train `replicates` models from seeds derived from the run's seed; record each one's fate."""
        data = self.prepare(cfg)
        replicas, total, model = [], TrainResult(), None
        for r in range(self.options(cfg).replicates):
            seed = cfg.seed * 1000 + r
            torch.manual_seed(seed)
            model = build_model(cfg.model, len(data.vocab), "lm").to(cfg.device)
            result = fit(model, data.train, None, cfg.train, seed=seed, device=cfg.device, progress=progress)
            valid = evaluate_loss(model, data.valid, cfg.device) if result.status == "ok" else None
            replicas.append(replica_record(seed, result, valid, math.log(len(data.vocab))))
            for name in SUMMED:  # the run's TrainResult sums its replicates' work; divergence is a measurement
                setattr(total, name, getattr(total, name) + getattr(result, name))
        return RunOutcome(total, clipping_metrics(replicas, cfg.train.clip), count_parameters(model))


def replica_record(seed: int, result: TrainResult, valid_loss: float | None, uniform_loss: float) -> dict[str, Any]:
    """One training's fate. It diverged if it went non-finite (NaN/Inf) or ended worse than the uniform
    guess ln|V| on held-out text: a tanh network's bounded states rarely overflow, but its loss explodes."""
    curve = [{k: c[k] for k in ("step", "train_loss", "grad_norm_mean", "grad_norm_max") if k in c}
             for c in result.curve if "train_loss" in c]
    nonfinite = result.status == "diverged" or valid_loss is None or not math.isfinite(valid_loss)
    return {"seed": seed, "status": result.status, "diverged_at": result.diverged_at, "steps": result.steps,
            "nonfinite": nonfinite, "uniform_loss": uniform_loss,
            "diverged": nonfinite or valid_loss > uniform_loss,
            "loss_spikes": result.loss_spikes, "clipped_steps": result.clipped_steps,
            "final_train_loss": result.final_train_loss, "valid_loss": valid_loss, "curve": curve}


def clipping_metrics(replicas: list[dict], clip: float | None) -> dict[str, Any]:
    diverged = sum(r["diverged"] for r in replicas)
    finished = [r["valid_loss"] for r in replicas if r["valid_loss"] is not None and math.isfinite(r["valid_loss"])]
    steps = sum(r["steps"] for r in replicas)
    nonfinite = sum(r["nonfinite"] for r in replicas)
    return {"clip": clip, "replicates": len(replicas), "diverged": diverged,
            "diverged_fraction": diverged / len(replicas), "nonfinite": nonfinite,
            "nonfinite_fraction": nonfinite / len(replicas),
            "loss_spikes": sum(r["loss_spikes"] for r in replicas) / len(replicas),
            "clipped_fraction": sum(r["clipped_steps"] for r in replicas) / max(1, steps),
            "final_loss": sum(finished) / len(finished) if finished else None, "replicas": replicas}
