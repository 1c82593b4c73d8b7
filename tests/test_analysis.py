"""Record helpers of the judging side: one record per run, groups, and the interval each number gets."""
import math

import pytest

from suite.analysis import (by_label, group_by, interval_label, label, metric, ok_runs, option, put,
                            rate_interval, seed_interval, unique_runs)
from suite.config import ModelConfig, RunConfig


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
    runs = [rec(seed=s, ppl=p) for s, p in enumerate([10.0, 12.0, 14.0])]
    ci = seed_interval(runs, "ppl")
    assert ci.mean == 12.0 and ci.method == "t" and interval_label(ci) == "t over 3 seeds"
    one = rate_interval(runs[:1], lambda r: (3, 10))
    assert one.method == "wilson" and one.mean == pytest.approx(0.3)
    pooled = rate_interval(runs, lambda r: (3, 10))
    assert pooled.method == "pooled wilson" and interval_label(pooled) == "Wilson pooled over 3 seeds"
    row = {}
    put(row, "ppl", ci)
    assert set(row) == {"ppl", "ppl_low", "ppl_high"}
