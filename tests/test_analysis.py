"""Record helpers of the judging side: one record per run, groups, and the interval each number gets."""
import math

import pytest

from suite.judge.analysis import (by_label, group_by, interval_label, label, metric, ok_runs, option, put,
                            rate_interval, seed_interval, chosen_runs, tuned_runs, unique_runs)
from suite.core.config import ModelConfig, RunConfig


def rec(task="grammar_lm", arch="lstm", seed=0, status="ok", options=None, **metrics):
    cfg = RunConfig(task, ModelConfig(arch=arch), seed=seed, options=options or {})
    return {"run_id": cfg.run_id, "label": cfg.model.label, "config": cfg.to_dict(), "status": status,
            "metrics": metrics}


def test_runs_are_unique_by_id_and_filtered_by_task_and_status():
    a, b = rec(seed=0, x=1.0), rec(seed=1, x=2.0)
    other, failed = rec(task="recall", seed=0), rec(seed=2, status="diverged")
    assert unique_runs([a, a, b]) == [a, b]
    assert ok_runs([a, a, b, other, failed], "grammar_lm") == [a, b]
    assert ok_runs([a, other]) == [a, other]


def test_field_access_and_grouping():
    a, b, c = rec(arch="gru", x=1.0), rec(arch="lstm", seed=1), rec(arch="gru", seed=2, options={"k": 3})
    assert label(a) == "gru" and metric(a, "x") == 1.0 and math.isnan(metric(b, "x"))
    assert option(c, "k") == 3 and option(a, "k", 0) == 0
    assert list(by_label([b, a, c])) == ["gru", "lstm"]
    assert list(group_by([b, a], lambda r: (label(r), r["config"]["seed"]))) == [("gru", 0), ("lstm", 1)]


def test_intervals_follow_the_unit():
    runs = [rec(seed=s, loss=v, test_ppl=math.exp(v)) for s, v in enumerate([1.0, 2.0, 3.0])]
    ci = seed_interval(runs, "loss")
    assert ci.mean == 2.0 and ci.method == "t" and interval_label(ci) == "t over 3 seeds"
    ppl = seed_interval(runs, "test_ppl")  # exp of a mean loss: the interval of the loss, mapped back
    assert (ppl.mean, ppl.low, ppl.high) == pytest.approx((math.exp(ci.mean), math.exp(ci.low), math.exp(ci.high)))
    assert interval_label(ppl) == "t on the log scale over 3 seeds"
    one = rate_interval(runs[:1], lambda r: (3, 10))
    assert one.method == "wilson" and one.mean == pytest.approx(0.3)
    pooled = rate_interval(runs, lambda r: (3, 10))
    assert pooled.method == "pooled wilson" and interval_label(pooled) == "Wilson pooled over 3 seeds"
    row = {}
    put(row, "loss", ci)
    assert set(row) == {"loss", "loss_low", "loss_high"}


def test_a_tuning_grid_is_read_by_its_best_validation_point_per_seed():
    def point(seed, lr, valid, hidden=8):
        r = rec(seed=seed, valid=valid)
        r["config"]["train"]["lr"] = lr
        r["config"]["model"]["hidden"] = hidden
        r["config"]["identity"] = {"threads": lr}  # identity never separates grid points
        r["run_id"] = f"s{seed}-lr{lr}-h{hidden}"
        return r
    runs = [point(0, 1.0, 0.2), point(0, 2.0, 0.9), point(1, 1.0, 0.7), point(1, 2.0, 0.1), point(0, 1.0, 0.5, 16)]
    chosen = tuned_runs(runs, ("train.lr",), lambda r: r["metrics"]["valid"])
    assert sorted(r["run_id"] for r in chosen) == ["s0-lr1.0-h16", "s0-lr2.0-h8", "s1-lr1.0-h8"]
    assert tuned_runs(runs, (), lambda r: 0) == runs
    # grammar_lm tunes nothing: chosen_runs keeps every record
    assert chosen_runs(runs) == runs
