"""Depth and skip connections: stacks of 1–8 layers without skips, with residual and with highway skips.

Each run trains a language model on the suite's generated corpus and records its test loss and the
gradient norm that reaches the first layer (‖∂L/∂θ‖ over the first layer's parameters, before
clipping, averaged over training), next to the last layer's for scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, option
from suite.data.batches import StreamBatcher
from suite.models.registry import ARCHITECTURES
from suite.task import Task, TaskData, TaskSettings, by_size, register_task
from suite.training.trainer import evaluate_loss

from suite.data.grammar_corpus import GrammarOptions, grammar_streams

from .meter import LayerGradientMeter, gradient_metrics

SKIP_STYLES = ("none", "residual", "highway")


@dataclass(frozen=True)
class DepthOptions(GrammarOptions):
    train_sentences: int = option(10000, low=1, help="sentences generated for training")
    eval_sentences: int = option(1000, low=1, help="sentences generated for validation and for test")


def grid(size: str) -> dict:
    """The depths a size runs, the skip styles of its stacks, and the cell types that get the whole depth × skip
    grid (None = every recurrent cell); other cells run at depth 1 only, as a reference point. Standard (the
    pilot and the reference run) stacks without and with residual skips only: its claims compare those two, and
    the highway stacks took 2.5 of the pilot's 125 run-minutes, which kept `standard` over its hour."""
    return by_size(size, depths=((1, 2), (1, 4), (1, 2, 4, 8), (1, 2, 4, 8)),
                   archs=(None, ("lstm",), ("lstm",), ("lstm", "gru", "rnn_tanh")),
                   skips=(SKIP_STYLES, SKIP_STYLES, SKIP_STYLES[:2], SKIP_STYLES))


@register_task
class Depth(Task):
    name = "depth"
    description = ("stacks of 1–8 layers, no skips vs residual vs highway: test loss and the gradient "
                   "norm reaching the first layer (grammar corpus)")
    objective = "lm"
    numeric_metrics = ("test_ppl",)
    Options = DepthOptions

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=(20, 300, 800, 3000), hidden=(16, 64, 64, 128),
                    sentences=(500, 8000, 20000, 50000), held_out=(200, 800, 1000, 2000))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=16, bptt=32, lr=3e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, s["steps"] // 5)),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"], "eval_sentences": s["held_out"]})

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """The depth × skip grid for each single-layer recurrent cell of the size's grid list; other
        cells run at depth 1 only, and stacks the preset (or command line) names run as they are (a
        stack that is also a grid point is the same config, hence the same run id: it runs once and
        the report counts it once)."""
        arch = ARCHITECTURES.get(model.arch)
        g = grid(size)
        in_grid = g["archs"] is None or model.arch in g["archs"]
        if arch is None or not arch.recurrent or model.layers != 1 or model.skip != "none" or not in_grid:
            return [{}]
        return [{"model": {"layers": d, "skip": s}}
                for d in g["depths"] for s in (("none",) if d == 1 else g["skips"])]

    def skip_reason(self, cfg: RunConfig) -> str | None:
        if not ARCHITECTURES[cfg.model.arch].recurrent:
            return f"the depth task stacks recurrent layers; '{cfg.model.arch}' is not recurrent"
        return None

    def validate(self, cfg: RunConfig) -> None:
        reason = self.skip_reason(cfg)
        if reason:
            raise ConfigError(reason)

    def prepare(self, cfg: RunConfig) -> TaskData:
        vocab, streams = grammar_streams(self.options(cfg), cfg.seed)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        return TaskData(train=StreamBatcher(streams["train"], bs, bptt),
                        valid=StreamBatcher(streams["valid"], bs, bptt), vocab=vocab,
                        extra={"test": StreamBatcher(streams["test"], bs, bptt)})

    def before_training(self, model, data: TaskData, cfg: RunConfig) -> LayerGradientMeter:
        return LayerGradientMeter(model)

    def after_training(self, model, data: TaskData, cfg: RunConfig, training, meter: LayerGradientMeter) -> dict:
        meter.remove()
        return {"final_train_loss": training.final_train_loss,
                **gradient_metrics(meter.norms("first"), meter.norms("last"))}

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        test_loss = evaluate_loss(model, data.extra["test"], cfg.device)
        return {"test_loss": test_loss, "test_ppl": math.exp(test_loss)}
