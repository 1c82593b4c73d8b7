"""Specification of the `clipping` task (tasks/clipping/): replicate trainings with and without norm
clipping, the diverged-fraction table, and the claim on records built here with negative controls."""
from __future__ import annotations

import numpy as np
import pytest

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.run.runner import Execution, execute
from suite.task import get_task
from tasks.clipping.report import MIN_REDUCTION, ClippingReport, clipping_claim, clipping_table, reduction


def test_runs_record_each_replicate_and_the_report_judges_them(tmp_path):
    settings = get_task("clipping").settings("smoke")
    model = ModelConfig(arch="lstm", hidden=8, init="orthogonal", spectral_radius=3.0)
    configs = [RunConfig("clipping", model, TrainConfig(**{**settings.train.__dict__, "steps": 6, "clip": c}), 0,
                         {"replicates": 2, "train_sentences": 100, "valid_sentences": 20}) for c in (None, 1.0)]
    records = [execute(cfg, tmp_path, Execution()) for cfg in configs]
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    metrics = records[0]["metrics"]
    assert metrics["replicates"] == 2 and [r["seed"] for r in metrics["replicas"]] == [0, 1]
    assert len(metrics["replicas"][0]["curve"]) > 0 and records[1]["metrics"]["clip"] == 1.0
    assert records[0]["training"]["steps"] == sum(r["steps"] for r in metrics["replicas"])
    report = ClippingReport()
    assert list(report.tables(records)) == ["clipping_divergence"]
    assert [p.name for p in report.plots(records, tmp_path)] == ["clipping_curves.png"]
    assert report.claims(records)[0].id == "clipping.divergence"


def test_bad_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="clipping option replicates must be an integer ≥ 1; got 0"):
        get_task("clipping").options(RunConfig("clipping", options={"replicates": 0}))


def test_variants_make_the_thresholds_at_a_large_init_and_step():
    clip = get_task("clipping")
    tanh = clip.variants(ModelConfig(arch="rnn_tanh"), "standard")
    assert [v["train"].get("clip") for v in tanh] == [None, 5.0, 1.0, 0.25]
    assert all(v["model"]["spectral_radius"] == 3.0 and v["train"]["lr"] == 10.0 for v in tanh)
    assert clip.variants(ModelConfig(arch="gru"), "standard") == []


# --------------------------------------------------------------------------- records built here


def clip_run(arch: str, clip, seed: int, diverged: int, replicates: int = 4) -> dict:
    return {"run_id": f"{arch}{clip}{seed}", "label": arch, "status": "ok",
            "config": {"task": "clipping", "seed": seed, "model": {"arch": arch}},
            "metrics": {"clip": clip, "replicates": replicates, "diverged": diverged, "nonfinite": 0,
                        "diverged_fraction": diverged / replicates, "loss_spikes": 1.0, "clipped_fraction": 0.5,
                        "final_loss": 3.0, "replicas": []}}


def sweep(unclipped: list[int], clipped: list[int], archs=("rnn_tanh", "lstm")) -> list[dict]:
    """Three seeds × 4 replicates per threshold (the standard preset); clip 10 never counts (not the smallest)."""
    return [run for arch in archs for s in range(len(unclipped)) for run in
            (clip_run(arch, None, s, unclipped[s]), clip_run(arch, 1.0, s, clipped[s]), clip_run(arch, 10.0, s, 4))]


def test_reduction_is_a_newcombe_interval_and_a_one_sided_fisher_test():
    effect, p = reduction((12, 12), (0, 12))
    assert effect.mean == 1.0 and 0.6 < effect.low < 0.8 and effect.high == pytest.approx(1.0)
    assert p == pytest.approx(1 / 2704156, rel=1e-6)  # 1 / C(24, 12): the one table this extreme


def test_claim_reproduced_when_clipping_removes_most_divergence():
    claim = clipping_claim(sweep([4, 4, 3], [0, 1, 0]))
    assert claim.verdict == REPRODUCED and "Fisher p" in claim.effect


def test_claim_inconclusive_when_the_exact_test_disagrees_with_the_interval():
    claim = clipping_claim(sweep([3], [0]))  # 3/4 vs 0/4: Newcombe's interval clears 0, Fisher p = 0.071
    assert claim.verdict == INCONCLUSIVE and "Fisher exact p = 0.071" in claim.why


def test_claim_not_reproduced_when_clipping_makes_divergence_more_frequent():
    claim = clipping_claim(sweep([1, 0, 0], [4, 4, 3]))
    assert claim.verdict == NOT_REPRODUCED and "reversed" in claim.why


def test_claim_not_reproduced_when_a_large_sample_shows_no_reduction():
    claim = clipping_claim(sweep([2] * 20, [2] * 20))  # 240 trainings per group, half diverge either way
    assert claim.verdict == NOT_REPRODUCED and f"excludes {MIN_REDUCTION:g}" in claim.why


def test_claim_inconclusive_when_nothing_diverges_without_clipping():
    claim = clipping_claim(sweep([0, 0, 0], [0, 0, 0]))
    assert claim.verdict == INCONCLUSIVE and "nothing to reduce" in claim.why


def test_claim_without_an_effect_is_rarely_reproduced():
    """No effect: each training diverges with probability 0.5 whether clipped or not; 200 sweeps."""
    rng = np.random.default_rng(3)
    reproduced = sum(clipping_claim(sweep(*rng.binomial(4, 0.5, size=(2, 3)).tolist())).verdict == REPRODUCED
                     for _ in range(200))
    assert reproduced <= 10  # stated rate 2.5 %: P(Binomial(200, 0.025) > 10) ≈ 1 %


def test_table_lists_no_clipping_first_then_thresholds_from_large_to_small():
    table = clipping_table(sweep([4, 4, 3], [0, 1, 0], archs=("rnn_tanh",)))
    assert table["clipping"].tolist() == ["no clipping", "clip 10", "clip 1"]
    assert table["diverged_fraction"].tolist() == pytest.approx([11 / 12, 1.0, 1 / 12])
    assert table["trainings"].tolist() == [12, 12, 12]
