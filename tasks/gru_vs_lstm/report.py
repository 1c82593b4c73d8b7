"""gru_vs_lstm's report: is a GRU cheaper than an LSTM of the same size, at the same quality?

Three parts, each judged on its own evidence:
- parameters: a sanity check, not a claim — a GRU layer has 3 gate blocks where an LSTM has 4 (Cho et al.
  2014's definition), so its recurrent weights are exactly 3/4 of the LSTM's;
- speed: a claim, from the paired timings of the gru_vs_lstm task (rounds alternate in one process);
- quality: a claim of *no gap*, so an equivalence test, on every language-model task where both ran.
"""
from __future__ import annotations

import json
import math
import statistics

import pandas as pd

from suite.judge.analysis import (arch, chosen_runs, group_by, metric, model_field, ok_runs, put, seed, seed_interval,
                            task_of, train_field)
from suite.judge.claims import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Check, Claim, combine_verdicts, directional_verdict,
                          equivalence_verdict)
from suite.judge.task_report import TaskReport, register_report
from suite.judge.stats import Interval, difference_ci
from suite.judge.stats import ratio_interval

COST_TASK = "gru_vs_lstm"
QUALITY_TASKS = ("grammar_lm", "text_lm", "depth")  # language models whose test loss compares across cells
# Pre-registered effects. Speed: ≥ 10 % more training tokens/s (a GRU does 3/4 of an LSTM's recurrent
# multiply-adds, so at most ≈ 1.33× where the cell dominates). Quality: perplexities within 5 % of each
# other, i.e. |Δ test loss| < log 1.05 = 0.049 nats per token.
MIN_SPEEDUP = 1.10
QUALITY_MARGIN = math.log(1.05)
PARAMETER_CHECK = "architecture.gru_fewer_parameters"
PARAMETER_STATEMENT = "a GRU has fewer parameters than an LSTM of the same size (3 gate blocks against 4)"
PARAMETER_RULE = ("in every gru_vs_lstm run: 4 × GRU recurrent parameters = 3 × LSTM recurrent parameters exactly "
                  "(W_ih, W_hh and both biases per gate block), and the whole GRU model is smaller")
EQUIVALENCE_WORDS = {REPRODUCED: "equivalent", NOT_REPRODUCED: "gap", INCONCLUSIVE: "inconclusive"}
SOURCE = "lecture notes, LSTM vs GRU (GRU: Cho et al. 2014)"
SPEED_RULE = (f"per model size and device, the GRU/LSTM ratio of training tokens/s in each round of the paired "
              f"timing (both models in one process, order alternating), pooled over the runs' rounds; 95 % "
              f"t-interval of its logarithm over rounds. A size reproduces when the interval lies above 1 and "
              f"the ratio reaches {MIN_SPEEDUP:g}×, fails when the interval lies below {MIN_SPEEDUP:g}× "
              f"(slower, equal or too small a gain), else inconclusive; every size reproduces → reproduced, "
              f"any fails → not reproduced. With no speed difference, 'reproduced' at ≤ 2.5 %.")
QUALITY_RULE = (f"equivalence (two one-sided tests at 5 %): at every (task, hidden size, steps, options) where "
                f"a single-layer GRU and LSTM both finished with ≥ 2 seeds each, the 90 % Welch interval of Δ test "
                f"loss (GRU − LSTM, nats per token = log of the perplexity ratio; seeds as the unit) lies inside "
                f"±{QUALITY_MARGIN:.3f} (perplexities within 5 %). All comparisons inside → reproduced; any "
                f"interval wholly outside → not reproduced (a gap where measured); else inconclusive — "
                f"overlapping intervals and low power never count as 'no gap'. With a true gap at the margin, "
                f"'reproduced' at ≤ 5 %.")


def quality_runs(records: list[dict]) -> list[dict]:
    """The language-model runs that compare: where a task tunes (text_lm's learning rates), each seed's
    point chosen on validation perplexity, so both cells get the same tuning budget."""
    return chosen_runs(ok_runs(records, *QUALITY_TASKS))


def lm_comparison_key(r: dict) -> tuple:
    """Runs that differ only in their cell compare: same task, shape, budget and options."""
    return (task_of(r), model_field(r, "layers"), model_field(r, "skip"), model_field(r, "hidden"),
            train_field(r, "steps"), json.dumps(r["config"].get("options", {}), sort_keys=True, default=str))


def timing_key(r: dict) -> tuple:
    return model_field(r, "hidden"), r["config"].get("device", "cpu")


@register_report
class GruVsLstmReport(TaskReport):
    name = "gru_vs_lstm"
    title = "GRU against LSTM: parameters, speed and quality"
    tasks = (COST_TASK, *QUALITY_TASKS)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        tables = {"gru_vs_lstm_speed": speed_table(ok_runs(records, COST_TASK)),
                  "gru_vs_lstm_quality": quality_table(quality_runs(records))}
        return {name: table for name, table in tables.items() if not table.empty}

    def claims(self, records: list[dict]) -> list[Claim]:
        return [speed_claim(ok_runs(records, COST_TASK)), quality_claim(quality_runs(records))]

    def checks(self, records: list[dict]) -> list[Check]:
        return [parameter_check(ok_runs(records, COST_TASK))]


# --------------------------------------------------------------------------- speed


def rounds(runs: list[dict], cell: str) -> list[float]:
    """Tokens/s of one cell in every timed round of the runs, in order."""
    return [v for r in runs for v in metric(r, f"{cell}_round_tokens_per_second", [])]


def pooled_ratio(runs: list[dict]) -> Interval:
    """GRU/LSTM tokens/s ratio over every timed round of the runs (geometric mean, 95 % t over rounds)."""
    return ratio_interval(rounds(runs, "gru"), rounds(runs, "lstm"))


def speed_table(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for (hidden, device), group in group_by(runs, timing_key).items():
        row = {"hidden": hidden, "device": device, "runs": len(group),
               "rounds": len(rounds(group, "gru")),
               "lstm_parameters": metric(group[0], "lstm_parameters"),
               "gru_parameters": metric(group[0], "gru_parameters")}
        for cell in ("lstm", "gru"):  # descriptive; the comparison is the paired ratio
            row[f"{cell}_tokens_per_second_median"] = round(statistics.median(rounds(group, cell)))
        put(row, "gru_over_lstm_speed", pooled_ratio(group))
        rows.append(row)
    return pd.DataFrame(rows)


def speed_claim(runs: list[dict]) -> Claim:
    parts, evidence, effects, whys = [], [], [], []
    for (hidden, device), group in group_by(runs, timing_key).items():
        ratio = pooled_ratio(group)
        logs = Interval(*(math.log(v) if v > 0 else math.nan for v in (ratio.mean, ratio.low, ratio.high)),
                        ratio.n, ratio.method)
        verdict, why = directional_verdict(logs, math.log(MIN_SPEEDUP))
        parts.append(verdict)
        where = f"h={hidden} on {device}"
        effects.append(f"{where}: GRU/LSTM tokens/s ×{ratio.format()}")
        lstm, gru = (statistics.median(rounds(group, cell)) for cell in ("lstm", "gru"))
        evidence.append(f"{where}: {ratio.n} paired rounds in {len(group)} run(s); median tokens/s LSTM "
                        f"{lstm:.0f}, GRU {gru:.0f}")
        if why:
            whys.append(f"{where}: {why} (on the log scale)")
    if not parts:
        whys.append(f"missing runs: no finished {COST_TASK} run (run it with --tasks {COST_TASK} --archs gru)")
    verdict = combine_verdicts(parts)
    return Claim(id="architecture.gru_faster", statement="a GRU trains faster than an LSTM of the same size",
                 source=SOURCE, rule=SPEED_RULE, verdict=verdict, evidence="; ".join(evidence) or "–",
                 why="" if verdict == REPRODUCED else "; ".join(whys), effect="; ".join(effects),
                 details={"min_speedup": MIN_SPEEDUP})


# --------------------------------------------------------------------------- quality


def quality_comparisons(runs: list[dict]) -> list[tuple[tuple, list[dict], list[dict], Interval]]:
    """(key, GRU runs, LSTM runs, Δ test loss GRU − LSTM with its 90 % Welch interval) per comparison."""
    out = []
    single = [r for r in runs if model_field(r, "layers") == 1]  # the cells themselves, not stacks
    for key, group in group_by(single, lm_comparison_key).items():
        gru = [r for r in group if arch(r) == "gru"]
        lstm = [r for r in group if arch(r) == "lstm"]
        if gru and lstm:
            delta = difference_ci([metric(r, "test_loss") for r in gru], [metric(r, "test_loss") for r in lstm],
                                  level=0.90)
            out.append((key, gru, lstm, delta))
    return out


def describe(key: tuple) -> str:
    task, layers, skip, hidden, steps = key[:5]
    return f"{task} ×{layers}{'' if skip == 'none' or layers == 1 else '+' + skip} h={hidden} {steps} steps"


def quality_table(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for key, gru, lstm, delta in quality_comparisons(runs):
        row = {"comparison": describe(key), "gru_seeds": len(gru), "lstm_seeds": len(lstm)}
        put(row, "gru_test_ppl", seed_interval(gru, "test_ppl"))
        put(row, "lstm_test_ppl", seed_interval(lstm, "test_ppl"))
        put(row, "delta_test_loss_90", delta)
        row["within_margin"] = EQUIVALENCE_WORDS[equivalence_verdict(delta, QUALITY_MARGIN)[0]]
        rows.append(row)
    return pd.DataFrame(rows)


def quality_claim(runs: list[dict]) -> Claim:
    parts, evidence, effects, whys = [], [], [], []
    for key, gru, lstm, delta in quality_comparisons(runs):
        verdict, why = equivalence_verdict(delta, QUALITY_MARGIN)
        parts.append(verdict)
        where = describe(key)
        effects.append(f"{where}: Δ test loss {delta.format()} nats (90 %)")
        evidence.append(f"{where}: test ppl GRU {seed_interval(gru, 'test_ppl').format()} "
                        f"(seeds {sorted(seed(r) for r in gru)}) vs LSTM {seed_interval(lstm, 'test_ppl').format()}")
        if why:
            whys.append(f"{where}: {why}")
    if not parts:
        whys.append("missing runs: no language-model task finished both a GRU and an LSTM of the same shape")
    verdict = combine_verdicts(parts)
    return Claim(id="architecture.gru_lstm_quality",
                 statement="GRU and LSTM of the same size reach the same quality (no consistent gap)",
                 source="Chung et al. 2014 (GRU ≈ LSTM); Jozefowicz et al. 2015; Greff et al. 2017; lecture notes, "
                        "LSTM vs GRU",
                 rule=QUALITY_RULE, verdict=verdict, evidence="; ".join(evidence) or "–",
                 why="" if verdict == REPRODUCED else "; ".join(whys), effect="; ".join(effects),
                 details={"margin_nats": QUALITY_MARGIN})


# --------------------------------------------------------------------------- parameters (a check)


def parameter_check(runs: list[dict]) -> Check:
    """3 gate blocks against 4: the GRU's recurrent parameters are exactly 3/4 of the LSTM's."""
    if not runs:
        return Check(PARAMETER_CHECK, PARAMETER_STATEMENT, None, f"no {COST_TASK} run", PARAMETER_RULE)
    failures, sizes = [], {}
    for r in runs:
        counts = {k: metric(r, k) for k in ("gru_recurrent_parameters", "lstm_recurrent_parameters",
                                            "gru_parameters", "lstm_parameters")}
        sizes[timing_key(r)] = counts
        if not (4 * counts["gru_recurrent_parameters"] == 3 * counts["lstm_recurrent_parameters"]
                and counts["gru_parameters"] < counts["lstm_parameters"]):
            failures.append(r["run_id"])
    evidence = "; ".join(f"h={h}: GRU {c['gru_parameters']:,} ({c['gru_recurrent_parameters']:,} recurrent) vs "
                         f"LSTM {c['lstm_parameters']:,} ({c['lstm_recurrent_parameters']:,})"
                         for (h, _), c in sizes.items())
    if failures:
        evidence += f"; fails in runs {', '.join(failures)}"
    return Check(PARAMETER_CHECK, PARAMETER_STATEMENT, not failures, evidence, PARAMETER_RULE)

