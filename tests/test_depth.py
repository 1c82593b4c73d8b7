"""Depth task: gradient meters against autograd, the depth × skip grid, its tables, plots and both claims."""
import copy
import math

import pytest
import torch

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.config import ModelConfig, RunConfig, TrainConfig
from suite.data import StreamBatcher
from suite.models import build_model
from suite.tasks import get_task
from suite.train import evaluate_loss, fit, loss_fn
from tasks.depth import (LayerGradientMeter, cost_table, depth_by_skip, gradient_metrics, gru_lstm_claim,
                         skip_claim, window_losses)

torch.set_num_threads(1)


def stream(n=2000, vocab=12, seed=0):
    return torch.randint(0, vocab, (n,), generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- measurement


def test_meter_records_the_unclipped_first_layer_gradient_norm_of_each_step():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="lstm", layers=3, hidden=8, skip="residual"), 12, "lm")
    twin = copy.deepcopy(model)
    train = StreamBatcher(stream(), 4, 10)
    # Brute force on the twin: the first batch's gradient w.r.t. each layer's parameters.
    batch = next(train.epoch())
    output, _ = twin(batch.inputs)
    loss = loss_fn(output, batch.targets)
    first = torch.autograd.grad(loss, list(twin.layers[0].parameters()), retain_graph=True)
    last = torch.autograd.grad(loss, list(twin.layers[-1].parameters()))
    meter = LayerGradientMeter(model)
    fit(model, train, None, TrainConfig(steps=3, clip=1e-3, lr=1e-3), seed=0)  # clipping on every step
    meter.remove()
    assert len(meter.norms("first")) == 3
    assert meter.norms("first")[0] == pytest.approx(math.sqrt(sum(float(g.pow(2).sum()) for g in first)), rel=1e-5)
    assert meter.norms("last")[0] == pytest.approx(math.sqrt(sum(float(g.pow(2).sum()) for g in last)), rel=1e-5)
    assert meter.norms("first")[0] > 1e-3  # the recorded norm is the one before clipping


def test_gradient_metrics_closed_form():
    m = gradient_metrics([1.0] * 10 + [3.0] * 10, [4.0] * 20)
    assert m["first_layer_grad_norm"] == pytest.approx(2.0)
    assert m["first_layer_grad_norm_early"] == pytest.approx(1.0)  # first 10 % = first 2 steps
    assert m["last_layer_grad_norm"] == pytest.approx(4.0)
    assert m["first_to_last_grad_ratio"] == pytest.approx(math.sqrt(0.25 * 0.75))  # geometric mean


def test_window_losses_weighted_by_tokens_give_the_trainer_loss():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="gru", hidden=8), 12, "lm")
    batcher = StreamBatcher(stream(n=4 * 47 + 1), 4, 10)  # 47 columns: 4 full windows and one of 7
    items, sizes = window_losses(model, batcher)
    assert len(items) == 4 * 5 and sizes[-1] == 7
    weighted = sum(m * n for m, n in zip(items, sizes)) / sum(sizes)
    assert weighted == pytest.approx(evaluate_loss(model, batcher), rel=1e-5)


def test_without_skips_less_gradient_reaches_the_first_of_eight_layers():
    # At initialisation a plain 8-layer LSTM passes the first layer a small fraction of the last
    # layer's gradient; identity skips carry it down (the reason deep stacks need them).
    ratios = {}
    for skip in ("none", "residual"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(arch="lstm", layers=8, hidden=16, skip=skip), 12, "lm")
        meter = LayerGradientMeter(model)
        batch = next(StreamBatcher(stream(), 4, 20).epoch())
        loss_fn(model(batch.inputs)[0], batch.targets).backward()
        ratios[skip] = meter.norms("first")[0] / meter.norms("last")[0]
    assert ratios["none"] < 0.05 < 1 < ratios["residual"]


# --------------------------------------------------------------------------- the grid


def test_grid_per_size():
    task = get_task("depth")
    grid = task.variants(ModelConfig(arch="lstm"), "quick")
    points = {(v["model"]["layers"], v["model"]["skip"]) for v in grid}
    assert points == {(1, "none"), (4, "none"), (4, "residual"), (4, "highway")}
    assert len(task.variants(ModelConfig(arch="lstm"), "standard")) == 1 + 3 * 3
    assert task.variants(ModelConfig(arch="gru"), "quick") == [{}]  # depth-1 reference only
    assert task.variants(ModelConfig(arch="lstm", layers=2), "quick") == [{}]
    assert task.variants(ModelConfig(arch="transformer"), "quick") == [{}]  # refused by skip_reason


def test_a_transformer_is_left_out_of_a_preset_but_refused_when_named():
    from suite.config import ConfigError
    from suite.sweep import PRESETS, Overrides, Preset, Variant, expand
    with pytest.raises(ConfigError, match="not recurrent"):
        expand(PRESETS["smoke"], Overrides(tasks=("depth",), archs=("transformer",)))
    preset = Preset("mixed", "smoke", "", (Variant("transformer"), Variant("lstm")), (0,), ("depth",))
    assert {c.model.arch for c in expand(preset, Overrides())} == {"lstm"}


def test_a_depth_run_records_loss_and_gradient_metrics():
    task = get_task("depth")
    settings = task.settings("smoke")
    cfg = RunConfig("depth", ModelConfig(arch="lstm", layers=2, skip="highway", hidden=8), settings.train, 0,
                    {**task.default_options, **settings.options})
    outcome = task.run(cfg)
    m = outcome.metrics
    assert outcome.training.status == "ok"
    assert m["test_ppl"] == pytest.approx(math.exp(m["test_loss"]))
    assert len(m["test_window_losses"]) > 10 and min(m["test_window_losses"]) < m["test_loss"]
    assert m["first_layer_grad_norm"] > 0 and m["last_layer_grad_norm"] > 0


# --------------------------------------------------------------------------- tables, plots, claims


def depth_record(layers, skip, seed, loss, arch="lstm", grad=0.1):
    return {"run_id": f"{arch}{layers}{skip}{seed}", "label": f"{arch}×{layers}", "status": "ok",
            "parameters": 1000 * layers, "tokens_per_second": 1000.0, "wall_seconds": 1.0,
            "config": {"task": "depth", "seed": seed,
                       "model": {"arch": arch, "layers": layers, "hidden": 8, "skip": skip, "bidirectional": False}},
            "metrics": {"test_loss": loss, "test_ppl": math.exp(loss), "final_train_loss": loss,
                        "first_layer_grad_norm": grad, "test_window_losses": [loss - 0.05, loss + 0.05] * 20}}


def depth_runs(plain, residual, seeds=3):
    return ([depth_record(1, "none", s, 3.0) for s in range(seeds)]
            + [depth_record(4, "none", s, plain + 0.01 * s) for s in range(seeds)]
            + [depth_record(4, "residual", s, residual + 0.01 * s) for s in range(seeds)]
            + [depth_record(4, "highway", s, 2.95 + 0.01 * s) for s in range(seeds)])


def test_skip_claim_verdicts():
    assert skip_claim(depth_runs(plain=4.5, residual=2.9)).verdict == REPRODUCED
    assert skip_claim(depth_runs(plain=2.9, residual=4.5)).verdict == NOT_REPRODUCED
    assert skip_claim(depth_runs(plain=3.0, residual=3.005)).verdict == INCONCLUSIVE
    shallow = [r for r in depth_runs(4.5, 2.9) if r["config"]["model"]["layers"] == 1]
    missing = skip_claim(shallow)
    assert missing.verdict == INCONCLUSIVE and "missing runs" in missing.why


def test_skip_claim_with_one_seed_bootstraps_over_test_windows():
    claim = skip_claim(depth_runs(plain=4.5, residual=2.9, seeds=1))
    assert claim.verdict == REPRODUCED and "bootstrap" in claim.evidence


def test_depth_by_skip_puts_each_skip_style_in_its_own_column():
    table = depth_by_skip(depth_runs(plain=4.5, residual=2.9), "test_loss")
    deep = table[table["layers"] == 4].iloc[0]
    assert deep["none"] == pytest.approx(4.51) and deep["residual"] == pytest.approx(2.91)
    assert deep["highway"] == pytest.approx(2.96)
    assert math.isnan(table[table["layers"] == 1].iloc[0]["residual"])


def test_plots_are_written(tmp_path):
    paths = get_task("depth").plots(depth_runs(plain=4.5, residual=2.9), tmp_path)
    assert len(paths) == 2 and all(p.exists() and p.stat().st_size > 1000 for p in paths)


def lm_record(arch, seed, params, speed, ppl, task="grammar_lm", hidden=128):
    return {"run_id": f"{task}{arch}{seed}", "label": arch, "status": "ok", "parameters": params,
            "tokens_per_second": speed, "wall_seconds": 1.0,
            "config": {"task": task, "seed": seed,
                       "model": {"arch": arch, "layers": 1, "hidden": hidden, "skip": "none", "bidirectional": False}},
            "metrics": {"test_ppl": ppl}}


def cost_runs(gru_params=300, gru_speed=2000.0, gru_ppl=10.0, lstm_ppl=10.0, seeds=3):
    return ([lm_record("gru", s, gru_params, gru_speed + 10 * s, gru_ppl + 0.1 * s) for s in range(seeds)]
            + [lm_record("lstm", s, 400, 1000.0 + 10 * s, lstm_ppl + 0.1 * s) for s in range(seeds)])


def test_gru_lstm_claim_verdicts():
    assert gru_lstm_claim(cost_runs()).verdict == REPRODUCED
    assert gru_lstm_claim(cost_runs(gru_params=500)).verdict == NOT_REPRODUCED
    slower = gru_lstm_claim(cost_runs(gru_speed=500.0))
    assert slower.verdict == NOT_REPRODUCED
    gap = gru_lstm_claim(cost_runs(gru_ppl=8.0, lstm_ppl=12.0))
    assert gap.verdict == NOT_REPRODUCED and "GRU has lower perplexity" in gap.why
    assert gru_lstm_claim(cost_runs(seeds=1)).verdict == INCONCLUSIVE
    assert gru_lstm_claim([r for r in cost_runs() if r["label"] == "gru"]).verdict == INCONCLUSIVE


def test_gaps_in_opposite_directions_are_not_a_consistent_gap():
    records = (cost_runs(gru_ppl=8.0, lstm_ppl=12.0)
               + [{**r, "config": {**r["config"], "task": "text_lm"}, "run_id": "t" + r["run_id"]}
                  for r in cost_runs(gru_ppl=12.0, lstm_ppl=8.0)])
    assert gru_lstm_claim(records).verdict == REPRODUCED


def test_cost_table_shows_every_architecture_at_each_size():
    records = cost_runs() + [lm_record("transformer", 0, 900, 5000.0, 9.0)]
    table = cost_table(records)
    assert set(table["arch"]) == {"gru", "lstm", "transformer"}
    gru = table[table["arch"] == "gru"].iloc[0]
    assert gru["parameters"] == 300 and gru["test_ppl"] == pytest.approx(10.1)
    assert gru["tokens_per_second"] == pytest.approx(2010.0)
