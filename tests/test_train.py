"""The trainer: determinism, clipping, divergence, budgets, schedules, truncated BPTT."""
import math

import pytest
import torch
import torch.nn.functional as F

import suite.training.trainer as train_module
from suite.core.config import ModelConfig, TrainConfig
from suite.data.batches import StreamBatcher
from suite.models.zoo import build_model
from suite.run.preflight import bf16_recurrent_supported
from suite.training.trainer import evaluate_loss, fit, scheduled_lr


def stream(n=2000, vocab=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    # A learnable stream: each token is the previous plus one (mod vocab), with some noise.
    ids = [0]
    noise = torch.rand(n, generator=g)
    for i in range(1, n):
        ids.append((ids[-1] + 1) % vocab if noise[i] > 0.2 else int(noise[i] * 100) % vocab)
    return torch.tensor(ids)


def tiny(arch="lstm", **kw):
    torch.manual_seed(0)
    return build_model(ModelConfig(arch=arch, hidden=16, **kw), 20)


def test_training_lowers_the_loss_and_restores_the_best_weights():
    data = StreamBatcher(stream(), 8, 16)
    valid = StreamBatcher(stream(seed=1), 8, 16)
    model = tiny()
    before = evaluate_loss(model, valid)
    result = fit(model, data, valid, TrainConfig(steps=60, lr=1e-2))
    assert result.status == "ok" and result.steps == 60
    assert result.best_valid_loss < before - 0.5
    assert evaluate_loss(model, valid) == pytest.approx(result.best_valid_loss, abs=1e-6)
    epoch = [b.inputs.numel() for b in data.epoch()]
    assert result.train_tokens == 3 * sum(epoch) + sum(epoch[:60 - 3 * len(epoch)])


def test_same_seed_gives_identical_training():
    runs = []
    for _ in range(2):
        model = tiny(dropout=0.3)
        result = fit(model, StreamBatcher(stream(), 8, 16), None, TrainConfig(steps=20), seed=3)
        runs.append(([c["train_loss"] for c in result.curve], model.head.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_norm_clipping_scales_the_gradient_to_the_threshold():
    # With plain SGD at lr 1 the parameter change is exactly the clipped gradient.
    model = tiny("rnn_tanh")
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(model, StreamBatcher(stream(), 8, 16), None,
                 TrainConfig(steps=1, optimizer="sgd", lr=1.0, clip=1e-3))
    change = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert result.clipped_steps == 1
    assert change.item() == pytest.approx(1e-3, rel=1e-4)


def test_a_nan_loss_marks_the_run_diverged_without_raising():
    model = tiny()
    with torch.no_grad():
        model.embedding.weight[3] = float("nan")
    result = fit(model, StreamBatcher(stream(), 8, 16), None, TrainConfig(steps=10))
    assert result.status == "diverged" and result.diverged_at == 0
    assert "loss" in result.divergence


class _InfiniteGradient(torch.nn.Module):
    """Finite loss, but d/dw sqrt(w) at w = 0 is infinite: the gradient, not the loss, diverges."""

    def __init__(self):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(20))
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, tokens, state=None, lengths=None):
        out = self.logits + torch.sqrt(self.w)
        return out.expand(*tokens.shape, 20), None


def test_a_non_finite_gradient_marks_the_run_diverged():
    result = fit(_InfiniteGradient(), StreamBatcher(stream(), 8, 16), None, TrainConfig(steps=5, clip=None))
    assert result.status == "diverged" and "gradient" in result.divergence


def test_time_budget_stops_training():
    result = fit(tiny(), StreamBatcher(stream(), 8, 16), None, TrainConfig(steps=10_000, max_seconds=0.0))
    assert result.stopped_by == "time" and result.steps == 1


def test_epochs_set_the_number_of_steps():
    data = StreamBatcher(stream(), 8, 16)
    result = fit(tiny(), data, None, TrainConfig(epochs=1.5))
    assert result.steps == math.ceil(1.5 * len(data))


def test_plateau_schedule_divides_lr_and_patience_stops(monkeypatch):
    losses = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])
    monkeypatch.setattr(train_module, "evaluate_loss", lambda *a, **k: next(losses))
    cfg = TrainConfig(steps=100, lr=1.0, optimizer="sgd", schedule="plateau", plateau_factor=4.0,
                      eval_every=2, patience=3)
    result = fit(tiny(), StreamBatcher(stream(), 8, 16), StreamBatcher(stream(), 8, 16), cfg)
    lrs = [c["lr"] for c in result.curve if "valid_loss" in c]
    assert result.stopped_by == "early_stopping" and result.steps == 10
    assert lrs == [1.0, 1.0, 1.0, 0.25, 0.0625]


def test_cosine_schedule_with_warmup_closed_form():
    cfg = TrainConfig(schedule="cosine", warmup_steps=10)
    assert scheduled_lr(cfg, 0, 110, 1.0) == pytest.approx(0.1)
    assert scheduled_lr(cfg, 10, 110, 1.0) == pytest.approx(1.0)
    assert scheduled_lr(cfg, 60, 110, 1.0) == pytest.approx(0.5)
    assert scheduled_lr(cfg, 110, 110, 1.0) == pytest.approx(0.0, abs=1e-12)


def test_truncated_bptt_evaluation_equals_one_pass_over_the_whole_stream():
    ids = stream(400)
    model = tiny("gru").eval()
    windowed = evaluate_loss(model, StreamBatcher(ids, 4, 7))
    columns = StreamBatcher(ids, 4, 10_000)
    logits, _ = model(columns.inputs)
    whole = F.cross_entropy(logits.reshape(-1, 20), columns.targets.reshape(-1)).item()
    assert windowed == pytest.approx(whole, rel=1e-5)


@pytest.mark.skipif(not bf16_recurrent_supported("cpu"),
                    reason="this torch build has no bf16 LSTM/GRU kernel on this CPU (oneDNN): bf16 cannot train here")
@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_bf16_precision_trains_under_autocast_and_keeps_fp32_weights(softmax):
    data = StreamBatcher(stream(), 8, 16)
    results = {}
    for precision in ("fp32", "bf16"):
        model = tiny(softmax=softmax)
        results[precision] = fit(model, data, data, TrainConfig(steps=60, lr=1e-2, precision=precision))
        assert all(p.dtype == torch.float32 for p in model.parameters())
    fp32, bf16 = results["fp32"], results["bf16"]
    assert bf16.status == "ok" and bf16.best_valid_loss < math.log(20) - 0.5  # it learns
    assert bf16.curve[0]["train_loss"] != fp32.curve[0]["train_loss"]  # and really ran in bf16
    assert bf16.best_valid_loss == pytest.approx(fp32.best_valid_loss, abs=0.1)


def test_an_unknown_precision_is_a_config_error():
    from suite.core.config import ConfigError
    with pytest.raises(ConfigError, match="^train precision must be one of fp32, bf16; got 'fp8'$"):
        fit(tiny(), StreamBatcher(stream(), 8, 16), None, TrainConfig(steps=1, precision="fp8"))


def test_every_declared_precision_has_its_autocast_type():
    import dataclasses

    from suite.training.trainer import PRECISIONS
    declared = next(f for f in dataclasses.fields(TrainConfig) if f.name == "precision").metadata["choices"]
    assert set(declared) == set(PRECISIONS)
