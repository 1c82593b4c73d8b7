"""The claim's statistic and verdict: a bidirectional tagger beats the best delayed forward tagger of the same
size (Schuster & Paliwal 1997, §4), judged per built-in cell on the seed-paired difference of test token
accuracy. Presentation (tables, plots, page wording) lives in report.py: this module's source is hashed
into the claim's pre-registered rule.
"""
from __future__ import annotations

import math

from suite.core.families import BUILTIN_RECURRENT
from suite.judge.analysis import arch, metric, model_field, option, seed, tuned_runs
from suite.judge.claims import MEAN, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

TASK = "bidir_tag"
JUDGED = "token_accuracy"  # every word of the test sentences, as Schuster & Paliwal scored every frame
# A bidirectional tagger must tag the words that decide their own tag before context can be judged (a
# smoke-size run of 30 steps has not learned them yet; at standard every pilot run got 0.997 or more).
TRAINED = 0.9
RULE = Rule(
    test=MEAN,
    # One point of token accuracy: a third of the published effect below, and five times the standard error
    # of one run's token accuracy (≈ 0.002 over the ≈ 9,300 test tokens of the standard size).
    min_effect=0.01,
    design_effect=0.03,
    basis=("Schuster & Paliwal 1997 §4, TIMIT frame classification: the BRNN above the forward RNN at its best "
           "delay by ≈ 3 points of frame accuracy (recalled, unverified; Graves & Schmidhuber 2005 report the "
           "same contrast for LSTMs, BLSTM above the best-delay LSTM by a few points); contrast: bidirectional "
           "minus the best delayed forward network, accuracy over every position"),
    scale="Δ token accuracy (bidirectional − best delayed forward tagger), paired by seed",
    unit="seed")
STATEMENT = ("a bidirectional tagger beats the best delayed forward tagger with as many weights, where the right "
             "context decides")
SOURCE = ("Schuster & Paliwal 1997 §4 (the BRNN beat forward RNNs whose output was delayed to see future "
          "frames); lecture: bidirectionality is powerful whenever the entire input is known")


def choice_score(record: dict) -> tuple[float, float]:
    """How a forward tagger's delay is chosen per seed, on validation only: the better tagger overall
    (validation token accuracy), then the better one on right-only tags."""
    values = record.get("metrics") or {}

    def finite(name: str) -> float:
        value = values.get(name)
        return value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf
    return finite("valid_token_accuracy"), finite("valid_right_only_accuracy")


def delay(record: dict) -> int:
    return int(option(record, "delay", 0) or 0)


def bidirectional(record: dict) -> bool:
    return bool(model_field(record, "bidirectional"))


def of_cell(records: list[dict], cell: str) -> list[dict]:
    """The one-layer runs of a cell (the claim is about the reading direction, judged without stacks)."""
    return [r for r in records if arch(r) == cell and (model_field(r, "layers") or 1) == 1]


def best_delayed(forward: list[dict]) -> dict[int, dict]:
    """seed → the forward run whose delay validation chose (the same selection the summary table uses)."""
    return {seed(r): r for r in tuned_runs(forward, ("options.delay",), choice_score)}


def paired(runs: list[dict]) -> tuple[dict[int, dict], dict[int, dict]]:
    """(seed → bidirectional run, seed → chosen forward run) over the seeds both have."""
    bi = {seed(r): r for r in runs if bidirectional(r)}
    forward = best_delayed([r for r in runs if not bidirectional(r)])
    common = sorted(set(bi) & set(forward))
    return {s: bi[s] for s in common}, {s: forward[s] for s in common}


def mean_of(runs: dict[int, dict], name: str) -> float:
    values = [metric(r, name) for r in runs.values()]
    return sum(values) / len(values) if values else math.nan


def not_judged(cell: str, runs: list[dict], bi: dict[int, dict], forward: dict[int, dict]) -> str:
    """Why a cell's difference says nothing about the claim ('' when it does)."""
    if not runs:
        return f"not measured: no one-layer {cell} runs"
    if not bi or not forward:
        readers = {bidirectional(r) for r in runs}
        missing = "bidirectional" if True not in readers else "forward" if False not in readers else "seed-paired"
        return f"not measured: no {missing} runs"
    trained = mean_of(bi, "local_accuracy")
    if not trained >= TRAINED:
        return f"bidirectional tagger untrained (local accuracy {trained:.2f} < {TRAINED:g})"
    top = 1 - RULE.min_effect
    bi_acc, forward_acc = mean_of(bi, JUDGED), mean_of(forward, JUDGED)
    if bi_acc > top and forward_acc > top:
        return (f"ceiling: bidirectional {bi_acc:.3f} and best delayed forward {forward_acc:.3f} both within "
                f"{RULE.min_effect:g} of perfect, so no gain of {RULE.min_effect:g} can show")
    return ""


def cell_part(records: list[dict], cell: str) -> Part:
    runs = of_cell(records, cell)
    bi, forward = paired(runs)
    values = [metric(bi[s], JUDGED) - metric(forward[s], JUDGED) for s in bi]
    return judge_part(cell, RULE, values, tasks=(TASK,), inconclusive_because=not_judged(cell, runs, bi, forward))


def delayed_forward_claim(records: list[dict]) -> Claim:
    """One part per built-in cell (`suite.core.families`); every part must reproduce (`combine_verdicts`)."""
    records = [r for r in records if r.get("status") == "ok" and r["config"]["task"] == TASK]
    parts = [cell_part(records, cell) for cell in BUILTIN_RECURRENT]
    claim = Claim(
        id="bidirectional.delayed_forward", statement=STATEMENT, source=SOURCE,
        rule=(f"on {TASK}, per built-in cell ({', '.join(BUILTIN_RECURRENT)}), one layer: Δ = test token accuracy "
              "of the bidirectional tagger − that of the forward tagger whose delay validation token accuracy "
              "chose among the delays run (same seed, so the same sentences; the forward tagger's hidden size "
              "matches its twin's weight count), mean and 95 % t-interval over seeds. A part is reproduced when "
              f"the interval lies above 0 and Δ ≥ {RULE.min_effect:g}, not reproduced when the interval lies "
              f"below {RULE.min_effect:g}, otherwise inconclusive; also inconclusive with under 80 % power at "
              f"Δ = {RULE.design_effect:g} at the measured between-seed SD, when the bidirectional tagger gets "
              f"under {TRAINED:g} of the words that decide their own tag (untrained), or when both taggers are "
              f"within {RULE.min_effect:g} of perfect (ceiling). The claim is reproduced when every part is, "
              "not reproduced when any part is not"),
        verdict="", evidence="", code=(__name__,))
    return claim_from_parts(claim, parts)
