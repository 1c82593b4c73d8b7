"""The four agreement claims, each judged from item rows by its rule in `rules.py` (seed as the unit,
per-seed tests reported as "k of n seeds significant", Holm-corrected), guarded by `power.py`."""
from __future__ import annotations

import pandas as pd

from suite.judge.claims import INCONCLUSIVE, REPRODUCED, Claim, combine_verdicts

from . import evidence
from .power import too_few
from .rules import GATED, OBJECTIVE, RECENCY, TREND, Judgement, Rule, difference_verdict, majority_verdict, \
    seed_verdict, significant
from .task import LM_TASK

LINZEN = "Linzen, Dupoux & Goldberg (2016), TACL 4"
GULORDAVA = "Gulordava, Bojanowski, Grave, Linzen & Baroni (2018), NAACL"
VANILLA, GATED_ARCHS = "rnn_tanh", ("lstm", "gru")


def judge_per_model(rule: Rule, per_seed: pd.DataFrame, records: list[dict],
                    direction=None) -> tuple[dict[str, Judgement], dict[str, str]]:
    """One-sample rule per model over its seeds; per-seed p-values Holm-corrected across every seed of every
    model judged. `direction(row)` may veto a significant p whose effect points the other way."""
    flags = significant(per_seed["p"].tolist()) if len(per_seed) else []
    if direction is not None:
        flags = [f and direction(row) for f, (_, row) in zip(flags, per_seed.iterrows())]
    per_seed = per_seed.assign(significant=flags)
    judgements, seeds_text = {}, {}
    for model, rows in per_seed.groupby("model"):
        design = evidence.design_of(records, len(rows))
        judgements[model] = seed_verdict(rule, rows["effect"].to_numpy(), too_few=too_few(rule, design))
        seeds_text[model] = f"{int(rows['significant'].sum())} of {len(rows)} seeds significant (Holm)"
    return judgements, seeds_text


def _claim(id_, statement, source, rule: Rule, rule_text: str, judgements: dict[str, Judgement],
           seeds_text: dict[str, str], verdict: str, empty: str) -> Claim:
    if not judgements:
        return Claim(id_, statement, source, rule_text, INCONCLUSIVE, "", empty)
    evidence_text = "; ".join(f"{m}: {j.text(rule)}, {seeds_text.get(m, '')}".rstrip(", ")
                              for m, j in judgements.items())
    why = "" if verdict == REPRODUCED else "; ".join(f"{m}: {j.why}" for m, j in judgements.items() if j.why)
    effect = "; ".join(f"{m} {j.effect.format()}" for m, j in judgements.items())
    return Claim(id_, statement, source, rule_text, verdict, evidence_text, why,
                 {"per_model": {m: j.verdict for m, j in judgements.items()}}, f"{rule.unit}: {effect}")


def lm_items(items: pd.DataFrame) -> pd.DataFrame:
    if items.empty:
        return items
    return items[(items["task"] == LM_TASK) & ~items["model"].str.endswith("(nonce)")]


def per_model_claim(id_: str, statement: str, rule: Rule, rule_text: str, per_seed, items: pd.DataFrame,
                    records: list[dict], direction=None, empty="no language-model agreement runs with item rows",
                    source: str = LINZEN) -> Claim:
    """A claim judged per model by a one-sample rule over seeds, then by the majority of models."""
    evidence_rows = per_seed(items) if not items.empty else pd.DataFrame()
    judgements, seeds = ({}, {})
    if not evidence_rows.empty:
        judgements, seeds = judge_per_model(rule, evidence_rows, records, direction)
    verdict = majority_verdict([j.verdict for j in judgements.values()])
    return _claim(id_, statement, source, rule, rule_text, judgements, seeds, verdict, empty)


def attractor_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    return per_model_claim(
        "agreement.attractors", "language models' agreement error rises with the number of attractors", TREND,
        f"per LM architecture, per seed: the least-squares slope of error on attractor count within each "
        f"intervening-noun stratum (weighted by items); 95 % t-interval over seeds: reproduced when above 0 with "
        f"mean ≥ {TREND.min_effect:g} per attractor, not reproduced when below {TREND.min_effect:g}; per-seed "
        f"one-sided binomial-GLM trend tests reported as k of n significant (Holm); majority of architectures, "
        f"none the other way; inconclusive when the design cannot detect {TREND.design_effect:g} with 80 % power",
        evidence.per_seed_trend, lm_items(items), records)


def recency_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    return per_model_claim(
        "agreement.sequential_recency", "agreement errors are sequential-recency errors: a model errs more when "
        "the noun nearest the verb is an attractor than when another intervening noun is", RECENCY,
        f"per LM architecture, on cells with 0 < attractors < intervening nouns: per seed, the Mantel–Haenszel-"
        f"weighted difference in error between items whose nearest noun is an attractor and items whose is not "
        f"(the null: errors ignore the nearest noun's number given the cell); 95 % t-interval over seeds: "
        f"reproduced above 0 with mean ≥ {RECENCY.min_effect:g}, not reproduced below {RECENCY.min_effect:g}; "
        f"per-seed exact stratified (hypergeometric) tests reported as k of n significant (Holm)",
        evidence.per_seed_recency, lm_items(items), records)


def gated_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    statement = "gated LSTM/GRU language models make fewer agreement-attraction errors than a vanilla RNN"
    rule_text = (f"seed as the unit: error on attractor items, mean over {VANILLA} seeds minus mean over each gated "
                 f"architecture's seeds, 95 % Welch interval (one-sided test at 2.5 %): reproduced when above 0 with "
                 f"difference ≥ {GATED.min_effect:g} for both lstm and gru, not reproduced when either lies below "
                 f"{GATED.min_effect:g}")
    lm = lm_items(items)
    rates = evidence.per_seed_attractor_error(lm) if not lm.empty else pd.DataFrame(columns=["model", "effect"])
    per_model = {m: g["effect"].to_numpy() for m, g in rates.groupby("model")}
    present = [g for g in GATED_ARCHS if g in per_model]
    if VANILLA not in per_model or not present:
        return Claim("agreement.gated_fewer_attraction_errors", statement, GULORDAVA, rule_text, INCONCLUSIVE, "",
                     f"missing runs: need {VANILLA} and {' / '.join(GATED_ARCHS)} language models")
    vanilla = per_model[VANILLA]
    judgements = {}
    for g in present:
        design = evidence.design_of(records, min(len(vanilla), len(per_model[g])))
        judgements[f"{VANILLA} − {g}"] = difference_verdict(GATED, vanilla, per_model[g],
                                                            too_few=too_few(GATED, design))
    verdicts = [j.verdict for j in judgements.values()] + [INCONCLUSIVE] * (len(GATED_ARCHS) - len(present))
    seeds = {k: f"{len(vanilla)} vs {len(per_model[k.split(' − ')[1]])} seeds" for k in judgements}
    return _claim("agreement.gated_fewer_attraction_errors", statement, GULORDAVA, GATED, rule_text, judgements,
                  seeds, combine_verdicts(verdicts), "")


def objective_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    original = items[~items["model"].str.endswith("(nonce)")] if not items.empty else items
    return per_model_claim(
        "agreement.number_prediction_beats_lm", "a supervised number-prediction objective errs less than the "
        "language-modelling objective on the same prefixes", OBJECTIVE,
        f"per architecture, paired by seed on the same items: LM error minus number-prediction error, 95 % "
        f"t-interval over seeds: reproduced above 0 with mean ≥ {OBJECTIVE.min_effect:g}, not reproduced below "
        f"{OBJECTIVE.min_effect:g}; per-seed exact McNemar tests reported as k of n significant in the claimed "
        f"direction (Holm); majority of architectures, none the other way",
        evidence.paired_objectives, original, records,
        direction=lambda row: row["lm_only_wrong"] > row["number_only_wrong"],
        empty="no architecture has both objectives with item rows")


def observed_seed_sd(items: pd.DataFrame) -> dict[str, float]:
    """Per rule: the largest between-seed SD of its per-seed effect among the models it judges (the one
    that limits its power), for checking the SDs the power analysis assumed."""
    lm = lm_items(items)
    if lm.empty:
        return {}
    compared = lm[lm["model"].isin([VANILLA, *GATED_ARCHS])]
    original = items[~items["model"].str.endswith("(nonce)")]
    effects = {TREND.name: evidence.per_seed_trend(lm), RECENCY.name: evidence.per_seed_recency(lm),
               GATED.name: evidence.per_seed_attractor_error(compared) if not compared.empty else pd.DataFrame(),
               OBJECTIVE.name: evidence.paired_objectives(original)}
    return {name: float(frame.groupby("model")["effect"].std().max())
            for name, frame in effects.items() if not frame.empty and frame.groupby("model").size().max() > 1}


def agreement_claims(records: list[dict]) -> list[Claim]:
    items = evidence.items_frame(records)
    if not items.empty and not evidence.has_annotations(items):
        items = items.iloc[0:0]
    return [attractor_claim(items, records), recency_claim(items, records), gated_claim(items, records),
            objective_claim(items, records)]

