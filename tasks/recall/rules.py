"""The recall claim's statistic and verdict, fixed before the confirmatory data (presentation: report.py).

`recall.gated_span` (Hochreiter & Schmidhuber 1997; Cho et al. 2014): gated cells recall over longer
distances than vanilla RNNs. The statistic is each tuned run's memory span (outcomes.memory_span: the largest
tested distance up to which accuracy stays at or above halfway from chance to 1, capped at the largest tested
distance), on a log₂ scale, judged among the runs that learned the task (outcomes.status). One part per gated
cell × vanilla reference (suite.core.families): gated cells must beat both vanilla references.
"""
from __future__ import annotations

import math

from suite.core.families import GATED, VANILLA
from suite.judge.analysis import label, metric
from suite.judge.claims import WELCH, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

from .outcomes import LEARNED, span, status

TASK = "recall"
RULE = Rule(
    test=WELCH, min_effect=1.0, design_effect=2.0,
    basis=("Hochreiter & Schmidhuber 1997 §5: LSTM bridged lags of 100–1000 steps where RNNs trained by BPTT/RTRL "
           "failed beyond about 10 (recalled, unverified), a ratio ≥ 10 (log₂ ≈ 3.3); the design must detect a "
           "fourfold span (log₂ 2) and the minimum is a twofold span (log₂ 1, one step of a doubling grid); "
           "contrast: log₂ span of the gated cell − that of the vanilla reference, learned runs only"),
    scale="Δ log₂ memory span (gated − vanilla), learned runs", unit="seed")
STATEMENT = "LSTM and GRU recall over longer distances than vanilla RNNs (both the tanh and the ReLU RNN)"
SOURCE = ("Hochreiter & Schmidhuber 1997 (LSTM, the lecture's answer to the 'tickets' example of vanishing "
          "gradients); Cho et al. 2014 (GRU); Chung et al. 2014 (gated ≫ tanh RNN)")
TEXT = (f"tuned runs only (per architecture and seed, the grid point with the best validation accuracy); a run "
        f"learned when its accuracy at the shortest tested distance beats chance (one-sided exact binomial, "
        f"α = 0.05). Per learned run, its span = the largest tested distance up to which accuracy stays ≥ halfway "
        f"from chance to 1 (every shorter distance too), capped at the largest tested distance; a span of 0 "
        f"counts as half the shortest distance. One part per gated cell ({', '.join(GATED)}) × vanilla reference "
        f"({', '.join(VANILLA)}; suite.core.families): Δ = mean log₂ span of the gated cell's learned seeds − "
        f"the vanilla cell's, 95 % Welch interval: reproduced when above 0 and Δ ≥ {RULE.min_effect:g} (twice the "
        f"span), not reproduced when below {RULE.min_effect:g}; inconclusive otherwise, with under 80 % power at "
        f"Δ = {RULE.design_effect:g} at the measured between-seed SDs, with fewer than two learned runs a side "
        f"('never learned' when none learned), or when every run of both reaches the largest tested distance "
        f"(ceiling). Gated cells must beat both vanilla references: every part reproduced → reproduced; any not "
        f"reproduced → not reproduced; else inconclusive")


def log_span(run: dict) -> float:
    """log₂ of the run's span; a learned run below the threshold already at the shortest distance counts as
    half that distance (one doubling below what was tested)."""
    value = span(run)
    shortest = min(row["d"] for row in metric(run, "by_distance", []))
    return math.log2(max(value, shortest / 2))


def cap(runs: list[dict]) -> int:
    return min(max(row["d"] for row in metric(r, "by_distance", [])) for r in runs)


def span_part(gated: str, vanilla: str, runs: dict[str, list[dict]], rule: Rule = RULE) -> Part:
    """`gated` − `vanilla` (the cell the claim predicts longer − the other) on log₂ span, learned runs only."""
    name = f"{gated} − {vanilla}"
    absent = [a for a in (gated, vanilla) if not runs.get(a)]
    if absent:
        return judge_part(name, rule, (), (), (TASK,), f"not measured: no {' or '.join(absent)} runs")
    learned = {a: [r for r in runs[a] if status(r) == LEARNED] for a in (gated, vanilla)}
    never = [a for a in (gated, vanilla) if not learned[a]]
    values = [log_span(r) for r in learned[gated]]
    reference = [log_span(r) for r in learned[vanilla]]
    because = ""
    if never:
        because = "never learned: " + ", ".join(f"{a} (0 of {len(runs[a])} runs above chance at the shortest "
                                                 f"distance)" for a in never)
    elif min(len(values), len(reference)) < 2:
        because = f"too few learned runs: {len(values)} {gated}, {len(reference)} {vanilla}"
    else:
        top = math.log2(cap(learned[gated] + learned[vanilla]))
        if all(v >= top for v in values + reference):
            because = f"ceiling: every learned run of both recalls up to the largest tested distance ({2 ** top:g})"
    return judge_part(name, rule, values, reference, (TASK,), because)


def gated_span_claim(tuned: list[dict]) -> Claim:
    """`tuned`: the tuned recall runs (one per architecture and seed)."""
    runs: dict[str, list[dict]] = {}
    for r in tuned:
        runs.setdefault(label(r), []).append(r)
    claim = Claim("recall.gated_span", STATEMENT, SOURCE, TEXT, "", "", code=(__name__, "tasks.recall.outcomes"))
    return claim_from_parts(claim, [span_part(g, v, runs) for v in VANILLA for g in GATED])


# --------------------------------------------------------------------------- the LSTM as the default
LSTM_STATEMENT = "the LSTM is the better default where dependencies are long: it recalls over longer distances than the GRU"
LSTM_SOURCE = ("lecture notes, LSTM vs GRU ('LSTM is a good default choice, especially if your data has particularly "
               "long dependencies'); no paper in the lecture makes this comparison (Chung et al. 2014 and Greff et "
               "al. 2017 find no consistent winner)")
LSTM_TEXT = (f"on the recall stories, tuned runs that learned (as for recall.gated_span): Δ = mean log₂ span of "
             f"lstm − that of gru, 95 % Welch interval over seeds; reproduced when above 0 and Δ ≥ "
             f"{RULE.min_effect:g} (twice the span), not reproduced when below {RULE.min_effect:g}; inconclusive "
             f"otherwise, with under 80 % power at Δ = {RULE.design_effect:g} at the measured SDs, when either cell "
             f"never learned or both reach the largest tested distance (ceiling)")
LSTM_RULE = Rule(
    test=WELCH, min_effect=RULE.min_effect, design_effect=RULE.design_effect,
    basis=("the lecture gives no size: the design must detect the gated-vs-vanilla design effect (a fourfold "
           "span), the minimum is a twofold span; contrast: log₂ span lstm − gru, learned runs"),
    scale="Δ log₂ memory span (lstm − gru), learned runs", unit="seed")


def lstm_default_claim(tuned: list[dict]) -> Claim:
    """`tuned`: the tuned recall runs (one per architecture and seed)."""
    runs: dict[str, list[dict]] = {}
    for r in tuned:
        runs.setdefault(label(r), []).append(r)
    part = span_part("lstm", "gru", runs, LSTM_RULE)
    claim = Claim("recall.lstm_default", LSTM_STATEMENT, LSTM_SOURCE, LSTM_TEXT, "", "",
                  code=(__name__, "tasks.recall.outcomes"))
    return claim_from_parts(claim, [part])
