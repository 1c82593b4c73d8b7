"""The trainer: fused forward/backward, optional norm clipping, schedules, early stopping, NaN guard."""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from suite.core.config import TrainConfig, check_fields
from suite.data.batches import IGNORE, Batch
from suite.models.softmax import is_adaptive

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


class Batcher(Protocol):
    def __len__(self) -> int: ...
    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]: ...


@dataclass
class TrainResult:
    status: str = "ok"  # ok | diverged
    stopped_by: str = "steps"  # steps | time | early_stopping | diverged
    steps: int = 0
    diverged_at: int | None = None
    divergence: str | None = None  # what was non-finite
    best_valid_loss: float | None = None
    final_train_loss: float | None = None
    train_tokens: int = 0  # input tokens read (tokens/s counts what the network processes)
    train_seconds: float = 0.0
    loss_spikes: int = 0
    clipped_steps: int = 0
    curve: list[dict] = field(default_factory=list)  # step, train_loss, grad_norm_{mean,max}, lr, valid_loss

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.train_seconds if self.train_seconds > 0 else 0.0


def validate_train_config(cfg: TrainConfig) -> None:
    """Each field's own range or choices, as declared in TrainConfig (one line on the first bad one)."""
    check_fields(cfg, "train")


def autocast(precision: str, device: str):
    """The forward pass and loss under `precision` (bf16 autocast); parameters and optimiser stay fp32."""
    dtype = PRECISIONS[precision]
    return contextlib.nullcontext() if dtype is None else torch.autocast(torch.device(device).type, dtype=dtype)


def loss_fn(output: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy for any objective: per-token [B, T, V] outputs or per-sequence [B, C]."""
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE, reduction=reduction)


def batch_loss(model: nn.Module, batch: Batch, state=None, reduction: str = "mean"):
    """(cross-entropy of the batch, the model's new state). Under the adaptive softmax only the targets'
    clusters are computed; the loss is still the exact −log P(target)."""
    state = state if batch.carry_state else None
    if not is_adaptive(model):
        output, new_state = model(batch.inputs, state, batch.lengths)
        return loss_fn(output, batch.targets, reduction), new_state
    features, new_state = model.features(batch.inputs, state, batch.lengths)
    total = -model.head.target_log_prob(features, batch.targets, IGNORE).sum()
    return (total / max(batch.num_targets, 1) if reduction == "mean" else total), new_state


def detach_state(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


@torch.no_grad()
def evaluate_loss(model: nn.Module, batcher: Batcher, device: str = "cpu", max_batches: int = 0) -> float:
    """Mean cross-entropy per target over a split (stream splits carry their state through)."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for i, batch in enumerate(batcher.epoch()):
        if max_batches and i >= max_batches:
            break
        batch = batch.to(device)
        loss, new_state = batch_loss(model, batch, state, reduction="sum")
        state = new_state if batch.carry_state else None
        total += float(loss)
        count += batch.num_targets
    model.train(was_training)
    return total / max(count, 1)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def scheduled_lr(cfg: TrainConfig, step: int, total: int, base_lr: float) -> float:
    """Learning rate at `step` for the warmup / constant / cosine schedules (plateau decays on its own)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return base_lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "cosine":
        progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return base_lr


def _endless(batcher: Batcher, generator: torch.Generator) -> Iterator[Batch]:
    while True:
        yield from batcher.epoch(generator)


def fit(model: nn.Module, train: Batcher, valid: Batcher | None, cfg: TrainConfig, *,
        seed: int = 0, device: str = "cpu", progress: bool = False) -> TrainResult:
    """Train `model` in place; on success its weights are those with the best validation loss."""
    validate_train_config(cfg)
    total = math.ceil(cfg.epochs * len(train)) if cfg.epochs else cfg.steps
    eval_every = cfg.eval_every or (len(train) if cfg.epochs else max(1, total // 10))
    log_every = max(1, total // 200)
    optimizer = make_optimizer(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    result, best, window = TrainResult(), _BestWeights(cfg.lr), _Window()
    state, loss_ema = None, None
    model.train()
    bar = tqdm(total=total, disable=not progress, leave=False, dynamic_ncols=True, desc="train")
    started = time.perf_counter()
    batches = _endless(train, torch.Generator().manual_seed(seed))
    for step in range(total):
        batch = next(batches).to(device)
        for group in optimizer.param_groups:
            group["lr"] = scheduled_lr(cfg, step, total, best.lr)
        outcome = _train_step(model, batch, state, optimizer, params, cfg, result, step)
        if outcome is None:
            break
        loss_value, grad_norm, state = outcome
        result.steps, result.train_tokens = step + 1, result.train_tokens + batch.num_tokens
        if loss_ema is not None and step >= 10 and loss_value > cfg.loss_spike_factor * loss_ema:
            result.loss_spikes += 1
        loss_ema = loss_value if loss_ema is None else 0.9 * loss_ema + 0.1 * loss_value
        window.add(loss_value, grad_norm)
        bar.update(1)
        last = step + 1 == total
        if (step + 1) % log_every == 0 or last:
            result.curve.append(window.flush(step + 1, optimizer.param_groups[0]["lr"]))
            bar.set_postfix(loss=f"{result.curve[-1]['train_loss']:.3f}")
        if valid is not None and ((step + 1) % eval_every == 0 or last):
            result.train_seconds += time.perf_counter() - started  # validation time is not training time
            with autocast(cfg.precision, device):
                valid_loss = evaluate_loss(model, valid, device, cfg.eval_batches)
            started = time.perf_counter()
            _log_valid(result, step + 1, valid_loss, optimizer.param_groups[0]["lr"])
            if not math.isfinite(valid_loss):
                _mark_diverged(result, step, "validation loss")
                break
            if best.update(valid_loss, model, result, cfg):
                result.stopped_by = "early_stopping"
                break
        if cfg.max_seconds is not None and result.train_seconds + time.perf_counter() - started > cfg.max_seconds:
            result.stopped_by = "time"
            break
    result.train_seconds += time.perf_counter() - started
    bar.close()
    if window.n:
        result.curve.append(window.flush(result.steps, optimizer.param_groups[0]["lr"]))
    train_points = [c["train_loss"] for c in result.curve if "train_loss" in c]
    result.final_train_loss = train_points[-1] if train_points else None
    if result.status == "ok" and best.state is not None:
        model.load_state_dict(best.state)
    return result


def _train_step(model, batch, state, optimizer, params, cfg: TrainConfig, result: TrainResult, step: int):
    """Forward, backward, clip, update. Returns (loss, pre-clip gradient norm, next state), or None
    when the loss or the gradient is not finite (the run is then marked diverged)."""
    with autocast(cfg.precision, str(batch.inputs.device)):
        loss, new_state = batch_loss(model, batch, state)
    loss_value = loss.item()
    if not math.isfinite(loss_value):
        _mark_diverged(result, step, "loss")
        return None
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    total_norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
    grad_norm = float(total_norm)
    if not math.isfinite(grad_norm):
        _mark_diverged(result, step, "gradient")
        return None
    if cfg.clip is not None and grad_norm >= cfg.clip:
        # Pascanu et al. (2013) norm clipping: g ← threshold/‖g‖ · g.
        torch.nn.utils.clip_grads_with_norm_(params, cfg.clip, total_norm)
        result.clipped_steps += 1
    optimizer.step()
    return loss_value, grad_norm, detach_state(new_state) if batch.carry_state else None


@dataclass
class _BestWeights:
    """Validation bookkeeping: the best loss and weights so far, and the plateau-decayed learning rate."""

    lr: float
    state: dict | None = None
    evals_since_best: int = 0

    def update(self, valid_loss: float, model: nn.Module, result: TrainResult, cfg: TrainConfig) -> bool:
        """Record one validation; True when early stopping should end training."""
        if result.best_valid_loss is None or valid_loss < result.best_valid_loss:
            result.best_valid_loss, self.evals_since_best = valid_loss, 0
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.evals_since_best += 1
        if cfg.schedule == "plateau":
            self.lr /= cfg.plateau_factor
        return cfg.patience is not None and self.evals_since_best >= cfg.patience


@dataclass
class _Window:
    """Training losses and gradient norms since the last curve point."""

    loss: float = 0.0
    norms: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.norms)

    def add(self, loss: float, grad_norm: float) -> None:
        self.loss += loss
        self.norms.append(grad_norm)

    def flush(self, step: int, lr: float) -> dict:
        point = {"step": step, "train_loss": self.loss / self.n, "lr": lr,
                 "grad_norm_mean": sum(self.norms) / self.n, "grad_norm_max": max(self.norms)}
        self.loss, self.norms = 0.0, []
        return point


def _mark_diverged(result: TrainResult, step: int, what: str) -> None:
    result.status, result.stopped_by = "diverged", "diverged"
    result.diverged_at, result.divergence = step, f"non-finite {what} at step {step}"


def _log_valid(result: TrainResult, step: int, valid_loss: float, lr: float) -> None:
    if result.curve and result.curve[-1]["step"] == step:
        result.curve[-1]["valid_loss"] = valid_loss
    else:
        result.curve.append({"step": step, "lr": lr, "valid_loss": valid_loss})
