"""The clipping task's report: per model and condition (no clipping, each threshold, the effective-step
control) the diverged and non-finite shares, the step sizes involved and the training curves; the claims
themselves are computed in rules.py."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from suite.core.families import VANILLA
from suite.judge.analysis import by_label, group_by, label, metric, ok_runs, put
from suite.judge.claims import Claim
from suite.judge.plots import colour, save
from suite.judge.stats import wilson_ci
from suite.judge.task_report import TaskReport, register_report

from .rules import TASK, clip_of, divergence_claim, nonfinite_claim


@register_report
class ClippingReport(TaskReport):
    name = "clipping"
    title = "Exploding gradients and norm clipping"
    tasks = (TASK,)
    headline = ()  # pooled over thresholds per label it would mean nothing; see clipping_divergence

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        runs = ok_runs(records, TASK)
        return {"clipping_divergence": clipping_table(runs)} if runs else {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        runs = ok_runs(records, TASK)
        if not runs:
            return []
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return [plot_clipping(runs, Path(out_dir) / "clipping_curves.png")]

    def claims(self, records: list[dict]) -> list[Claim]:
        runs = ok_runs(records, TASK)
        claims = [divergence_claim(runs), nonfinite_claim(runs)]
        if runs:  # the counts behind each part, condition by condition, in place of the parts' summary
            table = clipping_table(runs)
            claims[0].evidence = counts_line(table, "diverged")
            claims[1].evidence = counts_line(table[table["model"].isin(VANILLA)], "nonfinite")
            claims[1].why = "; ".join(x for x in (claims[1].why, finite_divergence(table)) if x)
        return claims


CONTROL_TONE = "tab:green"  # the effective-step control: unclipped, so neither black nor a threshold's tone


def counts_line(table: pd.DataFrame, outcome: str) -> str:
    """Per model and condition 'k/n diverged' (or non-finite), the control's learning rate, and the median
    held-out loss of the trainings that finished: the counts each part's interval is computed from."""
    words = {"diverged": "diverged", "nonfinite": "non-finite"}[outcome]
    parts = []
    for model, rows in table.groupby("model", sort=False):
        cells = []
        for row in rows.to_dict("records"):
            if not _present(row.get("trainings")):
                cells.append(row["condition"])
                continue
            lr = f" (lr {row['lr']:.3g})" if "effective" in row["condition"] else ""
            loss = f", held-out loss {row['held_out_loss_median']:.3g}" if _present(row["held_out_loss_median"]) else ""
            cells.append(f"{row['condition']}{lr} {int(row[outcome])}/{int(row['trainings'])} {words}{loss}")
        parts.append(f"{model}: " + "; ".join(cells))
    return " | ".join(parts)


def finite_divergence(table: pd.DataFrame) -> str:
    """Where unclipped trainings diverged without a single NaN/Inf, say so: the loss exploded in finite numbers."""
    rows = table[(table["condition"] == "no clipping") & table["model"].isin(VANILLA)]
    cases = [f"{r['model']} {int(r['diverged'])}/{int(r['trainings'])}" for r in rows.to_dict("records")
             if _present(r["trainings"]) and r["diverged"] > 0 and r["nonfinite"] == 0]
    if not cases:
        return ""
    return (f"unclipped trainings diverged with every number finite ({', '.join(cases)}): bounded activations cap "
            f"the states and saturation the gradient, so the loss explodes but nothing overflows")


def _present(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def clip_name(clip: float | None) -> str:
    return "no clipping" if clip is None else f"clip {clip:g}"


def _clip_order(clip: float | None) -> float:
    return -math.inf if clip is None else -clip  # no clipping first, then thresholds from large to small


def condition_row(name: str, condition: str, lr: float | None, groups: list[dict]) -> dict:
    """One table row from per-run metric groups (a run's metrics, or the control block inside them)."""
    replicas = [rep for g in groups for rep in g.get("replicas", [])]
    diverged, nonfinite = (sum(bool(rep[k]) for rep in replicas) for k in ("diverged", "nonfinite"))
    n = len(replicas)
    finite = [rep["valid_loss"] for rep in replicas if rep["valid_loss"] is not None and math.isfinite(rep["valid_loss"])]
    peaks = [rep["max_grad_norm"] for rep in replicas if rep.get("max_grad_norm") is not None]
    row = {"model": name, "condition": condition, "lr": lr, "seeds": len(groups), "trainings": n,
           "diverged": diverged, "nonfinite": nonfinite}
    put(row, "diverged_share", wilson_ci(diverged, n))
    row["median_max_grad_norm"] = statistics.median(peaks) if peaks else None
    row["clipped_steps"] = sum(g.get("clipped_fraction", 0.0) for g in groups) / max(1, len(groups))
    row["held_out_loss_median"] = statistics.median(finite) if finite else None  # finished trainings only
    return row


def clipping_table(runs: list[dict]) -> pd.DataFrame:
    """Per model × condition, trainings pooled over seeds: diverged share (Wilson 95 %), non-finite count,
    the largest gradient norm of a training (median over trainings), held-out loss of those that finished."""
    rows = []
    for (name, _), group in sorted(group_by(runs, lambda r: (label(r), _clip_order(clip_of(r)))).items()):
        lr = group[0]["config"]["train"]["lr"]
        rows.append(condition_row(name, clip_name(clip_of(group[0])), lr, [r["metrics"] for r in group]))
        controls = [metric(r, "control", None) for r in group]
        trained = [c for c in controls if isinstance(c, dict) and c.get("trained")]
        if trained:
            lrs = [c["lr"] for c in trained]
            rows.append(condition_row(name, f"no clipping at the effective step of {clip_name(clip_of(group[0]))}",
                                      statistics.median(lrs), trained))
        elif any(isinstance(c, dict) for c in controls):
            rows.append({"model": name, "condition": "effective-step control = no clipping (median clip factor 1)",
                         "lr": lr, "seeds": len(group)})
    return pd.DataFrame(rows)


def plot_clipping(runs: list[dict], path: Path) -> Path:
    """Per architecture: training loss (top) and gradient norm (bottom) per replicate, one tone per
    condition; the effective-step control dashed."""
    groups = by_label(runs)
    fig, axes = plt.subplots(2, len(groups), squeeze=False, sharex=True, figsize=(5 * len(groups), 6), dpi=120)
    cmap = matplotlib.colormaps["plasma"]
    for col, (name, group) in enumerate(groups.items()):
        top, bottom = axes[0][col], axes[1][col]
        by_clip = group_by(group, lambda r: _clip_order(clip_of(r)))
        for k, members in enumerate(by_clip.values()):
            clip = clip_of(members[0])
            tone = "black" if clip is None else cmap(0.15 + 0.7 * k / max(1, len(by_clip) - 1))
            controls = [c for r in members if isinstance(c := metric(r, "control", None), dict) and c.get("trained")]
            for blocks, style, shade, text in (([r["metrics"] for r in members], "-", tone, clip_name(clip)),
                                               (controls, "--", CONTROL_TONE, f"effective-step control of {clip_name(clip)}")):
                replicas = [rep for b in blocks for rep in b["replicas"]]
                for i, rep in enumerate(replicas):
                    steps = [c["step"] for c in rep["curve"]]
                    top.plot(steps, [c["train_loss"] for c in rep["curve"]], style, color=shade, alpha=0.6,
                             linewidth=0.8, label=text if i == 0 else None)
                    bottom.plot(steps, [c["grad_norm_max"] for c in rep["curve"]], style, color=shade, alpha=0.6,
                                linewidth=0.8)
                    if rep["diverged"] and steps:
                        top.plot(steps[-1], rep["curve"][-1]["train_loss"], "x", color=shade)
            if clip is not None:
                bottom.axhline(clip, color=tone, linestyle=":", linewidth=0.8)
        uniform = next((rep["uniform_loss"] for r in group for rep in r["metrics"]["replicas"]), None)
        if uniform:
            top.axhline(uniform, color="grey", linestyle=":", linewidth=1, label="uniform guess ln|V|")
        top.set_title(f"{name}: one line per training (× = diverged)", fontsize=9, color=colour(name))
        top.set_ylabel("training loss (nats/token)")
        top.set_yscale("log")
        bottom.set_ylabel("max ‖g‖ per logging window, before clipping\n(dotted: thresholds)")
        bottom.set_yscale("log")
        bottom.set_xlabel("optimiser step")
        top.legend(fontsize=7)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    save(fig, path)
    return path
