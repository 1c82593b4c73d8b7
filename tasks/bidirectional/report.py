"""The bidirectional tasks' report: accuracy per cell stack and direction, the claim that bidirectional
models win when the right context decides (judged on the accuracy difference, seed by seed), and the
check that a left-to-right tagger cannot beat chance where only the right context decides.

Where the claim is judged: a unidirectional model must not be capped there by construction, or the claim
could only fail through a broken bidirectional training. On `bidir_tag` that is the `both_sides` tokens
(the next adjective decides the tag; the earlier adjective with 'and'/'but' entails it too, across a
neutral aside); on `bidir_classify` every test sentence (the label is in the sentence, read from the left
across the whole filler clause). The `right_only` tokens, where a unidirectional tagger is capped at
50 % by design, feed a sanity check and a table column, not the claim.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from suite.judge.analysis import group_by, interval_label, label, metric, model_field, ok_runs, put, rate_interval, seed
from suite.judge.claims import INCONCLUSIVE, REPRODUCED, Check, Claim, combine_verdicts, directional_verdict
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, new_figure, save
from suite.judge.stats import Interval, mean_ci

# The smallest accuracy gain (bidirectional − unidirectional) that counts as a win, fixed before any run:
# 5 points, a tenth of the way from chance (0.5) to perfect on these two-way decisions.
MIN_EFFECT = 0.05
TRAINED = 0.9  # a tagger counts as trained when it gets this share of the tags its word alone decides
SOURCE = ("Schuster & Paliwal 1997 (bidirectional RNNs use past and future context and beat forward-only "
          "RNNs); lecture: bidirectionality is powerful whenever the entire input is known")


@dataclass(frozen=True)
class Judged:
    """An accuracy of one task, read from its `<name>_correct` / `<name>_total` counts (`correct`/`total`
    when the name is empty), and, for the claim's parts, when a cell stack is too untrained to judge."""

    task: str
    name: str
    where: str  # in words, for the rule
    untrained: Callable[[dict[str, list[dict]]], str] | None = None  # direction → runs ↦ why not judged
    untrained_rule: str = ""

    def field(self, kind: str) -> str:
        return f"{self.name}_{kind}" if self.name else kind

    @property
    def accuracy(self) -> str:
        return self.field("accuracy")

    def counts(self, record: dict) -> tuple[int, int]:
        return int(metric(record, self.field("correct"), 0)), int(metric(record, self.field("total"), 0))


def tagger_untrained(directions: dict[str, list[dict]]) -> str:
    """Both taggers must get the tags their word decides (≥ 0.9) before context can be judged: at 30 steps
    (smoke) a tagger still mislabels half of them, and both directions then score 0 on intensifiers."""
    means = {d: mean_ci([metric(r, "local_accuracy") for r in runs]).mean for d, runs in directions.items()}
    return "; ".join(f"{d} tagger untrained (local_accuracy {x:.2f} < {TRAINED:g})" for d, x in means.items()
                     if not x >= TRAINED)


def classifier_untrained(directions: dict[str, list[dict]]) -> str:
    """When neither direction's accuracy interval lies above chance, nothing was learned to compare."""
    above = [rate_interval(runs, CLASSIFY.counts).low > 0.5 for runs in directions.values()]
    return "" if any(above) else "neither direction beat chance (0.5): the task was not learned"


TAGGING = Judged("bidir_tag", "both_sides", "intensifiers of later clauses (the next adjective decides the tag; "
                 "the earlier adjective with 'and'/'but' entails it too)", tagger_untrained,
                 f"a direction's mean local_accuracy below {TRAINED:g}: not trained enough to judge")
CLASSIFY = Judged("bidir_classify", "", "all test sentences (the label's adjective comes first, the filler "
                  "clause after it)", classifier_untrained,
                  "neither direction's accuracy interval above 0.5: nothing was learned")
RIGHT_ONLY = Judged("bidir_tag", "right_only", "first-clause intensifiers (only the next adjective decides)")
TAG_COLUMNS = (TAGGING, RIGHT_ONLY, Judged("bidir_tag", "no_aside", "later-clause intensifiers without aside"),
               Judged("bidir_tag", "local", "tokens the word decides"), Judged("bidir_tag", "token", "all tokens"))
CLASSIFY_COLUMNS = (CLASSIFY, Judged("bidir_classify", "long", "the upper half of filler lengths"))


def cell(record: dict) -> str:
    """The model label without its direction: 'bi-lstm×2' and 'lstm×2' are the same cell stack."""
    return label(record).removeprefix("bi-")


def direction(record: dict) -> str:
    return "bi" if model_field(record, "bidirectional") else "uni"


def by_direction(records: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """cell → direction ('uni'/'bi') → runs."""
    return {c: group_by(runs, direction) for c, runs in group_by(records, cell).items()}


# --------------------------------------------------------------------------- tables and plots


def direction_table(records: list[dict], columns: tuple[Judged, ...]) -> pd.DataFrame:
    """One row per cell stack and direction; each accuracy with its 95 % interval (pooled over seeds)."""
    rows = []
    for c, directions in by_direction(records).items():
        for d, runs in sorted(directions.items(), key=lambda kv: kv[0] == "bi"):
            row = {"model": c, "direction": d, "runs": len(runs)}
            for column in columns:
                ci = rate_interval(runs, column.counts)
                put(row, column.accuracy, ci)
                row.setdefault("ci", interval_label(ci))  # the judged (first) column's kind
            rows.append(row)
    return pd.DataFrame(rows)


def plot_directions(records: list[dict], judged: Judged, ylabel: str, path: Path) -> Path:
    """Bars of one accuracy per cell stack, unidirectional (pale) next to bidirectional (hatched), with
    95 % interval whiskers; the dotted line is chance for two classes."""
    groups = by_direction(records)
    fig, ax = new_figure(max(4.0, 1.2 * len(groups) + 1), 4.0)
    for x, (c, directions) in enumerate(groups.items()):
        for offset, d in ((-0.2, "uni"), (0.2, "bi")):
            if d not in directions:
                continue
            ci = rate_interval(directions[d], judged.counts)
            # max(0, …): at p = 1 the Wilson bound can sit a rounding error below the mean.
            err = None if math.isnan(ci.low) else [[max(0.0, ci.mean - ci.low)], [max(0.0, ci.high - ci.mean)]]
            ax.bar(x + offset, ci.mean, 0.38, yerr=err, capsize=3, color=colour(c), alpha=0.9 if d == "bi" else 0.45,
                   hatch="//" if d == "bi" else None, edgecolor="black",
                   label=("bidirectional" if d == "bi" else "unidirectional") if x == 0 else None)
    ax.axhline(0.5, color="black", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("cell stack")
    ax.legend(fontsize="small", loc="lower right")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return Path(path)


# --------------------------------------------------------------------------- the claim


def paired_differences(uni: list[dict], bi: list[dict], value: Callable[[dict], float]) -> list[float]:
    """bi − uni for every seed both directions ran: a seed fixes the sentences, so the twins pair."""
    uni_by_seed = {seed(r): value(r) for r in uni}
    return [value(r) - uni_by_seed[seed(r)] for r in sorted(bi, key=seed) if seed(r) in uni_by_seed]


def cell_effects(records: list[dict], judged: Judged) -> dict[str, tuple[Interval, str, str]]:
    """cell → (Δ accuracy interval over paired seeds, verdict, why)."""
    out = {}
    for c, directions in by_direction(records).items():
        missing = [name for d, name in (("uni", "unidirectional"), ("bi", "bidirectional")) if d not in directions]
        if missing:
            out[c] = (mean_ci([]), INCONCLUSIVE, f"missing {missing[0]} runs")
            continue
        diffs = paired_differences(directions["uni"], directions["bi"], lambda r: metric(r, judged.accuracy))
        ci = mean_ci(diffs)
        untrained = judged.untrained(directions) if judged.untrained else ""
        out[c] = (ci, INCONCLUSIVE, untrained) if untrained else (ci, *directional_verdict(ci, MIN_EFFECT))
    return out


def direction_evidence(c: str, directions: dict[str, list[dict]], judged: Judged) -> str:
    """'lstm: uni 0.51 [0.48, 0.54], bi 1 [0.99, 1] (3 paired seeds)'."""
    parts = [f"{d} {rate_interval(directions[d], judged.counts).format()}" for d in ("uni", "bi") if d in directions]
    pairs = len(paired_differences(directions.get("uni", []), directions.get("bi", []), seed))
    return f"{c}: {', '.join(parts)} ({pairs} paired seeds)"


def direction_claim(records: list[dict], judged: Judged) -> Claim:
    effects = cell_effects(records, judged)
    verdict = combine_verdicts(v for _, v, _ in effects.values())
    effect = "; ".join(f"{c} {ci.format()}" for c, (ci, _, _) in effects.items() if ci.n)
    whys = [f"{c}: {why}" for c, (_, v, why) in effects.items() if v != REPRODUCED and why]
    return Claim(
        id=f"bidirectional.{judged.task.removeprefix('bidir_')}",
        statement=f"bidirectional models win when the right context decides ({judged.task})",
        source=SOURCE,
        rule=(f"on {judged.task}, {judged.where}: Δ = bidirectional − unidirectional accuracy of the same cell "
              "stack, paired by seed (a seed fixes the sentences), mean and 95 % t-interval over seeds. Every "
              f"cell stack: interval above 0 and Δ ≥ {MIN_EFFECT:g} → reproduced; any cell's interval wholly "
              f"below {MIN_EFFECT:g} (reversed, absent or smaller) → not reproduced; otherwise (or < 2 seeds, "
              f"or {judged.untrained_rule}) inconclusive. With no true effect, one cell comes out "
              "reproduced at most 2.5 % of the time"),
        verdict=verdict if effects else INCONCLUSIVE,
        evidence="; ".join(direction_evidence(c, d, judged) for c, d in by_direction(records).items()) or "–",
        why="; ".join(whys) if effects else f"no {judged.task} runs",
        effect=f"Δ {judged.accuracy} (bi − uni): {effect}" if effect else "",
        details={c: {"delta": ci.mean, "low": ci.low, "high": ci.high, "seeds": ci.n, "verdict": v}
                 for c, (ci, v, _) in effects.items()})


def difference_table(records: list[dict], judged: Judged) -> pd.DataFrame:
    rows = []
    for c, (ci, verdict, why) in cell_effects(records, judged).items():
        row = {"model": c, "seeds": ci.n}
        put(row, "delta", ci)
        rows.append({**row, "ci": interval_label(ci), "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def right_only_check(records: list[dict]) -> Check:
    """A left-to-right tagger has not seen the word that decides a right-only tag: above chance = a leak."""
    uni = {c: d["uni"] for c, d in by_direction(records).items() if "uni" in d}
    intervals = {c: rate_interval(runs, RIGHT_ONLY.counts) for c, runs in uni.items()}
    return Check(
        id="bidirectional.right_only_at_chance",
        statement="unidirectional taggers are at chance on tags only the right context decides",
        passed=all(ci.low <= 0.5 for ci in intervals.values()) if intervals else None,
        evidence="; ".join(f"{c} {ci.format()}" for c, ci in intervals.items()) or "no unidirectional bidir_tag runs",
        rule="for every unidirectional cell stack the 95 % interval of right_only_accuracy reaches down to 0.5 "
             "(polarity is a coin flip independent of every earlier word)")


@register_report
class BidirectionalReport(TaskReport):
    name = "bidirectional"
    title = "Unidirectional vs bidirectional models where the whole input is known"
    tasks = ("bidir_tag", "bidir_classify")

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        tag, cls = ok_runs(records, "bidir_tag"), ok_runs(records, "bidir_classify")
        tables = {}
        if tag:
            tables["bidirectional_tagging"] = direction_table(tag, TAG_COLUMNS)
            tables["bidirectional_tagging_difference"] = difference_table(tag, TAGGING)
        if cls:
            tables["bidirectional_classification"] = direction_table(cls, CLASSIFY_COLUMNS)
            tables["bidirectional_classification_difference"] = difference_table(cls, CLASSIFY)
        return tables

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        tag, cls = ok_runs(records, "bidir_tag"), ok_runs(records, "bidir_classify")
        paths = []
        if tag:
            paths.append(plot_directions(tag, TAGGING, "accuracy, later-clause intensifiers",
                                         Path(out_dir) / "bidir_tag.png"))
        if cls:
            paths.append(plot_directions(cls, CLASSIFY, "sentence accuracy", Path(out_dir) / "bidir_classify.png"))
        return paths

    def claims(self, records: list[dict]) -> list[Claim]:
        return [direction_claim(ok_runs(records, j.task), j) for j in (TAGGING, CLASSIFY)]

    def checks(self, records: list[dict]) -> list[Check]:
        return [right_only_check(ok_runs(records, "bidir_tag"))]
