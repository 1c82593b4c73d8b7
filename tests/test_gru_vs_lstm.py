"""GRU vs LSTM cost: the measuring run (a paired timing), the parameter check, and the speed
and quality claims with their negative controls."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.core.config import ConfigError, ModelConfig, RunConfig
from suite.judge.task_report import REPORTS
from suite.run.sweep import PRESETS, Overrides, expand, run_options
from suite.task import get_task
from tasks.gru_vs_lstm.report import (MIN_SPEEDUP, QUALITY_MARGIN, parameter_check, quality_claim, quality_table,
                                      speed_claim, speed_table)

torch.set_num_threads(1)
TASK = get_task("gru_vs_lstm")
REPORT = REPORTS["gru_vs_lstm"]


# --------------------------------------------------------------------------- the measuring task


def test_the_pair_is_one_gru_run_whichever_of_the_two_the_sweep_names():
    assert TASK.variants(ModelConfig(arch="lstm"), "quick") == [{"model": {"arch": "gru"}}]
    assert TASK.variants(ModelConfig(arch="gru"), "quick") == [{"model": {"arch": "gru"}}]
    assert TASK.variants(ModelConfig(arch="rnn_tanh"), "quick") == []
    assert TASK.variants(ModelConfig(arch="lstm", layers=2), "quick") == []
    configs = expand(PRESETS["standard"], Overrides(tasks=("gru_vs_lstm",)))
    assert len({c.run_id for c in configs}) == 3 and {c.model.arch for c in configs} == {"gru"}  # one per seed
    with pytest.raises(ConfigError, match="rounds"):
        TASK.options(RunConfig("gru_vs_lstm", options={"rounds": 1}))


def test_a_run_times_both_models_in_alternating_rounds_and_counts_their_parameters():
    settings = TASK.settings("smoke")
    cfg = RunConfig("gru_vs_lstm", ModelConfig(arch="gru", hidden=8), settings.train, 0,
                    run_options(TASK, {"rounds": 3, "vocab_size": 20}))
    outcome = TASK.run(cfg)
    m = outcome.metrics
    assert outcome.training.status == "ok" and outcome.training.steps == 3 * settings.train.steps
    assert len(m["gru_round_tokens_per_second"]) == len(m["lstm_round_tokens_per_second"]) == 3
    assert m["speed_ratio_low"] <= m["speed_ratio"] <= m["speed_ratio_high"]
    # nn.LSTM: 4 blocks of (W_ih e×h, W_hh h×h, two biases h); nn.GRU: 3 blocks; embedding = hidden = 8.
    assert m["lstm_recurrent_parameters"] == 4 * (8 * 8 + 8 * 8 + 2 * 8)
    assert m["gru_recurrent_parameters"] == 3 * (8 * 8 + 8 * 8 + 2 * 8)
    assert m["lstm_parameters"] - m["gru_parameters"] == 8 * 8 + 8 * 8 + 2 * 8
    assert outcome.parameters == m["gru_parameters"]


# --------------------------------------------------------------------------- simulated records


def cost_record(seed, lstm_speeds, gru_speeds, hidden=128, counts=(124772, 99072, 157796, 132096)):
    gru_p, gru_rec, lstm_p, lstm_rec = counts
    return {"run_id": f"cost{hidden}-{seed}", "label": "gru", "status": "ok", "parameters": gru_p,
            "config": {"task": "gru_vs_lstm", "seed": seed, "device": "cpu", "options": {}, "train": {"steps": 10},
                       "model": {"arch": "gru", "layers": 1, "hidden": hidden, "skip": "none", "bidirectional": False}},
            "metrics": {"gru_parameters": gru_p, "gru_recurrent_parameters": gru_rec, "lstm_parameters": lstm_p,
                        "lstm_recurrent_parameters": lstm_rec, "gru_round_tokens_per_second": list(gru_speeds),
                        "lstm_round_tokens_per_second": list(lstm_speeds),
                        "gru_tokens_per_second": float(np.median(gru_speeds)),
                        "lstm_tokens_per_second": float(np.median(lstm_speeds))}}


def timed(ratio, rounds=7, noise=0.02, seed=0):
    """One run whose GRU is `ratio` × as fast as its LSTM, with log-normal round-to-round noise."""
    rng = np.random.default_rng(seed)
    lstm = 1000 * np.exp(noise * rng.standard_normal(rounds))
    return cost_record(seed, lstm, lstm * ratio * np.exp(noise * rng.standard_normal(rounds)))


def lm_record(arch, seed, loss, task="grammar_lm", hidden=128):
    return {"run_id": f"{task}{arch}{hidden}-{seed}", "label": arch, "status": "ok", "parameters": 1,
            "config": {"task": task, "seed": seed, "options": {"train_sentences": 100}, "train": {"steps": 600},
                       "model": {"arch": arch, "layers": 1, "hidden": hidden, "skip": "none", "bidirectional": False}},
            "metrics": {"test_loss": loss, "test_ppl": math.exp(loss)}}


def quality_runs(gru_loss, lstm_loss, seeds=3, spread=0.005, task="grammar_lm"):
    return [lm_record(a, k, loss + spread * (k - 1), task) for a, loss in (("gru", gru_loss), ("lstm", lstm_loss))
            for k in range(seeds)]


# --------------------------------------------------------------------------- speed claim


def test_speed_claim_verdicts():
    assert speed_claim([timed(1.3)]).verdict == REPRODUCED
    assert speed_claim([timed(1.3, noise=0.5)]).verdict == INCONCLUSIVE
    small = speed_claim([timed(1.02)])
    assert small.verdict == NOT_REPRODUCED and "smaller than the claimed effect" in small.why
    missing = speed_claim([])
    assert missing.verdict == INCONCLUSIVE and "missing runs" in missing.why
    assert "GRU/LSTM tokens/s ×1.2" in speed_claim([timed(1.3)]).effect  # 1.28 with this noise draw


def test_speed_negative_control_reversed_is_not_reproduced():
    # What PyTorch's fused CPU kernels gave here: the GRU at ~0.57× the LSTM's tokens/s.
    claim = speed_claim([timed(0.57)])
    assert claim.verdict == NOT_REPRODUCED and "reversed" in claim.why


def test_speed_negative_control_no_difference_is_rarely_reproduced():
    reproduced = sum(speed_claim([timed(1.0, noise=0.1, seed=s)]).verdict == REPRODUCED for s in range(200))
    assert reproduced <= stats.binom.ppf(0.99, 200, 0.025)  # stated rate ≤ 2.5 %


def test_speed_pools_the_rounds_of_every_run_of_a_size():
    table = speed_table([timed(1.3, seed=0), timed(1.3, seed=1)])
    assert list(table["rounds"]) == [14] and list(table["runs"]) == [2]
    assert table["gru_over_lstm_speed"].iloc[0] == pytest.approx(1.3, rel=0.05)


# --------------------------------------------------------------------------- quality claim


def test_quality_claim_is_an_equivalence_test():
    assert quality_claim(quality_runs(4.000, 4.002)).verdict == REPRODUCED
    gap = quality_claim(quality_runs(4.0, 4.2))
    assert gap.verdict == NOT_REPRODUCED and "outside" in gap.why
    # Low power is not equivalence: noisy seeds whose intervals overlap stay inconclusive.
    noisy = quality_claim(quality_runs(4.0, 4.0, spread=0.2))
    assert noisy.verdict == INCONCLUSIVE and "crosses the margin" in noisy.why
    assert quality_claim(quality_runs(4.0, 4.0, seeds=1)).verdict == INCONCLUSIVE
    assert quality_claim([r for r in quality_runs(4.0, 4.0) if r["label"] == "gru"]).verdict == INCONCLUSIVE


def test_quality_negative_control_reversed_gap_is_not_reproduced():
    # "Reversed" for a claim of no gap: a consistent gap, either way, in every comparison.
    for gru, lstm in ((4.0, 4.3), (4.3, 4.0)):
        runs = quality_runs(gru, lstm) + quality_runs(gru, lstm, task="text_lm")
        assert quality_claim(runs).verdict == NOT_REPRODUCED


def test_quality_negative_control_gap_at_the_margin_is_rarely_reproduced():
    # The claim is false when the true gap reaches the margin; TOST at 5 % reproduces it ≤ 5 % of the time.
    rng = np.random.default_rng(0)
    reproduced = 0
    for _ in range(200):
        runs = [lm_record(a, k, shift + 0.02 * rng.standard_normal())
                for a, shift in (("gru", 4.0 + QUALITY_MARGIN), ("lstm", 4.0)) for k in range(5)]
        reproduced += quality_claim(runs).verdict == REPRODUCED
    assert reproduced <= stats.binom.ppf(0.99, 200, 0.05)


def test_quality_compares_only_runs_of_the_same_task_and_shape():
    runs = quality_runs(4.0, 4.001) + [lm_record("lstm", 0, 9.0, hidden=64), lm_record("gru", 0, 2.0, task="depth")]
    table = quality_table(runs)
    assert list(table["comparison"]) == ["grammar_lm ×1 h=128 600 steps"]
    assert table["within_margin"].iloc[0] == "equivalent"


# --------------------------------------------------------------------------- parameters: a check


def test_parameter_check_holds_by_definition_and_catches_a_wrong_count():
    assert parameter_check([timed(1.3)]).passed is True
    wrong = cost_record(0, [1.0], [1.0], counts=(100, 90, 120, 100))  # 4 × 90 ≠ 3 × 100
    assert parameter_check([wrong]).passed is False
    assert parameter_check([]).passed is None


def test_report_lists_two_claims_and_one_check():
    records = [timed(1.3)] + quality_runs(4.0, 4.001)
    assert [c.id for c in REPORT.claims(records)] == ["architecture.gru_faster", "architecture.gru_lstm_quality"]
    assert [c.id for c in REPORT.checks(records)] == ["architecture.gru_fewer_parameters"]
    assert set(REPORT.tables(records)) == {"gru_vs_lstm_speed", "gru_vs_lstm_quality"}
    assert MIN_SPEEDUP > 1


def test_quality_compares_each_seeds_learning_rate_chosen_on_validation():
    """text_lm tunes the learning rate: a GRU that is poor at the LSTM's rate and as good at its own is no gap."""
    def run(arch, seed, lr, loss, valid_ppl):
        r = lm_record(arch, seed, loss + 0.005 * seed, task="text_lm")
        r["run_id"] += f"-lr{lr}"
        r["config"]["train"]["lr"] = lr
        r["metrics"]["valid_ppl"] = valid_ppl
        return r
    runs = [run("lstm", k, 20.0, 5.0, 150) for k in range(3)] + [run("lstm", k, 5.0, 5.5, 250) for k in range(3)]
    runs += [run("gru", k, 20.0, 5.6, 270) for k in range(3)] + [run("gru", k, 5.0, 5.0, 150) for k in range(3)]
    claim = next(c for c in REPORT.claims(runs) if c.id == "architecture.gru_lstm_quality")
    assert claim.verdict == REPRODUCED
    assert REPORT.tables(runs)["gru_vs_lstm_quality"][["gru_seeds", "lstm_seeds"]].values.tolist() == [[3, 3]]
    at_lstm_rate = [r for r in runs if r["config"]["train"]["lr"] == 20.0]  # no grid: the recipe's rate only
    assert next(c for c in REPORT.claims(at_lstm_rate) if c.id == "architecture.gru_lstm_quality").verdict \
        == NOT_REPRODUCED
