"""The quality claim's statistic and verdict, fixed before the confirmatory data: "GRU and LSTM reach the same
quality" (no consistent gap), an equivalence claim. Presentation lives in report.py; this module's source is
hashed into the rule.

"No gap" is only evidence where the measurement could have shown a gap, so a task counts only with a
*positive control*: on that task the LSTM and a vanilla RNN (suite.core.families.VANILLA) of the same hidden
size must differ by more than the margin (95 % Welch interval of their difference wholly beyond it). Tasks
that cannot separate even a vanilla RNN from an LSTM (the grammar LM at 15.1–15.4 perplexity, depth at
2.83–2.87 nats in round-2 data) are set aside, named in the evidence, never judged.

On a task with a control, two parts: the GRU at the LSTM's hidden size, and the GRU with the LSTM's
parameter count (±2 %, read from the records: a GRU of the same hidden size has a quarter fewer recurrent
weights). Values are per seed (each seed's point chosen on validation where the task tunes); the test is
the suite's EQUIVALENCE (90 % Welch interval of GRU − LSTM inside ±margin, i.e. two one-sided tests at 5 %).
Other tasks' records are read by task name and metric name; their packages are never imported.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

from suite.core.families import VANILLA
from suite.judge.analysis import arch, group_by, metric, model_field, seed, task_of, train_field
from suite.judge.claims import EQUIVALENCE, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part
from suite.judge.stats import Interval, difference_ci


@dataclass(frozen=True)
class Measure:
    """How one task's records say "quality": a per-seed metric, its better direction, the equivalence
    margin on its scale (with the margin's basis), and its best possible value (both cells there is a
    ceiling, not evidence of equal quality)."""

    task: str
    metric: str
    lower_is_better: bool
    margin: float
    basis: str
    best: float | None = None


LOSS_MARGIN = math.log(1.05)  # perplexities within 5 %: |Δ loss| < log 1.05 = 0.049 nats per token
LOSS_BASIS = ("perplexities within 5 %: the spread Chung et al. 2014 and Jozefowicz et al. 2015 report between "
              "well-tuned GRUs and LSTMs, far below the gated–vanilla gaps on the same data")
MEASURES = (
    Measure("agreement", "error_attractors", True, 0.035,
            "half the gated–simple-RNN agreement gap of Gulordava et al. 2018 (LSTM 81.0 % vs simple RNN "
            "74.1 % accuracy: 6.9 points): a GRU–LSTM gap below half of what gating buys is no gap", 0.0),
    Measure("recall", "mean_accuracy", False, 0.05,
            "no published GRU–LSTM recall gap (Chung et al. 2014: GRU ≈ LSTM); five points of accuracy, the "
            "accuracy counterpart of the 5 % perplexity margin", 1.0),
    Measure("grammar_lm", "test_loss", True, LOSS_MARGIN, LOSS_BASIS),
    Measure("text_lm", "test_loss", True, LOSS_MARGIN, LOSS_BASIS),
    Measure("depth", "test_loss", True, LOSS_MARGIN, LOSS_BASIS),
)
QUALITY_TASKS = tuple(m.task for m in MEASURES)
TWIN_TOLERANCE = 0.02  # "the same parameter count": within 2 % of the LSTM's
CONTROL_LEVEL = 0.95
STATEMENT = ("GRU and LSTM reach the same quality (no consistent gap), at equal hidden size and at equal "
             "parameter count, on tasks that can show a gap")
SOURCE = ("lecture notes, LSTM vs GRU ('no conclusive evidence that one consistently performs better'); Chung et "
          "al. 2014; Jozefowicz et al. 2015; Greff et al. 2017")
RULE_TEXT = (
    "per task with a quality measure (" + "; ".join(
        f"{m.task}: {m.metric}, margin ±{m.margin:.3g}" for m in MEASURES) + "), single-layer models, each "
    "seed's tuning point chosen on validation. Positive control first: the task counts only if the LSTM and a "
    f"vanilla RNN ({', '.join(VANILLA)}) of the same hidden size differ by more than the margin (95 % Welch "
    "interval of their difference wholly beyond it); other tasks are set aside, not judged. On a task that "
    "counts, two parts — the GRU at the LSTM's hidden size, and the GRU within "
    f"{TWIN_TOLERANCE:.0%} of the LSTM's parameter count — each an equivalence test over seeds: reproduced "
    "when the 90 % Welch interval of GRU − LSTM lies inside ±margin (two one-sided tests at 5 %), not "
    "reproduced when it lies wholly outside, else inconclusive; also inconclusive when both cells sit at the "
    "metric's best value (ceiling), when a part has under 80 % power to call a true difference of 0 "
    "equivalent at its measured spread, or when its runs are missing. Every part reproduced → reproduced; any "
    "not → not reproduced; no task with a control → inconclusive.")


def rule_of(m: Measure) -> Rule:
    return Rule(EQUIVALENCE, min_effect=m.margin, design_effect=0.0, basis=m.basis,
                scale=f"Δ {m.metric} (GRU − LSTM)", unit="seed")


@dataclass
class Comparison:
    """One task shape: its LSTM runs at one hidden size, the GRUs to compare and the vanilla references."""

    measure: Measure
    hidden: int
    parameters: int  # the LSTM's
    lstm: list[dict]
    gru_same_hidden: list[dict]
    gru_same_parameters: list[dict]
    vanilla: dict[str, list[dict]]

    @property
    def where(self) -> str:
        return f"{self.measure.task} h={self.hidden}"


def shape_key(r: dict) -> tuple:
    """Runs that differ only in their cell, width or tuning point compare: same task, depth, budget, options."""
    return (task_of(r), model_field(r, "layers"), model_field(r, "skip"), train_field(r, "steps"),
            train_field(r, "epochs"), r["config"].get("device", "cpu"),
            json.dumps(r["config"].get("options", {}), sort_keys=True, default=str))


def comparisons(runs: list[dict], m: Measure) -> list[Comparison]:
    """Every (shape, LSTM hidden size) of task `m.task` among single-layer, one-directional runs."""
    single = [r for r in runs if task_of(r) == m.task and model_field(r, "layers") == 1
              and not model_field(r, "bidirectional")]
    out = []
    for group in group_by(single, shape_key).values():
        for hidden, lstm in group_by([r for r in group if arch(r) == "lstm"], lambda r: model_field(r, "hidden")).items():
            count = int(statistics.median(r.get("parameters") or 0 for r in lstm))
            gru = [r for r in group if arch(r) == "gru"]
            twins = [r for r in gru if model_field(r, "hidden") != hidden and count
                     and abs((r.get("parameters") or 0) / count - 1) <= TWIN_TOLERANCE]
            out.append(Comparison(m, hidden, count, lstm, [r for r in gru if model_field(r, "hidden") == hidden],
                                  twins, {v: [r for r in group if arch(r) == v and model_field(r, "hidden") == hidden]
                                          for v in VANILLA}))
    return out


def values(runs: list[dict], m: Measure) -> list[float]:
    """The measure per seed (one run per seed after tuning), finite values only."""
    out = [metric(r, m.metric) for r in sorted(runs, key=seed)]
    return [float(v) for v in out if isinstance(v, (int, float)) and math.isfinite(v)]


def control_gap(c: Comparison, reference: str) -> Interval:
    """How much worse the vanilla reference is than the LSTM (positive = worse), 95 % Welch over seeds."""
    lstm, ref = values(c.lstm, c.measure), values(c.vanilla[reference], c.measure)
    return difference_ci(ref, lstm, CONTROL_LEVEL) if c.measure.lower_is_better else \
        difference_ci(lstm, ref, CONTROL_LEVEL)


def positive_control(c: Comparison) -> tuple[bool, dict[str, Interval]]:
    """Passed when some vanilla reference differs from the LSTM by more than the margin, either way."""
    gaps = {v: control_gap(c, v) for v in VANILLA if len(values(c.vanilla[v], c.measure)) >= 2}
    margin = c.measure.margin
    return any(g.low > margin or g.high < -margin for g in gaps.values()), gaps


def set_aside_because(c: Comparison, gaps: dict[str, Interval]) -> str:
    if len(values(c.lstm, c.measure)) < 2 or not gaps:
        return "no control: fewer than 2 seeds of the LSTM or of every vanilla RNN"
    return "no control: " + "; ".join(f"{v} − lstm {g.format()} not beyond ±{c.measure.margin:.3g}"
                                      for v, g in gaps.items())


def equivalence_part(name: str, m: Measure, gru: list[dict], lstm: list[dict], task: str) -> Part:
    a, b = values(gru, m), values(lstm, m)
    why = ""
    if not gru:
        why = "not measured: no GRU run"
    elif m.best is not None and a and b and all(v == m.best for v in a + b):
        why = f"ceiling: every GRU and LSTM seed at {m.metric} = {m.best:g}"
    return judge_part(name, rule_of(m), a, b, tasks=(task,), inconclusive_because=why)


def comparison_parts(c: Comparison) -> list[Part]:
    m = c.measure
    twin_why = (f"not measured: no GRU run with the LSTM's {c.parameters:,} parameters (±{TWIN_TOLERANCE:.0%}) "
                f"in {m.task}")
    twin = (equivalence_part(f"{c.where}: GRU with the LSTM's parameters", m, c.gru_same_parameters, c.lstm, m.task)
            if c.gru_same_parameters else judge_part(f"{c.where}: GRU with the LSTM's parameters", rule_of(m), (), (),
                                                      tasks=(m.task,), inconclusive_because=twin_why))
    return [equivalence_part(f"{c.where}: GRU of the same hidden size", m, c.gru_same_hidden, c.lstm, m.task), twin]


def judged_and_set_aside(runs: list[dict]) -> tuple[list[Part], list[tuple[Comparison, dict[str, Interval]]]]:
    """The parts of every comparison with a positive control; the comparisons without one, with their gaps."""
    parts, aside = [], []
    for m in MEASURES:
        for c in comparisons(runs, m):
            passed, gaps = positive_control(c)
            if passed:
                parts += comparison_parts(c)
            else:
                aside.append((c, gaps))
    return parts, aside


def quality_claim(runs: list[dict]) -> Claim:
    """`runs`: finished single-seed records of the quality tasks, tuning points already chosen."""
    parts, aside = judged_and_set_aside(runs)
    claim = Claim("architecture.gru_lstm_quality", STATEMENT, SOURCE, RULE_TEXT, verdict="", evidence="",
                  code=(__name__,))
    claim = claim_from_parts(claim, parts, missing="no task with a positive control (a task on which the LSTM "
                                                   "and a vanilla RNN differ by more than its margin)")
    if aside:
        claim.details["set_aside"] = [f"{c.where} ({set_aside_because(c, gaps)})" for c, gaps in aside]
    return claim
