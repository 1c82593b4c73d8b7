"""From run records to the per-seed evidence the rules judge: the item rows of every run in one frame, and
per (model, seed) the counts, effects and tests of `rules.py`. Reads records only through suite.analysis.
"""
from __future__ import annotations

import pandas as pd

from suite.judge.analysis import label, ok_runs, option, seed, task_of
from suite.judge.stats import Interval, pooled_rate_ci

from .metrics import from_record
from .power import Design
from .rules import cell_counts, mcnemar_test, recency_effect, recency_index, recency_test, trend_effect, trend_test
from .task import LM_TASK, NUMBER_TASK

KEY = ["task", "model", "seed"]


def model_name(record: dict) -> str:
    """The model's label, marked when its probes were nonce sentences (judged apart)."""
    return label(record) + (" (nonce)" if option(record, "nonce") else "")


def items_frame(records: list[dict]) -> pd.DataFrame:
    """Every item row of every finished agreement run, with task, model and seed columns."""
    frames = []
    for r in ok_runs(records, LM_TASK, NUMBER_TASK):
        if r.get("items"):
            frames.append(from_record(r["items"]).assign(task=task_of(r), model=model_name(r), seed=seed(r),
                                                         run_id=r["run_id"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def runs_without_items(records: list[dict]) -> int:
    return sum(1 for r in ok_runs(records, LM_TASK, NUMBER_TASK) if not r.get("items"))


def design_of(records: list[dict], seeds: int) -> Design:
    """The probe design of a group of runs (the smallest, if they differ) with `seeds` seeds."""
    runs = ok_runs(records, LM_TASK, NUMBER_TASK)
    per_cell = min((option(r, "items_per_cell", 0) for r in runs), default=0)
    depth = min((option(r, "max_intervening", 0) for r in runs), default=0)
    return Design(seeds, int(per_cell), int(depth))


def has_annotations(items: pd.DataFrame) -> bool:
    return not items.empty and items[["attractors", "intervening_nouns"]].notna().all().all()


def rate(items: pd.DataFrame, mask: pd.Series | None = None) -> Interval:
    """Error rate with a binomial interval pooled over seeds (Wilson for one seed)."""
    rows = items if mask is None else items[mask]
    errors = (~rows["correct"].astype(bool)).groupby(rows["seed"]).agg(["sum", "count"])
    return pooled_rate_ci(errors["sum"].tolist(), errors["count"].tolist())


def per_seed_trend(items: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, seed): error per attractor within strata and the GLM trend test's one-sided p."""
    counts = cell_counts(items, KEY, ["intervening_nouns", "attractors"])
    cells = counts["errors"].columns
    n = cells.get_level_values(0).to_numpy()
    k = cells.get_level_values(1).to_numpy()
    errors, totals = counts["errors"].to_numpy(), counts["items"][cells].to_numpy()
    out = pd.DataFrame(index=counts.index)
    out["effect"] = trend_effect(errors, totals, n, k)
    out["p"] = [trend_test(e, m, n, k) for e, m in zip(errors, totals)]
    return out.reset_index()


def per_seed_recency(items: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, seed), on cells with 0 < k < n: the recency index (`index`, what the claim judges),
    the Mantel–Haenszel risk difference (`effect`, descriptive), the exact test's p and the errors counted."""
    mixed = items[(items["attractors"] > 0) & (items["attractors"] < items["intervening_nouns"])]
    mixed = mixed.assign(nearest_attractor=mixed["nearest_noun_plural"] != mixed["subject_plural"])
    counts = cell_counts(mixed, KEY, ["intervening_nouns", "attractors", "nearest_attractor"])
    strata = sorted({c[:2] for c in counts["items"].columns})

    def side(what: str, flag: bool):
        return counts[what].reindex(columns=[(*s, flag) for s in strata], fill_value=0).to_numpy()

    e1, m1, e0, m0 = side("errors", True), side("items", True), side("errors", False), side("items", False)
    out = pd.DataFrame(index=counts.index)
    out["index"] = recency_index(e1, m1, e0, m0)
    out["effect"] = recency_effect(e1, m1, e0, m0)
    out["p"] = [recency_test(*row) for row in zip(e1, m1, e0, m0)]
    out["errors"] = (e1 + e0).sum(-1)
    return out.reset_index()


def per_seed_attractor_error(items: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, seed): error on items with at least one attractor."""
    attr = items[items["attractors"] > 0]
    return (~attr["correct"].astype(bool)).groupby([attr[c] for c in KEY]).mean().rename("effect").reset_index()


def per_seed_attraction(items: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, seed): attraction = error on items with an attractor − error on items with
    intervening nouns but none (the same frames' attractor-free variants: what the nouns cost without a
    mismatching number)."""
    rows = items[items["intervening_nouns"] > 0]
    wrong = ~rows["correct"].astype(bool)
    by = [rows[c] for c in KEY] + [(rows["attractors"] > 0).rename("with_attractor")]
    rates = wrong.groupby(by).mean().unstack("with_attractor")
    rates = rates.reindex(columns=[True, False])
    return (rates[True] - rates[False]).rename("effect").dropna().reset_index()


def paired_objectives(items: pd.DataFrame) -> pd.DataFrame:
    """Per (model, seed) with both objectives: LM error − number-prediction error on the same items, and
    the exact McNemar p (two-sided) with the discordant counts."""
    rows = []
    lm, number = items[items["task"] == LM_TASK], items[items["task"] == NUMBER_TASK]
    for (model, s), a in lm.groupby(["model", "seed"]):
        b = number[(number["model"] == model) & (number["seed"] == s)]
        if b.empty:
            continue
        # the same seed and options give the same items; matching the annotations too guards against a sweep
        # that gave the two objectives different probe options
        both = a.merge(b, on=["item", "attractors", "intervening_nouns", "distance", "subject_plural"],
                       suffixes=("_lm", "_number"))
        lm_ok, num_ok = both["correct_lm"].astype(bool).to_numpy(), both["correct_number"].astype(bool).to_numpy()
        p, lm_only, number_only = mcnemar_test(lm_ok, num_ok)
        rows.append({"model": model, "seed": s, "items": len(both), "effect": (num_ok.mean() - lm_ok.mean()),
                     "p": p, "lm_only_wrong": lm_only, "number_only_wrong": number_only})
    return pd.DataFrame(rows)
