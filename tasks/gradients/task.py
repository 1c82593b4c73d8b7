"""The `gradients` task: ‖∂J⁽ⁱ⁾/∂h⁽ⁱ⁻ᵈ⁾‖ against the distance d, in two experiments.

- `spectrum`: a one-layer vanilla RNN whose W_h is rescaled to spectral radius ρ — orthogonal (normal W_h,
  ‖W_h‖₂ = ρ) or torch's default uniform init (non-normal, ‖W_h‖₂ ≈ 2ρ) — measured at initialisation on
  random tokens, as it is (tanh) and with its activation removed (the linear regime of the same weights).
  No training.
- `architectures`: every recurrent architecture measured at initialisation and again after training on
  the generated grammar corpus (a task every architecture learns: grammar_lm perplexity ≈ 15 against a
  unigram 97 for rnn_tanh, lstm and gru alike), on the same held-out windows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, option
from suite.data.batches import StreamBatcher
from suite.training.gradients import VANILLA_ACTIVATIONS
from suite.models.zoo import build_model, count_parameters
from suite.core.options import TaskOptions
from suite.models.registry import ARCHITECTURES
from suite.task import RunOutcome, Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import TrainResult, evaluate_loss
from suite.data.grammar_corpus import GrammarOptions, grammar_streams, unigram_perplexity

from .measurement import linearised, random_token_batch, stage_metrics, stream_windows

EXPERIMENTS = ("spectrum", "architectures")
SPECTRAL_RADII = (0.5, 0.9, 1.0, 1.1, 1.5, 2.0)
SPECTRUM_INITS = ("orthogonal", "default")
PRESET_ARCHS = ("rnn_tanh", "lstm", "gru")  # the architectures a preset sweep measures


@dataclass(frozen=True)
class GradientsOptions(TaskOptions):
    experiment: str = option("architectures", choices=EXPERIMENTS,
                             help="spectrum: vanilla RNN over a ρ grid at init; architectures: init and trained")
    measure_steps: int = option(200, low=2, help="window length T: distances 0..T−1 are measured")
    measure_batch: int = option(32, low=1, help="examples (windows) per measurement")
    spectrum_vocab: int = option(50, low=2, help="vocabulary of the random tokens of the spectrum experiment")
    train_sentences: int = option(10000, low=1, help="grammar sentences to train on (architectures)")
    eval_sentences: int = option(1000, low=1, help="grammar sentences for validation and for the measured windows")


@register_task
class Gradients(Task):
    name = "gradients"
    description = "‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against distance: vanilla RNN over a ρ grid; architectures before/after training"
    objective = "lm"
    numeric_metrics = ("bound_violations",)
    Options = GradientsOptions

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=(20, 300, 600, 2000), hidden=(16, 64, 64, 128), window=(20, 200, 200, 200),
                    batch=(4, 32, 32, 64), sentences=(300, 5000, 10000, 40000), held_out=(100, 600, 1000, 2000))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=32, bptt=64, lr=3e-3, clip=1.0, schedule="cosine"),
            model={"hidden": s["hidden"]},
            options={"measure_steps": s["window"], "measure_batch": s["batch"], "train_sentences": s["sentences"],
                     "eval_sentences": s["held_out"]})

    def variants(self, model: ModelConfig, size: str) -> list[dict[str, dict[str, Any]]]:
        """rnn_tanh: the ρ × init grid plus one trained run; lstm and gru: one trained run each, at their
        default init (no task-specific tuning for any architecture). Other models are left out of the
        presets; the measurement supports every recurrent architecture and depth (--archs/--layers)."""
        if model.layers != 1 or model.bidirectional or model.arch not in PRESET_ARCHS:
            return []
        trained = [{"options": {"experiment": "architectures"}}]
        if model.arch != "rnn_tanh":
            return trained
        return [{"model": {"init": init, "spectral_radius": rho}, "options": {"experiment": "spectrum"}}
                for init in SPECTRUM_INITS for rho in SPECTRAL_RADII] + trained

    def validate(self, cfg: RunConfig) -> None:
        opts = self.options(cfg)
        if opts.experiment == "spectrum":
            if cfg.model.arch not in VANILLA_ACTIVATIONS or cfg.model.layers != 1:
                raise ConfigError("the spectrum experiment needs a one-layer vanilla RNN (rnn_tanh, rnn_relu), "
                                  f"got '{cfg.model.label}'")
        elif not ARCHITECTURES[cfg.model.arch].recurrent:
            raise ConfigError(f"the gradient measurement needs a recurrent architecture (a hidden state per "
                              f"step); '{cfg.model.arch}' has none")

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        opts = self.options(cfg)
        if opts.experiment == "spectrum":
            return run_spectrum(cfg, opts)
        return super().run(cfg, progress)

    # ----- the architectures experiment: Task.run's hooks measure before and after training

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = self.options(cfg)
        grammar = GrammarOptions(train_sentences=opts.train_sentences, eval_sentences=opts.eval_sentences)
        vocab, streams = grammar_streams(grammar, cfg.seed)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        return TaskData(train=StreamBatcher(streams["train"], bs, bptt),
                        valid=StreamBatcher(streams["valid"], bs, bptt), vocab=vocab,
                        extra={"windows": stream_windows(streams["test"], opts.measure_batch, opts.measure_steps),
                               "unigram_ppl": unigram_perplexity(streams["train"], streams["valid"], len(vocab))})

    def before_training(self, model, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        return stage_metrics(model, *data.extra["windows"], VANILLA_ACTIVATIONS.get(cfg.model.arch))

    def after_training(self, model, data: TaskData, cfg: RunConfig, training: TrainResult,
                       watch: dict[str, Any]) -> dict[str, Any]:
        stages = {"init": watch}
        if training.status == "ok":
            stages["trained"] = stage_metrics(model, *data.extra["windows"], VANILLA_ACTIVATIONS.get(cfg.model.arch))
        metrics: dict[str, Any] = {"experiment": "architectures", **stages}
        for name, stage in stages.items():
            metrics[f"slope_{name}"] = stage["slope"]
            if "c" in stage["slopes"]:
                metrics[f"slope_c_{name}"] = stage["slopes"]["c"][-1]
        if "bound_violations" in watch:  # the bound exists for vanilla RNNs only
            metrics["bound_violations"] = sum(s["bound_violations"] for s in stages.values())
        return metrics

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        valid_loss = evaluate_loss(model, data.valid, cfg.device)
        return {"valid_ppl": math.exp(valid_loss), "unigram_ppl": data.extra["unigram_ppl"],
                "distance": self.options(cfg).measure_steps - 1}


def run_spectrum(cfg: RunConfig, opts: GradientsOptions) -> RunOutcome:
    """Measure at initialisation on i.i.d. random tokens, as built and linearised; no training."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, opts.spectrum_vocab, "lm")
    batch = random_token_batch(opts.spectrum_vocab, opts.measure_batch, opts.measure_steps, cfg.seed)
    network = stage_metrics(model, *batch, VANILLA_ACTIVATIONS[cfg.model.arch])
    linear = stage_metrics(linearised(model), *batch, "identity", fused=False)
    metrics = {"experiment": "spectrum", "target_rho": cfg.model.spectral_radius, "init": cfg.model.init,
               "measure_steps": opts.measure_steps, "network": network, "linear": linear,
               "slope_network": network["slope"], "slope_linear": linear["slope"],
               "saturated_fraction": network["saturated_fraction"],
               "bound_violations": network["bound_violations"] + linear["bound_violations"]}
    return RunOutcome(TrainResult(), metrics, count_parameters(model), model=model)
