"""The four agreement claims, each judged from item rows by its rule in `rules.py` (seed as the unit,
per-seed tests reported as "k of n seeds significant", Holm-corrected). Trend and objective are guarded by
`power.py`; recency and gated attraction are judged as claim parts (suite/judge/parts.py) on the built-in
architectures only (suite.core.families), every part required (suite.judge.claims.combine_verdicts)."""
from __future__ import annotations

import pandas as pd

from suite.core.families import BUILTIN_RECURRENT, GATED as GATED_ARCHS, VANILLA as VANILLA_ARCHS
from suite.judge.claims import INCONCLUSIVE, REPRODUCED, Claim, Part, combine_verdicts
from suite.judge.parts import claim_from_parts, judge_part

from . import evidence
from .power import too_few
from .rules import GATED_ATTRACTION, OBJECTIVE, RECENCY_INDEX, TREND, Judgement, Rule, seed_verdict, significant
from .task import LM_TASK

LINZEN = "Linzen, Dupoux & Goldberg (2016), TACL 4"
GULORDAVA = "Gulordava, Bojanowski, Grave, Linzen & Baroni (2018), NAACL"
# Fewer errors than this on a seed's mixed cells leave its recency index too coarse to read (one error is
# 0 or 1): such seeds are set aside and counted, not judged.
MIN_RECENCY_ERRORS = 5


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


def builtin(items: pd.DataFrame) -> pd.DataFrame:
    """Item rows of the built-in architectures only: a user's cell never votes in a literature verdict (its
    rows stay in the report's tables, beside the built-in ones)."""
    return items if items.empty else items[items["model"].isin(BUILTIN_RECURRENT)]


def lm_items(items: pd.DataFrame) -> pd.DataFrame:
    if items.empty:
        return items
    return builtin(items[items["task"] == LM_TASK])


def per_model_claim(id_: str, statement: str, rule: Rule, rule_text: str, per_seed, items: pd.DataFrame,
                    records: list[dict], direction=None, empty="no language-model agreement runs with item rows",
                    source: str = LINZEN) -> Claim:
    """A claim judged per model by a one-sample rule over seeds, then over the models by the suite's one
    aggregation (suite.judge.claims.combine_verdicts: every model reproduced → reproduced, any not → not)."""
    evidence_rows = per_seed(items) if not items.empty else pd.DataFrame()
    judgements, seeds = ({}, {})
    if not evidence_rows.empty:
        judgements, seeds = judge_per_model(rule, evidence_rows, records, direction)
    verdict = combine_verdicts([j.verdict for j in judgements.values()])
    return _claim(id_, statement, source, rule, rule_text, judgements, seeds, verdict, empty)


def attractor_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    return per_model_claim(
        "agreement.attractors", "language models' agreement error rises with the number of attractors", TREND,
        f"per built-in LM architecture, per seed: the least-squares slope of error on attractor count within each "
        f"intervening-noun stratum (weighted by items); 95 % t-interval over seeds: reproduced when above 0 with "
        f"mean ≥ {TREND.min_effect:g} per attractor, not reproduced when below {TREND.min_effect:g}; per-seed "
        f"one-sided binomial-GLM trend tests reported as k of n significant (Holm); every built-in architecture "
        f"reproduced → reproduced, any not reproduced → not; inconclusive when the design cannot detect {TREND.design_effect:g} with 80 % power",
        evidence.per_seed_trend, lm_items(items), records)


RECENCY_STATEMENT = ("agreement errors are sequential-recency errors: a model's errors fall on items whose noun "
                     "nearest the verb is an attractor more than errors blind to that noun would")
RECENCY_TEXT = (
    f"per built-in LM architecture in the sweep ({', '.join(BUILTIN_RECURRENT)}; suite.core.families), on cells "
    f"with 0 < attractors < intervening nouns: per seed, the recency index (O − E)/(T − E) — T the seed's errors "
    f"there, O those on items whose nearest noun is an attractor, E = Σ over cells of errors × the cell's share "
    f"of such items (what errors blind to the nearest noun put there); 0 under that null, 1 when every error is "
    f"on a nearest-attractor item, whatever the error rate. Seeds with fewer than {MIN_RECENCY_ERRORS} errors "
    f"there are set aside (counted). Mean and 95 % t-interval over seeds: a part is reproduced when the interval "
    f"lies above 0 and the mean ≥ {RECENCY_INDEX.min_effect:g}, not reproduced when it lies below "
    f"{RECENCY_INDEX.min_effect:g}; inconclusive otherwise, or with under 80 % power at "
    f"{RECENCY_INDEX.design_effect:g} at the between-seed SD the indices show (item noise at the measured error "
    f"rate included). Per-seed exact stratified tests reported as k of n significant (Holm). Every part "
    f"reproduced → reproduced; any not reproduced → not reproduced")


def lm_models(items: pd.DataFrame) -> list[str]:
    """The built-in architectures with LM item rows, in the families' order."""
    present = set(items["model"]) if not items.empty else set()
    return [a for a in BUILTIN_RECURRENT if a in present]


def recency_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    claim = Claim("agreement.sequential_recency", RECENCY_STATEMENT, LINZEN, RECENCY_TEXT, "", "",
                  code=(__name__, "tasks.agreement.rules", "tasks.agreement.evidence"))
    lm = lm_items(items)
    rows = evidence.per_seed_recency(lm) if lm_models(lm) else pd.DataFrame()
    parts, notes = [], []
    if not rows.empty:
        rows = rows.assign(significant=significant(rows["p"].tolist()))
    for model in lm_models(lm):
        mine = rows[rows["model"] == model]
        usable = mine[mine["errors"] >= MIN_RECENCY_ERRORS]
        set_aside = len(mine) - len(usable)
        because = "" if len(usable) >= 2 else (f"too few seeds with ≥ {MIN_RECENCY_ERRORS} errors on mixed cells "
                                               f"({len(usable)} of {len(mine)}): no errors to locate")
        parts.append(judge_part(model, RECENCY_INDEX, usable["index"].tolist(), tasks=(LM_TASK,),
                                inconclusive_because=because))
        notes.append(f"{model}: {int(usable['significant'].sum())} of {len(usable)} seeds significant (Holm)" +
                     (f", {set_aside} set aside with too few errors" if set_aside else ""))
    claim = claim_from_parts(claim, parts, missing="not measured: no built-in language-model agreement runs with "
                                                   "item rows")
    if notes:
        claim.evidence += "; " + "; ".join(notes)
    return claim


GATED_STATEMENT = ("gated LSTM/GRU language models are less attracted by a mismatching noun than vanilla RNNs: "
                   "an attractor raises their error by less")
GATED_TEXT = (
    f"seed as the unit: per seed, attraction = error on items with ≥ 1 attractor − error on items with "
    f"intervening nouns but no attractor. One part per vanilla reference × gated architecture "
    f"({' and '.join(VANILLA_ARCHS)} × {' and '.join(GATED_ARCHS)}; suite.core.families): mean attraction of the "
    f"vanilla seeds − that of the gated seeds (a difference-in-differences), 95 % Welch interval; a part is "
    f"reproduced when the interval lies above 0 and the difference ≥ {GATED_ATTRACTION.min_effect:g}, not "
    f"reproduced when it lies below {GATED_ATTRACTION.min_effect:g}; inconclusive otherwise, or with under 80 % "
    f"power at {GATED_ATTRACTION.design_effect:g} at the measured between-seed SDs, or when an architecture was "
    f"not run. Gated models must beat both vanilla references: every part reproduced → reproduced; any not "
    f"reproduced → not reproduced")


def gated_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    claim = Claim("agreement.gated_fewer_attraction_errors", GATED_STATEMENT, GULORDAVA, GATED_TEXT, "", "",
                  code=(__name__, "tasks.agreement.rules", "tasks.agreement.evidence"))
    lm = lm_items(items)
    rows = evidence.per_seed_attraction(lm) if not lm.empty else pd.DataFrame(columns=["model", "effect"])
    per_model = {m: g["effect"].tolist() for m, g in rows.groupby("model")}
    parts: list[Part] = []
    for vanilla in VANILLA_ARCHS:
        for gated in GATED_ARCHS:
            name = f"{vanilla} − {gated}"
            absent = [a for a in (vanilla, gated) if a not in per_model]
            because = f"not measured: no {' or '.join(absent)} language-model runs with item rows" if absent else ""
            parts.append(judge_part(name, GATED_ATTRACTION, per_model.get(vanilla, ()), per_model.get(gated, ()),
                                    tasks=(LM_TASK,), inconclusive_because=because))
    return claim_from_parts(claim, parts)


def objective_claim(items: pd.DataFrame, records: list[dict]) -> Claim:
    original = builtin(items)
    return per_model_claim(
        "agreement.number_prediction_beats_lm", "a supervised number-prediction objective errs less than the "
        "language-modelling objective on the same prefixes", OBJECTIVE,
        f"per built-in architecture, paired by seed on the same items: LM error minus number-prediction error, 95 % "
        f"t-interval over seeds: reproduced above 0 with mean ≥ {OBJECTIVE.min_effect:g}, not reproduced below "
        f"{OBJECTIVE.min_effect:g}; per-seed exact McNemar tests reported as k of n significant in the claimed "
        f"direction (Holm); every built-in architecture reproduced → reproduced, any not reproduced → not",
        evidence.paired_objectives, original, records,
        direction=lambda row: row["lm_only_wrong"] > row["number_only_wrong"],
        empty="no architecture has both objectives with item rows")


def observed_seed_sd(items: pd.DataFrame) -> dict[str, float]:
    """Per rule: the largest between-seed SD of its per-seed effect among the models it judges (the one
    that limits its power), for checking the SDs the power analysis assumed."""
    lm = lm_items(items)
    if lm.empty:
        return {}
    original = builtin(items)
    effects = {TREND.name: evidence.per_seed_trend(lm), OBJECTIVE.name: evidence.paired_objectives(original)}
    return {name: float(frame.groupby("model")["effect"].std().max())
            for name, frame in effects.items() if not frame.empty and frame.groupby("model").size().max() > 1}


def agreement_claims(records: list[dict]) -> list[Claim]:
    items = evidence.items_frame(records)
    if not items.empty and not evidence.has_annotations(items):
        items = items.iloc[0:0]
    return [attractor_claim(items, records), recency_claim(items, records), gated_claim(items, records),
            objective_claim(items, records)]

