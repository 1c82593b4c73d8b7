"""Specification of the `clipping` task (tasks/clipping/): replicate trainings with and without norm clipping,
the effective-step control, the step-norm meter, the table, and both claims on records built here — with the
three controls (effect at the design size, no effect, reversed effect) at the standard design, 200 sweeps each."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.models.zoo import build_model
from suite.run.runner import Execution, execute
from suite.run.sweep import PRESETS
from suite.task import get_task
from suite.training.trainer import fit
from tasks.clipping.meter import StepNorms, clip_scales
from tasks.clipping.report import ClippingReport, clipping_table
from tasks.clipping.rules import DESIGN_EFFECT, divergence_claim, nonfinite_claim

TASK = get_task("clipping")
SWEEPS = 200


# --------------------------------------------------------------------------- the measuring task


def tiny_config(arch: str, clip, control: bool = False, lr: float = 10.0) -> RunConfig:
    train = TrainConfig(**{**TASK.settings("smoke").train.__dict__, "steps": 6, "clip": clip, "lr": lr})
    model = ModelConfig(arch=arch, hidden=8, init="orthogonal", spectral_radius=3.0)
    return RunConfig("clipping", model, train, 0, {"replicates": 2, "train_sentences": 100, "valid_sentences": 20,
                                                   "control": control})


def test_runs_record_each_replicate_and_the_report_judges_them(tmp_path):
    records = [execute(tiny_config("lstm", c, control=c is not None), tmp_path, Execution()) for c in (None, 1.0)]
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    metrics = records[0]["metrics"]
    assert metrics["replicates"] == 2 and [r["seed"] for r in metrics["replicas"]] == [0, 1]
    assert len(metrics["replicas"][0]["curve"]) > 0 and records[1]["metrics"]["clip"] == 1.0
    assert records[0]["training"]["steps"] == sum(r["steps"] for r in metrics["replicas"])
    assert "control" not in metrics and "control" in records[1]["metrics"]
    report = ClippingReport()
    assert list(report.tables(records)) == ["clipping_divergence"]
    assert [p.name for p in report.plots(records, tmp_path)] == ["clipping_curves.png"]
    assert [c.id for c in report.claims(records)] == ["clipping.divergence", "clipping.nonfinite"]


def test_the_control_trains_unclipped_from_the_same_seeds_at_the_effective_step():
    """A threshold far below every gradient norm clips every step: the median factor is below 1."""
    cfg = tiny_config("rnn_tanh", 1e-4, control=True)
    outcome = TASK.run(cfg)
    clipped, control = outcome.metrics, outcome.metrics["control"]
    assert control["trained"] and 0 < control["clip_scale_median"] < 1e-2 and control["clipped_steps_share"] == 1
    assert control["lr"] == pytest.approx(cfg.train.lr * control["clip_scale_median"])
    assert [r["seed"] for r in control["replicas"]] == [r["seed"] for r in clipped["replicas"]]
    assert control["clip"] is None and sum(r["clipped_steps"] for r in control["replicas"]) == 0
    # the run's training result counts the control's work too
    assert outcome.training.steps == sum(r["steps"] for r in clipped["replicas"] + control["replicas"])


def test_a_control_whose_median_factor_is_1_is_the_unclipped_run_and_is_not_retrained():
    outcome = TASK.run(tiny_config("rnn_tanh", 1e9, control=True))
    control = outcome.metrics["control"]
    assert control["trained"] is False and control["clip_scale_median"] == 1.0 and "replicas" not in control
    assert "unclipped run" in control["why"]


def test_every_replicate_trains_on_its_own_corpus_so_trainings_are_independent_units():
    cfg = tiny_config("rnn_tanh", None)
    first, second, again = (TASK.prepare(cfg, r).train.inputs for r in (0, 1, 1))
    assert not torch.equal(first[:, :50], second[:, :50]) and torch.equal(second, again)


def test_the_meter_reads_the_norm_the_trainer_clips():
    """Under 200 steps the trainer logs every step: its logged norm is the meter's, before clipping."""
    torch.manual_seed(0)
    data = TASK.prepare(tiny_config("rnn_tanh", 0.5))
    model = build_model(ModelConfig(arch="rnn_tanh", hidden=8), len(data.vocab))
    meter = StepNorms(model)
    result = fit(model, data.train, None, TrainConfig(optimizer="sgd", lr=1.0, steps=5, clip=0.5), seed=0)
    meter.remove()
    assert meter.norms == pytest.approx([c["grad_norm_max"] for c in result.curve], rel=1e-5)
    assert len(meter.handles) == len(list(model.parameters()))


def test_clip_scales_are_the_factor_algorithm_1_applies():
    assert clip_scales([0.5, 2.0, 4.0, math.inf], 1.0) == [1.0, 0.5, 0.25]


def test_bad_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match=r"clipping option replicates must be an integer in \[1, 999\]; got 0"):
        TASK.options(RunConfig("clipping", options={"replicates": 0}))


def test_variants_give_each_cell_its_unstable_recipe_and_the_control_at_the_smallest_threshold():
    tanh = TASK.variants(ModelConfig(arch="rnn_tanh"), "standard")
    assert [v["train"].get("clip") for v in tanh] == [None, 0.25]
    assert [v["options"]["control"] for v in tanh] == [False, True]
    assert all(v["model"]["spectral_radius"] == 3.0 and v["train"]["lr"] == 10.0 for v in tanh)
    relu = TASK.variants(ModelConfig(arch="rnn_relu"), "standard")
    assert relu[0]["model"]["spectral_radius"] == 1.0  # at radius 2 the forward pass overflows, clipped or not
    assert [v["train"].get("clip") for v in TASK.variants(ModelConfig(arch="lstm"), "paper")] == [None, 5.0, 1.0, 0.25]
    assert TASK.variants(ModelConfig(arch="gru"), "standard") == []
    assert TASK.variants(ModelConfig(arch="lstm", layers=2), "standard") == []


# --------------------------------------------------------------------------- records built here


def replica(diverged: bool, nonfinite: bool = False, seed: int = 0) -> dict:
    return {"seed": seed, "diverged": diverged or nonfinite, "nonfinite": nonfinite, "steps": 10,
            "valid_loss": None if nonfinite else (9.0 if diverged else 3.0), "max_grad_norm": 50.0,
            "uniform_loss": 5.9, "curve": []}


def clip_run(arch: str, clip, seed: int, diverged, nonfinite=None, control=None) -> dict:
    nonfinite = nonfinite if nonfinite is not None else [False] * len(diverged)
    replicas = [replica(bool(d), bool(n), seed * 1000 + i) for i, (d, n) in enumerate(zip(diverged, nonfinite))]
    metrics = {"clip": clip, "replicates": len(replicas), "replicas": replicas, "clipped_fraction": 0.5}
    if control is not None:
        metrics["control"] = control
    return {"run_id": f"{arch}{clip}{seed}", "label": arch, "status": "ok",
            "config": {"task": "clipping", "seed": seed, "model": {"arch": arch}, "train": {"lr": 10.0}},
            "metrics": metrics}


def trained_control(diverged, nonfinite=None) -> dict:
    nonfinite = nonfinite if nonfinite is not None else [False] * len(diverged)
    return {"trained": True, "clip_scale_median": 0.3, "lr": 3.0, "clipped_fraction": 0.0,
            "replicas": [replica(bool(d), bool(n)) for d, n in zip(diverged, nonfinite)]}


def sweep(rng, p_unclipped: float, p_clipped: float, p_control: float, archs=("rnn_tanh", "rnn_relu", "lstm"),
          outcome: str = "diverged") -> list[dict]:
    """The standard design: the preset's seeds × the task's replicates, outcomes drawn per training."""
    seeds = PRESETS["standard"].seeds
    n = TASK.settings("standard").options["replicates"]
    runs = []
    for arch in archs:
        for s in seeds:
            draw = {name: (rng.random(n) < p).tolist() for name, p in
                    (("none", p_unclipped), ("clip", p_clipped), ("control", p_control))}
            if outcome == "diverged":
                runs += [clip_run(arch, None, s, draw["none"]),
                         clip_run(arch, 0.25, s, draw["clip"], control=trained_control(draw["control"]))]
            else:
                runs += [clip_run(arch, None, s, draw["none"], draw["none"]),
                         clip_run(arch, 0.25, s, draw["clip"], draw["clip"],
                                  control=trained_control(draw["control"], draw["control"]))]
    return runs


def shares(claim_of, rng, *probabilities, outcome="diverged") -> dict[str, float]:
    verdicts = [claim_of(sweep(rng, *probabilities, outcome=outcome)).verdict for _ in range(SWEEPS)]
    return {v: verdicts.count(v) / SWEEPS for v in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)}


def test_divergence_claim_passes_its_three_controls_at_the_standard_design():
    rng = np.random.default_rng(0)
    # clipped trainings never diverged on exploratory seeds: the design effect sits on a base of 0
    assert shares(divergence_claim, rng, DESIGN_EFFECT, 0.0, DESIGN_EFFECT)[REPRODUCED] >= 0.80
    assert shares(divergence_claim, rng, 0.3, 0.3, 0.3)[REPRODUCED] <= 0.10
    assert shares(divergence_claim, rng, 0.1, 0.6, 0.1)[NOT_REPRODUCED] >= 0.80


def test_nonfinite_claim_passes_its_three_controls_at_the_standard_design():
    rng = np.random.default_rng(1)
    judge = nonfinite_claim
    assert shares(judge, rng, DESIGN_EFFECT, 0.0, 0.0, outcome="nonfinite")[REPRODUCED] >= 0.80
    assert shares(judge, rng, 0.3, 0.3, 0.3, outcome="nonfinite")[REPRODUCED] <= 0.10
    assert shares(judge, rng, 0.1, 0.6, 0.1, outcome="nonfinite")[NOT_REPRODUCED] >= 0.80


def test_a_smaller_step_that_prevents_divergence_as_well_is_not_clipping():
    """Unclipped runs diverge, clipped ones do not — nor do the controls at the effective step: clipping is
    then no more than a smaller step, and with ≥ 16 trainings a side 0 against 0 excludes the minimum."""
    runs = sweep(np.random.default_rng(2), 1.0, 0.0, 0.0, archs=("rnn_tanh",))
    claim = divergence_claim(runs)
    verdicts = {p.name: p.verdict for p in claim.parts}
    assert verdicts["rnn_tanh: no clipping − clip 0.25"] == REPRODUCED
    assert verdicts["rnn_tanh: effective-step control − clip 0.25"] == NOT_REPRODUCED
    assert claim.verdict == NOT_REPRODUCED


def test_bounded_cells_that_never_go_non_finite_contradict_the_nan_claim():
    runs = sweep(np.random.default_rng(3), 0.0, 0.0, 0.0, archs=("rnn_tanh",))
    runs += sweep(np.random.default_rng(4), 1.0, 0.0, 1.0, archs=("rnn_relu",), outcome="nonfinite")
    claim = nonfinite_claim(runs)
    assert [(p.name, p.verdict) for p in claim.parts] == [
        ("rnn_tanh: no clipping − clip 0.25", NOT_REPRODUCED), ("rnn_relu: no clipping − clip 0.25", REPRODUCED)]
    assert claim.verdict == NOT_REPRODUCED


def test_the_control_is_the_unclipped_run_where_the_median_factor_was_1():
    same = {"trained": False, "clip_scale_median": 1.0, "lr": 50.0, "why": "…"}
    runs = [r for s in range(3) for r in (clip_run("lstm", None, s, [True] * 6),
                                          clip_run("lstm", 0.25, s, [False] * 6, control=same))]
    parts = {p.name: p for p in divergence_claim(runs).parts}
    control = parts["lstm: effective-step control − clip 0.25"]
    assert control.values == parts["lstm: no clipping − clip 0.25"].values == (1.0,) * 18
    assert control.verdict == REPRODUCED


def test_an_unclipped_group_that_never_diverged_is_inconclusive_not_evidence():
    runs = [r for s in range(3) for r in (clip_run("lstm", None, s, [False] * 6),
                                          clip_run("lstm", 0.25, s, [False] * 6, control=trained_control([0] * 6)))]
    part = next(p for p in divergence_claim(runs).parts if p.name == "lstm: no clipping − clip 0.25")
    assert part.verdict == INCONCLUSIVE and "nothing to reduce" in part.why


def test_missing_or_too_few_records_say_so_in_the_verdict():
    for judge in (divergence_claim, nonfinite_claim):
        empty = judge([])
        assert empty.verdict == INCONCLUSIVE and "not measured" in empty.why
    no_control = [clip_run("rnn_tanh", None, 0, [True] * 6), clip_run("rnn_tanh", 0.25, 0, [False] * 6)]
    claim = divergence_claim(no_control)
    assert claim.verdict == INCONCLUSIVE and "no effective-step control for seed 0" in claim.why
    few = divergence_claim([clip_run("rnn_tanh", None, 0, [True]), clip_run("rnn_tanh", 0.25, 0, [False],
                                                                             control=trained_control([True]))])
    assert few.verdict == INCONCLUSIVE and "too few" in few.why


def test_table_lists_no_clipping_first_then_thresholds_then_the_control():
    runs = [clip_run("rnn_tanh", None, 0, [True] * 4), clip_run("rnn_tanh", 1.0, 0, [False, True, False, False]),
            clip_run("rnn_tanh", 0.25, 0, [False] * 4, control=trained_control([True, False, False, False]))]
    table = clipping_table(runs)
    assert table["condition"].tolist() == ["no clipping", "clip 1", "clip 0.25",
                                           "no clipping at the effective step of clip 0.25"]
    assert table["diverged"].tolist() == [4, 1, 0, 1] and table["lr"].tolist() == [10.0, 10.0, 10.0, 3.0]
