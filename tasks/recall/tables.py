"""recall's tables and plot, over records (the report decides which runs: the tuned ones).

Every accuracy is a proportion of test stories, so it gets a binomial interval (Wilson for one seed,
pooled over seeds with an overdispersion correction for several: suite.analysis.rate_interval)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from suite.judge.analysis import by_label, interval_label, label, metric, put, rate_interval, seed
from suite.judge.plots import colour, line_style, new_figure, save
from suite.judge.stats import Interval, mean_ci, wilson_ci

from .outcomes import LEARNED, grid_point, learned_p_value, row_at, shortest_row, span, status


def tested_distances(runs: list[dict]) -> list[int]:
    return sorted({row["d"] for r in runs for row in metric(r, "by_distance", [])})


def accuracy_interval(runs: list[dict], d: int) -> Interval:
    """Accuracy at distance d among the runs' test stories."""
    def counts(r: dict) -> tuple[int, int]:
        row = row_at(r, d)
        return (row["correct"], row["n"]) if row else (0, 0)
    return rate_interval(runs, counts)


def column(runs: list[dict], d: int) -> str:
    """Table column of distance d; * marks distances longer than any seen in training."""
    trained_max = max(metric(r, "trained_max_distance") for r in runs)
    return f"d={d}*" if d > trained_max else f"d={d}"


def tuning_table(records: list[dict], tuned: list[dict]) -> pd.DataFrame:
    """Every grid point of every model and seed: its validation score, its test mean, which one was chosen."""
    chosen = {r["run_id"] for r in tuned}
    rows = [{"model": label(r), "seed": seed(r), "grid_point": grid_point(r), "status": r.get("status"),
             "valid_accuracy": metric(r, "valid_accuracy"), "valid_key_logprob": metric(r, "valid_key_logprob"),
             "test_mean_accuracy": metric(r, "mean_accuracy"), "chosen": r["run_id"] in chosen}
            for r in records if r["config"]["task"] == "recall"]
    return pd.DataFrame(rows).sort_values(["model", "seed", "grid_point"], ignore_index=True)


def status_table(tuned: list[dict]) -> pd.DataFrame:
    """Each tuned run: learnt the task or not (binomial test vs chance at the shortest distance), its span."""
    rows = []
    for r in tuned:
        shortest = shortest_row(r)
        rows.append({"model": label(r), "seed": seed(r), "grid_point": grid_point(r),
                     "valid_accuracy": metric(r, "valid_accuracy"), "shortest_d": shortest["d"],
                     "accuracy_at_shortest": shortest["accuracy"], "chance": metric(r, "chance"),
                     "p_vs_chance": learned_p_value(r), "status": status(r), "span": span(r)})
    return pd.DataFrame(rows)


def span_table(tuned: list[dict]) -> pd.DataFrame:
    """Per model: how many seeds learnt the task (Wilson interval over seeds) and, among those, the span."""
    rows = []
    for name, group in by_label(tuned).items():
        learned = [r for r in group if status(r) == LEARNED]
        row: dict[str, Any] = {"model": name, "seeds": len(group), "learned_seeds": len(learned)}
        put(row, "learned_share", wilson_ci(len(learned), len(group)))
        spans = mean_ci([span(r) for r in learned])
        put(row, "span", spans)
        row["span_ci"] = interval_label(spans) if learned else "–"
        row["status"] = ("never learned" if not learned else
                         f"learned ({len(learned)}/{len(group)} seeds)")
        row["trained_max_d"] = max(metric(r, "trained_max_distance") for r in group)
        put(row, "mean_accuracy", rate_interval(group, _all_counts))
        rows.append(row)
    return pd.DataFrame(rows)


def _all_counts(record: dict) -> tuple[int, int]:
    rows = metric(record, "by_distance", [])
    return sum(row["correct"] for row in rows), sum(row["n"] for row in rows)


def accuracy_table(tuned: list[dict]) -> pd.DataFrame:
    """Model × distance top-1 accuracy among K, with its binomial interval; * marks extrapolation."""
    rows = []
    for name, group in by_label(tuned).items():
        ci = accuracy_interval(group, tested_distances(group)[0])
        row: dict[str, Any] = {"model": name, "seeds": len(group), "ci": interval_label(ci),
                               "chance": metric(group[0], "chance")}
        for d in tested_distances(tuned):
            put(row, column(tuned, d), accuracy_interval(group, d))
        rows.append(row)
    return pd.DataFrame(rows)


def detail_table(tuned: list[dict]) -> pd.DataFrame:
    """Long form: per model and distance, accuracy, mean key log-prob, share of distractor stories in
    which the most recent distractor was chosen (a recency error)."""
    rows = []
    for name, group in by_label(tuned).items():
        chance = metric(group[0], "chance")
        for d in tested_distances(group):
            cells = [row_at(r, d) for r in group if row_at(r, d)]
            row: dict[str, Any] = {"model": name, "d": d, "extrapolation": cells[0]["extrapolation"],
                                   "seeds": len(cells)}
            put(row, "accuracy", accuracy_interval(group, d))
            row["chance"] = chance
            put(row, "key_logprob", mean_ci([c["key_logprob"] for c in cells]))
            row["chance_logprob"] = math.log(chance)
            put(row, "recency_rate", rate_interval(group, lambda r, d=d: _recency_counts(r, d)))
            rows.append(row)
    return pd.DataFrame(rows)


def _recency_counts(record: dict, d: int) -> tuple[int, int]:
    row = row_at(record, d)
    return (row["recency_choices"], row["recency_n"]) if row else (0, 0)


def plot_accuracy(tuned: list[dict], path: Path) -> Path:
    """Accuracy vs distance (log x), one line per model with its binomial band, chance dotted."""
    fig, ax = new_figure()
    distances = tested_distances(tuned)
    for name, group in by_label(tuned).items():
        cis = [accuracy_interval(group, d) for d in distances]
        ax.plot(distances, [c.mean for c in cis], marker="o", color=colour(name), linestyle=line_style(name),
                label=f"{name} ({len(group)} seed{'s' if len(group) > 1 else ''}, tuned)")
        ax.fill_between(distances, [c.low for c in cis], [c.high for c in cis], color=colour(name), alpha=0.15)
    chance = metric(tuned[0], "chance")
    ax.axhline(chance, color="black", linestyle=":", label=f"chance (1/{round(1 / chance)})")
    trained_max = max(metric(r, "trained_max_distance") for r in tuned)
    if trained_max < max(distances):
        ax.axvspan(max(trained_max, min(distances)), max(distances), color="grey", alpha=0.08,
                   label="longer than training")
    ax.set_xscale("log")
    ax.set_xticks(distances, [str(d) for d in distances])
    ax.minorticks_off()
    ax.set_xlabel("distance d (filler tokens between key and recall)")
    ax.set_ylabel("top-1 recall accuracy among K items")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    save(fig, path)
    return path
