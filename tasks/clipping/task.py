"""The `clipping` task: recurrent language models trained with plain SGD at a learning rate where unclipped
training blows up, with and without norm clipping. Each run trains several replicate models, each with its
own generated corpus, init and batch order, so a diverged fraction is a proportion over independent
trainings: the replicate is the unit. (With one corpus per run, the LSTM's unclipped trainings diverged in
1/6, 6/6 and 3/6 of three seeds' replicates: shared data may cluster outcomes, which the test must not see.)

A run at the claim's threshold also trains the *effective-step control*: unclipped SGD at the learning rate
clipping effectively applied, lr × median over the clipped trainings' steps of min(1, threshold/‖g‖), from
the same corpora and replicate seeds. Clipping that beats no clipping but not this control would only be a smaller
step in disguise.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from typing import Any

import torch

from suite.core.config import RunConfig, TrainConfig, option
from suite.core.options import TaskOptions
from suite.data.batches import StreamBatcher, Vocab, sentence_stream
from suite.data.grammar import generate
from suite.models.zoo import build_model, count_parameters
from suite.task import RunOutcome, Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import TrainResult, evaluate_loss, fit

from .meter import StepNorms, clip_scales


@dataclass(frozen=True)
class Recipe:
    """The unstable setting of one architecture: SGD step size and the recurrent blocks' spectral radius."""

    lr: float
    radius: float


# Calibrated on exploratory seeds (hidden 64, 200 steps) so that unclipped SGD fails in about half the
# trainings or more while clipped SGD at 0.25 trains; the standard design, seeds 0–2 × 6 trainings:
# - rnn_tanh, lr 10, radius 3: 18/18 diverged unclipped (median held-out loss 11.7 nats, ln|V| = 5.9), 0/18
#   clipped (3.46). Never non-finite: tanh states are bounded and saturation caps the gradient (largest ‖g‖
#   of a training ≈ 250; in a pilot at lr 1000 the loss reached 1,300 nats with every number finite).
# - rnn_relu, lr 10, radius 1: 18/18 non-finite within 2–4 steps unclipped (‖g‖ beyond 1e4), 0/18 clipped.
#   At radius 2 the forward pass itself overflows (2/4 non-finite even clipped in a pilot): an activation
#   effect, not a gradient one, so the ReLU cell starts at radius 1.
# - lstm, lr 50, radius 3: 8/18 diverged unclipped, 0/18 clipped; its saturated gates pass ~20× smaller
#   gradients than the tanh RNN's, so it needs the larger step (at lr 100 clipped trainings ended near ln|V|).
RECIPES = {"rnn_tanh": Recipe(10.0, 3.0), "rnn_relu": Recipe(10.0, 1.0), "lstm": Recipe(50.0, 3.0)}
CLIP_ARCHS = tuple(RECIPES)
# Thresholds per size (None = no clipping); the claims compare no clipping with the smallest one, where the
# effective-step control is trained. standard keeps only the two the claims need (budget).
CLIP_THRESHOLDS = {"smoke": (None, 1.0), "quick": (None, 0.25), "standard": (None, 0.25),
                   "paper": (None, 5.0, 1.0, 0.25)}
SUMMED = ("steps", "train_tokens", "train_seconds", "loss_spikes", "clipped_steps")


@dataclass(frozen=True)
class ClippingOptions(TaskOptions):
    replicates: int = option(4, low=1, high=999, help="independent trainings per run (the unit of the diverged fraction)")
    train_sentences: int = option(2000, low=1, high=1_000_000, help="grammar sentences to train on")
    valid_sentences: int = option(200, low=1, high=1_000_000, help="grammar sentences for the held-out loss")
    control: bool = option(False, help="clipped runs: also train unclipped replicates at the effective step "
                                       "size lr × median min(1, threshold/‖g‖) of the clipped trainings")


@register_task
class Clipping(Task):
    name = "clipping"
    description = "exploding gradients: unstable SGD with and without norm clipping, and an effective-step control"
    objective = "lm"
    Options = ClippingOptions

    def settings(self, size: str) -> TaskSettings:
        # standard: 3 seeds × 6 trainings = 18 per condition, so that a clean 0 against 0 excludes the
        # 0.2 minimum (Newcombe's upper bound 0.19 at 16 a side) instead of reading "inconclusive".
        s = by_size(size, steps=(20, 150, 200, 1000), hidden=(16, 64, 64, 128), replicates=(2, 4, 6, 10),
                    sentences=(300, 2000, 3000, 10000))
        return TaskSettings(
            train=TrainConfig(optimizer="sgd", lr=10.0, steps=s["steps"], batch_size=16, bptt=32, clip=None,
                              eval_every=s["steps"]),
            model={"hidden": s["hidden"]},
            options={"replicates": s["replicates"], "train_sentences": s["sentences"]})

    def variants(self, model, size: str) -> list[dict[str, dict[str, Any]]]:
        if model.arch not in RECIPES or model.layers != 1 or model.bidirectional:
            return []
        recipe = RECIPES[model.arch]
        large_init = {"init": "orthogonal", "spectral_radius": recipe.radius}
        thresholds = CLIP_THRESHOLDS[size]
        smallest = min(c for c in thresholds if c is not None)
        # config.replace drops None values, so "no clipping" is the settings' own clip=None.
        return [{"model": large_init, "train": {"lr": recipe.lr, **({"clip": c} if c is not None else {})},
                 "options": {"control": c == smallest}} for c in thresholds]

    def prepare(self, cfg: RunConfig, replicate: int = 0) -> TaskData:
        """One training's corpus. Every replicate generates its own (seeds below), so that trainings share
        nothing and a diverged share is a proportion of independent units."""
        opts = self.options(cfg)
        base = cfg.seed * 1_000_000 + replicate * 1000
        train = generate(opts.train_sentences, seed=base + 11)
        valid = generate(opts.valid_sentences, seed=base + 12)
        vocab = Vocab.from_corpus(s.tokens for s in train)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        streams = [StreamBatcher(sentence_stream((s.tokens for s in split), vocab), bs, bptt)
                   for split in (train, valid)]
        return TaskData(streams[0], streams[1], vocab)

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Train `replicates` models, each from its own corpus, init and batch order, and record each one's
        fate; at the claim's threshold, then the effective-step control on the same corpora and seeds."""
        opts, total = self.options(cfg), TrainResult()
        corpora = [self.prepare(cfg, r) for r in range(opts.replicates)]
        replicas, norms, parameters = train_replicates(cfg, corpora, total, progress)
        metrics = clipping_metrics(replicas, cfg.train.clip)
        if cfg.train.clip is not None and opts.control:
            metrics["control"] = effective_step_control(cfg, corpora, norms, total, progress)
        return RunOutcome(total, metrics, parameters)


def train_replicates(cfg: RunConfig, corpora: list[TaskData], total: TrainResult,
                     progress: bool = False) -> tuple[list[dict], list[float], int]:
    """Train one model per corpus (init and batch-order seed: run seed × 1000 + replicate); add their work to
    `total`. Returns their records, every step's pre-clip gradient norm (all replicates), and the model's
    parameter count."""
    replicas, norms, parameters = [], [], 0
    for r, data in enumerate(corpora):
        seed, uniform = cfg.seed * 1000 + r, math.log(len(data.vocab))
        torch.manual_seed(seed)
        model = build_model(cfg.model, len(data.vocab), "lm").to(cfg.device)
        meter = StepNorms(model)
        result = fit(model, data.train, None, cfg.train, seed=seed, device=cfg.device, progress=progress)
        meter.remove()
        valid = evaluate_loss(model, data.valid, cfg.device) if result.status == "ok" else None
        replicas.append(replica_record(seed, result, valid, uniform, meter.norms))
        norms += meter.norms
        parameters = count_parameters(model)
        for name in SUMMED:  # the run's TrainResult sums its trainings' work; divergence is a measurement
            setattr(total, name, getattr(total, name) + getattr(result, name))
    return replicas, norms, parameters


def effective_step_control(cfg: RunConfig, corpora: list[TaskData], norms: list[float], total: TrainResult,
                           progress: bool = False) -> dict[str, Any]:
    """Unclipped SGD at lr × the clipped trainings' median clip factor, on the same corpora and seeds.

    When clipping touched fewer than half the steps the median factor is 1: the control is then the
    unclipped condition itself (same seeds, same step size, bit for bit), recorded as such, not retrained."""
    scales = clip_scales(norms, cfg.train.clip)
    median = statistics.median(scales) if scales else math.nan
    control = {"clip_scale_median": median, "lr": cfg.train.lr * median, "clipped_steps_share":
               sum(s < 1.0 for s in scales) / len(scales) if scales else math.nan}
    if not math.isfinite(median):
        return {**control, "trained": False, "why": "no finite gradient norm to take a median of"}
    if median >= 1.0:
        return {**control, "trained": False, "why": "median clip factor 1: the control is the unclipped run"}
    train = dataclasses.replace(cfg.train, clip=None, lr=cfg.train.lr * median)
    replicas, _, _ = train_replicates(dataclasses.replace(cfg, train=train), corpora, total, progress)
    return {**control, "trained": True, **clipping_metrics(replicas, None)}


def replica_record(seed: int, result: TrainResult, valid_loss: float | None, uniform_loss: float,
                   norms: list[float]) -> dict[str, Any]:
    """One training's fate. It went non-finite if its loss or gradient became NaN/Inf (the trainer stops
    there) or its held-out loss is not finite; it diverged if it went non-finite or ended worse than the
    uniform guess ln|V| it starts near: a tanh network's bounded states rarely overflow, but its loss explodes."""
    curve = [{k: c[k] for k in ("step", "train_loss", "grad_norm_mean", "grad_norm_max") if k in c}
             for c in result.curve if "train_loss" in c]
    nonfinite = result.status == "diverged" or valid_loss is None or not math.isfinite(valid_loss)
    finite_norms = [g for g in norms if math.isfinite(g)]
    return {"seed": seed, "status": result.status, "diverged_at": result.diverged_at, "steps": result.steps,
            "nonfinite": nonfinite, "uniform_loss": uniform_loss,
            "diverged": nonfinite or valid_loss > uniform_loss,
            "loss_spikes": result.loss_spikes, "clipped_steps": result.clipped_steps,
            "max_grad_norm": max(norms) if norms else None,
            "median_grad_norm": statistics.median(finite_norms) if finite_norms else None,
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
