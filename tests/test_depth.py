"""Depth task: gradient meters against autograd, the depth × skip grid, its tables and plots (the skip claims:
tests/test_depth_rules.py)."""
import copy
import math

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.batches import StreamBatcher
from suite.judge.task_report import REPORTS
from suite.models.zoo import build_model
from suite.run.sweep import PRESETS, Overrides, Preset, Variant, expand, run_options
from suite.task import get_task
from suite.training.trainer import fit, loss_fn
from tasks.depth import LayerGradientMeter, gradient_metrics
from tasks.depth.report import depth_by_skip

torch.set_num_threads(1)
TASK = get_task("depth")
REPORT = REPORTS["depth"]


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


def smoke_config(**model) -> RunConfig:
    settings = TASK.settings("smoke")
    return RunConfig("depth", ModelConfig(**{"arch": "lstm", "hidden": 8, **model}), settings.train, 0,
                     run_options(TASK, settings.options))


def test_a_depth_run_records_loss_and_gradient_metrics_through_the_hooks():
    outcome = TASK.run(smoke_config(layers=2, skip="highway"))
    m = outcome.metrics
    assert outcome.training.status == "ok"
    assert m["test_ppl"] == pytest.approx(math.exp(m["test_loss"]))
    assert m["first_layer_grad_norm"] > 0 and m["last_layer_grad_norm"] > 0
    assert m["final_train_loss"] == outcome.training.final_train_loss


def test_options_are_a_typed_dataclass_with_ranges():
    assert TASK.options(RunConfig("depth")).train_sentences == 10000
    with pytest.raises(ConfigError, match="train_sentences"):
        TASK.options(RunConfig("depth", options={"train_sentences": 0}))


# --------------------------------------------------------------------------- the grid


def test_grid_per_size():
    grid = TASK.variants(ModelConfig(arch="lstm"), "quick")
    points = {(v["model"]["layers"], v["model"]["skip"]) for v in grid}
    assert points == {(1, "none"), (4, "none"), (4, "residual"), (4, "highway")}
    standard = {(v["model"]["layers"], v["model"]["skip"]) for v in TASK.variants(ModelConfig(arch="lstm"), "standard")}
    assert standard == {(1, "none")} | {(d, s) for d in (2, 4, 8) for s in ("none", "residual")}  # no highway
    paper = TASK.variants(ModelConfig(arch="lstm"), "paper")
    assert len(paper) == 1 + 3 * 3 and {"highway"} <= {v["model"]["skip"] for v in paper}
    assert TASK.variants(ModelConfig(arch="gru"), "quick") == [{}]  # depth-1 reference only
    assert TASK.variants(ModelConfig(arch="lstm", layers=2), "quick") == [{}]
    assert TASK.variants(ModelConfig(arch="transformer"), "quick") == [{}]  # refused by skip_reason


def test_a_transformer_is_left_out_of_a_preset_but_refused_when_named():
    with pytest.raises(ConfigError, match="not recurrent"):
        expand(PRESETS["smoke"], Overrides(tasks=("depth",), archs=("transformer",)))
    preset = Preset("mixed", "smoke", "", (Variant("transformer"), Variant("lstm")), (0,), ("depth",))
    assert {c.model.arch for c in expand(preset, Overrides())} == {"lstm"}


def test_a_stack_named_by_the_preset_and_by_the_grid_is_one_run():
    configs = expand(PRESETS["standard"], Overrides(tasks=("depth",)))
    ids = [c.run_id for c in configs]
    # the preset's lstm×2 is a grid point too: listed twice, one run id (3 seeds)
    assert len(ids) - len(set(ids)) == 3

# --------------------------------------------------------------------------- report


def depth_record(layers, skip, seed, loss, arch="lstm", grad=0.1):
    return {"run_id": f"{arch}{layers}{skip}{seed}", "label": f"{arch}×{layers}", "status": "ok",
            "parameters": 1000 * layers, "tokens_per_second": 1000.0, "wall_seconds": 1.0,
            "config": {"task": "depth", "seed": seed, "options": {}, "train": {"steps": 10},
                       "model": {"arch": arch, "layers": layers, "hidden": 8, "skip": skip, "bidirectional": False}},
            "metrics": {"test_loss": loss, "test_ppl": math.exp(loss), "final_train_loss": loss,
                        "first_layer_grad_norm": grad}}


def depth_runs(losses: dict, seeds=3, spread=0.01):
    """losses: {(depth, skip): mean test loss}; seeds differ by ±spread around it."""
    return [depth_record(d, s, k, loss + spread * (k - (seeds - 1) / 2))
            for (d, s), loss in losses.items() for k in range(seeds)]


def grid_runs(plain, residual, depths=(4,), **kw):
    losses = {(1, "none"): 3.0}
    for d in depths:
        losses.update({(d, "none"): plain, (d, "residual"): residual, (d, "highway"): 2.95})
    return depth_runs(losses, **kw)


def test_depth_by_skip_puts_each_skip_style_in_its_own_column():
    table = depth_by_skip(grid_runs(plain=4.5, residual=2.9), "test_loss")
    deep = table[table["layers"] == 4].iloc[0]
    assert deep["none"] == pytest.approx(4.5) and deep["residual"] == pytest.approx(2.9)
    assert deep["highway"] == pytest.approx(2.95)
    assert deep["none_low"] < 4.5 < deep["none_high"]
    assert math.isnan(table[table["layers"] == 1].iloc[0]["residual"])


def test_plots_are_written(tmp_path):
    paths = REPORT.plots(grid_runs(plain=4.5, residual=2.9), tmp_path)
    assert len(paths) == 2 and all(p.exists() and p.stat().st_size > 1000 for p in paths)


def test_a_run_listed_twice_counts_once_in_the_report(tmp_path):
    from suite.judge.report import write_outputs
    runs = grid_runs(plain=4.5, residual=2.9)
    write_outputs(tmp_path, runs + copy.deepcopy(runs), "test", "test", log=lambda *a: None)
    table = (tmp_path / "tables" / "depth_skip.csv").read_text().splitlines()
    header = table[0].split(",")
    assert {row.split(",")[header.index("runs")] for row in table[1:]} == {"3"}
