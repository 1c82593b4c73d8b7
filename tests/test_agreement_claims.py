"""Negative controls for every agreement rule, on simulated item-level outcomes in the probe design: with no
effect a rule says "reproduced" in ≤ 10 % of 200 sweeps, with the effect reversed "not reproduced" in
≥ 80 %; then the claims end to end on simulated run records (item rows in column form), and the report.

The simulation is written here, apart from the code under test: each item has a cell (n intervening nouns,
k attractors at random positions) and its error probability is base + trend·k + recency·[nearest noun is
an attractor] + a per-seed offset."""
import numpy as np
import pandas as pd
import pytest

from suite.core.families import GATED as GATED_ARCHS, VANILLA
from suite.judge.claims import CALIBRATION, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, SANITY
from suite.judge.parts import judge_part
from suite.task import get_task
from tasks.agreement.claims import agreement_claims
from tasks.agreement.report import AgreementReport
from tasks.agreement.rules import (GATED_ATTRACTION, OBJECTIVE, RECENCY_INDEX, TREND, recency_index, seed_intervals,
                                   trend_effect, verdict_codes)

SWEEPS, SEEDS, PER_CELL, DEPTH = 200, 10, 100, 3
STANDARD_STEPS = get_task("agreement").settings("standard").train.steps


def design(rng, per_cell=PER_CELL, depth=DEPTH) -> pd.DataFrame:
    rows = []
    for n in range(depth + 1):
        for frame in range(per_cell):
            subject = bool(frame % 2)
            for k in range(n + 1):
                flips = set(rng.choice(n, size=k, replace=False).tolist()) if n else set()
                nearest_attractor = n > 0 and (n - 1) in flips
                rows.append({"intervening_nouns": n, "attractors": k, "nearest_attractor": nearest_attractor,
                             "subject_plural": subject, "nearest_noun_plural": subject != nearest_attractor})
    return pd.DataFrame(rows)


def errors(rng, cells, shape, base=0.15, trend=0.0, recency=0.0, seed_sd=0.02, attraction=0.0):
    """Item errors, shape (*shape, items): Bernoulli with the stated effects and a per-seed offset."""
    p = base + trend * cells["attractors"].to_numpy() + recency * cells["nearest_attractor"].to_numpy() + \
        attraction * (cells["attractors"] > 0).to_numpy()
    offset = rng.normal(0, seed_sd, size=(*shape, 1))
    return rng.random((*shape, len(cells))) < np.clip(p + offset, 0.001, 0.999)


def cell_sums(err, cells, columns):
    keys = cells[columns].apply(tuple, axis=1)
    order = sorted(set(keys))
    onehot = np.array([[key == o for o in order] for key in keys], float)
    return err.astype(float) @ onehot, onehot.sum(0), order


def trend_verdicts(err, cells):
    e, m, order = cell_sums(err, cells, ["intervening_nouns", "attractors"])
    n, k = np.array([o[0] for o in order]), np.array([o[1] for o in order])
    return verdict_codes(*seed_intervals(trend_effect(e, np.broadcast_to(m, e.shape), n, k)), TREND.min_effect)


def share(verdicts, which):
    return float(np.mean(np.asarray(verdicts) == which))


@pytest.fixture(scope="module")
def cells():
    return design(np.random.default_rng(0))


@pytest.mark.parametrize("effect, bound", [(0.0, "no effect"), (-0.05, "reversed")])
def test_trend_rule_negative_controls(cells, effect, bound):
    rng = np.random.default_rng(1)
    verdicts = trend_verdicts(errors(rng, cells, (SWEEPS, SEEDS), base=0.3, trend=effect), cells)
    if bound == "no effect":
        assert share(verdicts, REPRODUCED) <= 0.10
    else:
        assert share(verdicts, NOT_REPRODUCED) >= 0.80


# --------------------------------------------------------------------------- recency and gated: the claim parts' code
# 200 simulated sweeps at the standard design (10 seeds, 100 items per cell, 4 intervening nouns), each judged
# by the very functions the claims use (recency_index / attraction, then suite.judge.parts.judge_part with its
# power guard). Controls: effect at the design size → "reproduced" ≥ 80 %; absent → ≤ 10 %; reversed → "not
# reproduced" ≥ 80 %.
STANDARD = dict(seeds=10, per_cell=100, depth=4)


def mixed_strata(per_cell, depth):
    """(m1, m0, share) per cell 0 < k < n: items with / without an attractor nearest, as the probes place the
    k attractors at random among n positions (the nearest is one with probability k/n)."""
    rng = np.random.default_rng(11)
    strata = [(n, k) for n in range(2, depth + 1) for k in range(1, n)]
    m1 = np.array([rng.binomial(per_cell, k / n) for n, k in strata], float)
    return m1, per_cell - m1, np.array([k / n for n, k in strata])


def nearest_ratio(index, share):
    """Error odds on nearest-attractor items over the rest that give a cell of this share the index (solved
    from index = s(r − 1)/(s·r + 1 − s), the index of one stratum)."""
    return (share + index * (1 - share)) / (share * (1 - index))


def recency_sweeps(index, base, sweeps=SWEEPS, seeds=STANDARD["seeds"], index_sd=0.1, seed=0):
    """Verdicts of the recency part in simulated sweeps: per seed a true index N(index, index_sd), errors
    Binomial at `base` on items without an attractor nearest and base × ratio on those with."""
    rng = np.random.default_rng(seed)
    m1, m0, s = mixed_strata(STANDARD["per_cell"], STANDARD["depth"])
    out = []
    for _ in range(sweeps):
        true = np.clip(rng.normal(index, index_sd, size=(seeds, 1)), -0.9, 0.95)
        e1 = rng.binomial(m1.astype(int), np.clip(base * nearest_ratio(true, s), 0, 1))
        e0 = rng.binomial(m0.astype(int), base, size=(seeds, len(s)))
        values = recency_index(e1.astype(float), m1, e0.astype(float), m0)
        values = values[~np.isnan(values)]
        out.append(judge_part("sim", RECENCY_INDEX, values).verdict)
    return out


@pytest.mark.parametrize("base", [0.03, 0.15])  # gated-like and vanilla-like error rates on mixed cells
@pytest.mark.parametrize("index, which, bound", [(RECENCY_INDEX.design_effect, REPRODUCED, 0.80),
                                                 (0.0, REPRODUCED, -0.10), (-RECENCY_INDEX.design_effect,
                                                                            NOT_REPRODUCED, 0.80)])
def test_recency_rule_controls(base, index, which, bound):
    """At the design size the rule finds the effect whatever the error rate; errors blind to the nearest noun
    (index 0) almost never pass; errors avoiding it read "not reproduced"."""
    got = share(recency_sweeps(index, base), which)
    assert got >= bound if bound > 0 else got <= -bound


def test_recency_rule_is_not_capped_by_a_low_error_rate():
    """The old rule's failure: with ~2–4 % error every error on nearest-attractor items could not reach an
    absolute 0.05. The index at 2 % error and 0.9 concentration is reproduced."""
    assert share(recency_sweeps(0.9, 0.02, sweeps=50), REPRODUCED) >= 0.9


GATED_SEED_SD = 0.04  # the rule's planning SD of attractor-item error (calibration seeds, pooled; see rules.py)


def attraction_values(rng, attraction, shape, per_cell=STANDARD["per_cell"], depth=STANDARD["depth"]):
    """Per seed: error on attractor items − error on attractor-free items with nouns, from Binomial counts."""
    with_attr = per_cell * depth * (depth + 1) // 2
    without = per_cell * depth
    base = np.clip(0.01 + rng.normal(0, 0.005, shape), 0, 1)
    true = np.clip(base + rng.normal(attraction, GATED_SEED_SD, shape), 0, 1)
    return rng.binomial(with_attr, true) / with_attr - rng.binomial(without, base) / without


def gated_sweeps(gap, sweeps=SWEEPS, seeds=STANDARD["seeds"], seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(sweeps):
        vanilla = attraction_values(rng, 0.10 + gap, seeds)
        gated = attraction_values(rng, 0.10, seeds)
        out.append(judge_part("sim", GATED_ATTRACTION, vanilla, gated).verdict)
    return out


@pytest.mark.parametrize("gap, which, bound", [(GATED_ATTRACTION.design_effect, REPRODUCED, 0.80),
                                               (0.0, REPRODUCED, -0.10),
                                               (-GATED_ATTRACTION.design_effect, NOT_REPRODUCED, 0.80)])
def test_gated_attraction_rule_controls(gap, which, bound):
    got = share(gated_sweeps(gap), which)
    assert got >= bound if bound > 0 else got <= -bound


@pytest.mark.parametrize("gap, bound", [(0.0, "no effect"), (-0.08, "reversed")])
def test_objective_rule_negative_controls(cells, gap, bound):
    rng = np.random.default_rng(4)
    lm = errors(rng, cells, (SWEEPS, SEEDS), base=0.15 + gap).mean(-1)
    number = errors(rng, cells, (SWEEPS, SEEDS), base=0.15).mean(-1)
    verdicts = verdict_codes(*seed_intervals(lm - number), OBJECTIVE.min_effect)
    if bound == "no effect":
        assert share(verdicts, REPRODUCED) <= 0.10
    else:
        assert share(verdicts, NOT_REPRODUCED) >= 0.80


# --------------------------------------------------------------------------- claims from simulated records


def records(rng, seeds=SEEDS, per_cell=PER_CELL, *, trend=0.06, recency=0.4, vanilla_gap=0.1, lm_gap=0.08,
            seed_sd=0.02):
    """Run records of rnn_tanh/lstm/gru on both objectives with item rows; the effects as the literature
    reports them unless set otherwise."""
    cells = design(rng, per_cell)
    out = []
    for arch, gap in (("rnn_tanh", vanilla_gap), ("rnn_relu", vanilla_gap), ("lstm", 0.0), ("gru", 0.0)):
        for task, base in (("agreement", 0.1 + lm_gap), ("agreement_number", 0.1)):
            err = errors(rng, cells, (seeds,), base=base, trend=trend, recency=recency, seed_sd=seed_sd,
                         attraction=gap)
            for seed in range(seeds):
                table = cells.drop(columns="nearest_attractor").assign(
                    item=range(len(cells)), source="grammar", correct=~err[seed], margin=0.0,
                    construction="pp", distance=3, h_first_noun=True, h_nearest_noun=~cells["nearest_attractor"],
                    h_majority_noun=True, h_template=True)
                out.append({"run_id": f"{task}-{arch}-{seed}", "label": arch, "status": "ok",
                            "items": table.to_dict(orient="split", index=False),
                            "agreement_cells": {"test": {}, "train": {}},
                            "config": {"task": task, "seed": seed, "model": {"arch": arch}, "train": {"steps": STANDARD_STEPS},
                                       "options": {"items_per_cell": per_cell, "max_intervening": DEPTH,
                                                   "nonce": False}}})
    return out


def verdicts(recs):
    return {c.id.split(".")[1]: c.verdict for c in agreement_claims(recs)}


def test_claims_reproduced_when_the_effects_are_there():
    assert set(verdicts(records(np.random.default_rng(5))).values()) == {REPRODUCED}


def test_claims_not_reproduced_when_the_effects_are_absent():
    got = verdicts(records(np.random.default_rng(6), trend=0.0, recency=0.0, vanilla_gap=0.0, lm_gap=0.0))
    # the objective rule's absent effect excludes its 0.02 minimum only in some sweeps (its control above
    # asks "reproduced" ≤ 10 %, not "not reproduced"); with four architectures one may stay inconclusive
    objective = got.pop("number_prediction_beats_lm")
    assert objective != REPRODUCED
    assert got == {"attractors": NOT_REPRODUCED, "sequential_recency": NOT_REPRODUCED,
                   "gated_fewer_attraction_errors": NOT_REPRODUCED}


def test_claims_say_too_few_with_three_seeds():
    """The per-model rules assume a between-seed SD and call 3 seeds too few; the claim parts measure it: at a
    large SD 3 seeds are too few, at a small one a large effect may be judged on them."""
    claims = {c.id.split(".")[1]: c for c in agreement_claims(records(np.random.default_rng(7), seeds=3, per_cell=40))}
    for name in ("attractors", "number_prediction_beats_lm"):
        assert claims[name].verdict == INCONCLUSIVE and "too few seeds/items" in claims[name].why
    wild = {c.id.split(".")[1]: c for c in agreement_claims(records(np.random.default_rng(7), seeds=3, per_cell=40,
                                                                      seed_sd=0.15))}
    assert wild["gated_fewer_attraction_errors"].verdict == INCONCLUSIVE
    assert "too few seeds: 3 of the" in wild["gated_fewer_attraction_errors"].why


def test_report_tables_and_checks_from_records(tmp_path):
    recs = records(np.random.default_rng(8), seeds=3, per_cell=20)
    report = AgreementReport()
    tables = report.tables(recs)
    assert {"agreement_errors", "agreement_cell_errors", "agreement_rule_evidence", "agreement_power"} <= set(tables)
    errors_table = tables["agreement_errors"]
    assert (errors_table["error_low"] >= 0).all() and (errors_table["error_high"] <= 1).all()
    assert len(tables["agreement_cell_errors"]) == 8 * 10  # 4 models × 2 objectives × 10 cells
    assert {"recency_index", "attraction"} <= set(tables["agreement_rule_evidence"])
    heuristics, calibration = report.checks(recs)
    assert heuristics.passed is False and "first_noun: 0.0%" in heuristics.evidence  # the simulated first noun is right
    # simulated gated top cell: 0.1 + 0.08 + 4 × 0.06 + 0.15 ≈ 0.57 > 0.40
    assert calibration.passed is False and "top-cell error gru" in calibration.evidence
    # the calibration target is marked as such, apart from the sanity checks; the heuristics check names only
    # what it measures (no claim that the subject cannot be found by position)
    assert calibration.kind == CALIBRATION and calibration.statement.startswith("calibration target")
    assert heuristics.kind == SANITY and "not found by position" not in heuristics.statement
    # the positional template is one of the four heuristics the check names
    assert "template: 0.0%" in heuristics.evidence and "positional template" in heuristics.statement
    assert [p.name for p in report.plots(recs, tmp_path)] == ["agreement_attractors.png",
                                                              "agreement_number_attractors.png"]


def test_a_heuristic_check_holds_exactly_when_each_heuristic_errs_on_a_quarter_of_attractor_items():
    from tasks.agreement.report import heuristic_check

    def rows(template_right: list[bool]) -> pd.DataFrame:  # one LM's attractor items, plus one item without
        return pd.DataFrame({"task": "agreement", "model": "lstm", "attractors": [1] * len(template_right) + [0],
                             "h_template": template_right + [False]})
    assert heuristic_check(rows([False, True, True, True]), "t", ("template",), "").passed is True  # 25 %
    assert heuristic_check(rows([False] + [True] * 4), "t", ("template",), "").passed is False  # 20 %
    assert heuristic_check(rows([True]), "t", ("first_noun",), "").passed is None  # no such column


def test_the_power_table_checks_the_assumed_seed_sd_against_the_sweep():
    """Seeds that disagree more than the power analysis assumed (per-seed offsets of SD 0.12, so a paired
    difference of SD ≈ 0.17, against 0.04 for the objective rule) show up as a larger observed SD and a larger
    detectable effect."""
    calm = AgreementReport().tables(records(np.random.default_rng(9), seeds=6, per_cell=40))["agreement_power"]
    wild = AgreementReport().tables(records(np.random.default_rng(9), seeds=6, per_cell=40,
                                            seed_sd=0.12))["agreement_power"]
    calm, wild = calm.set_index("rule"), wild.set_index("rule")
    assert calm.loc["objective", "observed_seed_sd"] < 0.06 < 0.09 < wild.loc["objective", "observed_seed_sd"] < 0.3
    assert wild.loc["objective", "detectable_at_observed_sd"] > calm.loc["objective", "detectable_at_observed_sd"]
    assert wild.loc["objective", "detectable_at_observed_sd"] > wild.loc["objective", "detectable_80pct"]


def plugin_copies(recs, arch="mgu", plugin=False):
    """The records again as a user's cell (a new name, or a plugin replacing a built-in name), its items all
    wrong on attractor items and right elsewhere — an extreme cell that would flip any majority it joined."""
    out = []
    for r in recs:
        copy = {**r, "run_id": r["run_id"] + "-" + arch, "label": arch,
                "config": {**r["config"], "model": {"arch": arch}}}
        if plugin:
            copy["config"]["identity"] = {"plugins": ["my_cells.py"]}
        items = pd.DataFrame(**r["items"])
        items["correct"] = items["attractors"] == 0
        copy["items"] = items.to_dict(orient="split", index=False)
        out.append(copy)
    return out


def test_a_users_cell_never_changes_a_literature_verdict():
    """Literature claims are judged on the built-in architectures only (suite.core.families): a sweep with an
    extra cell gives the same verdicts, whether the claims read the records directly or through the report's
    literature filter; the cell still appears in the report's comparison tables."""
    from suite.judge.report import literature_claims
    recs = records(np.random.default_rng(5))
    base = {c.id: c.verdict for c in agreement_claims(recs)}
    with_cell = recs + plugin_copies([r for r in recs if r["label"] == "lstm"])
    assert {c.id: c.verdict for c in agreement_claims(with_cell)} == base
    assert {c.id: c.verdict for c in literature_claims(with_cell) if c.id.startswith("agreement.")} == base
    replaced = recs + plugin_copies([r for r in recs if r["label"] == "gru"], arch="gru", plugin=True)
    assert {c.id: c.verdict for c in literature_claims(replaced) if c.id.startswith("agreement.")} == base
    table = AgreementReport().tables(with_cell)["agreement_rule_evidence"]
    assert "mgu" in set(table["model"])


def test_a_gru_widened_to_the_lstms_parameter_count_never_votes_in_a_per_architecture_claim():
    from suite.core.config import ModelConfig
    from tasks.agreement.claims import builtin

    twin = ModelConfig(arch="gru", hidden=142, sized_as="lstm").label
    rows = pd.DataFrame({"model": ["gru", twin, "lstm"]})
    assert twin == "gru≈lstm" and list(builtin(rows)["model"]) == ["gru", "lstm"]
