"""The gradients task's report: tables and plots of ‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against distance; claims and checks
come from claims.py."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from suite.judge.analysis import by_label, interval_label, label, metric, put, seed_interval
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, line_style, save
from suite.judge.stats import Interval, mean_ci

from .claims import (STAGES, experiment_runs, gradient_checks, gradient_claims, learned, spectrum_groups,
                     stage_values)


@register_report
class GradientsReport(TaskReport):
    name = "gradients"
    title = "Gradient flow through time"
    tasks = ("gradients",)
    headline = ("bound_violations",)  # slopes pool ρ values and experiments; see the gradients_* tables

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        out = {}
        if experiment_runs(records, "spectrum"):
            out["gradients_spectrum"] = spectrum_table(records)
        if experiment_runs(records, "architectures"):
            out["gradients_architectures"] = architecture_table(records)
        return out

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        folder = Path(out_dir)
        makers = {"spectrum": plot_spectrum, "architectures": plot_architectures}
        paths = []
        for experiment, make in makers.items():
            runs = experiment_runs(records, experiment)
            if runs:
                folder.mkdir(parents=True, exist_ok=True)
                paths.append(make(runs, folder / f"gradients_{experiment}.png"))
        return paths

    def claims(self, records: list[dict]):
        return gradient_claims(records)

    def checks(self, records: list[dict]):
        return gradient_checks(records)


# --------------------------------------------------------------------------- tables


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _violations(stages_values: list[int], checks: list[int]) -> str:
    return f"{sum(stages_values)} of {sum(checks)}" if checks else "–"


def _ratio(row: dict, ci: Interval) -> None:
    """exp(slope): the factor each step back multiplies the norm by (a monotone map of the slope's interval)."""
    put(row, "ratio_per_step", Interval(*(math.exp(v) if math.isfinite(v) else math.nan
                                          for v in (ci.mean, ci.low, ci.high)), ci.n, ci.method))


def spectrum_table(records: list[dict]) -> pd.DataFrame:
    """Per (init, ρ, stage): ρ and ‖W_h‖₂, decay slope and ratio per step, saturation, bound violations."""
    rows = []
    for (stage, init, rho), runs in sorted(spectrum_groups(records).items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                                                              kv[0][0])):
        ci = mean_ci(stage_values(runs, stage, "slope"))
        row = {"init": init, "target_rho": rho, "activation": "tanh" if stage == "network" else "linear",
               "seeds": len(runs), "ci": interval_label(ci), "rho_W": _mean(stage_values(runs, stage, "rho")),
               "norm_W": _mean(stage_values(runs, stage, "spectral_norm"))}
        put(row, "slope", ci)
        _ratio(row, ci)
        row["saturated_fraction"] = _mean(stage_values(runs, stage, "saturated_fraction"))
        row["mean_sigma_prime"] = _mean(stage_values(runs, stage, "mean_sigma_prime"))
        row["bound_violations"] = _violations(stage_values(runs, stage, "bound_violations"),
                                              stage_values(runs, stage, "bound_checks"))
        rows.append(row)
    return pd.DataFrame(rows)


def architecture_table(records: list[dict]) -> pd.DataFrame:
    """Per model and stage: decay slope of h (and LSTM c), held-out perplexity against unigram, bound."""
    rows = []
    for name, group in by_label(experiment_runs(records, "architectures")).items():
        for stage in STAGES["architectures"]:
            staged = [r for r in group if stage in r["metrics"]]
            if not staged:
                continue
            ci = seed_interval(staged, f"slope_{stage}")
            row = {"model": name, "stage": stage, "seeds": len(staged), "ci": interval_label(ci)}
            put(row, "slope", ci)
            _ratio(row, ci)
            put(row, "slope_c", seed_interval(staged, f"slope_c_{stage}"))
            if stage == "trained":
                put(row, "valid_ppl", seed_interval(staged, "valid_ppl"))
                row["unigram_ppl"] = _mean([metric(r, "unigram_ppl") for r in staged])
                row["learned"] = f"{sum(map(learned, staged))} of {len(staged)}"
            row["bound_violations"] = _violations(stage_values(staged, stage, "bound_violations"),
                                                  stage_values(staged, stage, "bound_checks"))
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots


def mean_curve(curves: list[list[float]]) -> tuple[list[int], list[float]]:
    """Geometric mean across seeds at each distance (the curves are compared on a log axis)."""
    span = min(len(c) for c in curves)
    points = []
    for d in range(span):
        vals = [c[d] for c in curves if c[d] is not None and c[d] > 0 and math.isfinite(c[d])]
        if vals:
            points.append((d, math.exp(sum(math.log(v) for v in vals) / len(vals))))
    return [d for d, _ in points], [v for _, v in points]


def plot_spectrum(runs: list[dict], path: Path) -> Path:
    """One panel per init: log-norm against distance per ρ, tanh network solid, linear copy dashed."""
    inits = sorted({metric(r, "init") for r in runs})
    fig, axes = plt.subplots(1, len(inits), squeeze=False, sharey=True, figsize=(6 * len(inits), 4.5), dpi=120)
    cmap = matplotlib.colormaps["viridis"]
    rhos = sorted({metric(r, "target_rho") for r in runs})
    for ax, init in zip(axes[0], inits):
        ax.grid(alpha=0.3)
        for k, rho in enumerate(rhos):
            group = [r for r in runs if metric(r, "init") == init and metric(r, "target_rho") == rho]
            tone = cmap(k / max(1, len(rhos) - 1))
            for stage, style in (("network", "-"), ("linear", "--")):
                curves = [r["metrics"][stage]["curves"]["h"][-1] for r in group]
                if curves:
                    d, v = mean_curve(curves)
                    ax.plot(d, v, color=tone, linestyle=style,
                            label=f"ρ = {rho:g} (n={len(group)})" if stage == "network" else None)
        ax.set_yscale("log")
        ax.set_xlabel("distance i − j (steps)")
        ax.set_title(f"rnn_tanh, {init} W_h rescaled to ρ, at init (dashed: same weights, no tanh)", fontsize=8)
    axes[0][0].set_ylabel("‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ (batch mean)")
    axes[0][-1].legend(fontsize=7)
    save(fig, path)
    return path


def plot_architectures(runs: list[dict], path: Path) -> Path:
    """Two panels (at initialisation, after training): log-norm of ∂J/∂h (and LSTM ∂J/∂c, thin)."""
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(11, 4.5), dpi=120)
    for ax, stage in zip(axes, STAGES["architectures"]):
        ax.grid(alpha=0.3)
        for name, group in by_label(runs).items():
            staged = [r["metrics"][stage] for r in group if stage in r["metrics"]]
            for kind, width in (("h", 1.5), ("c", 0.8)):
                curves = [s["curves"][kind][-1] for s in staged if kind in s["curves"]]
                if curves:
                    d, v = mean_curve(curves)
                    ax.plot(d, v, color=colour(label(group[0])), linestyle=line_style(name), linewidth=width,
                            label=f"{name} {kind} (n={len(curves)})")
        ax.set_yscale("log")
        ax.set_xlabel("distance i − j (steps back from the predicted token)")
        ax.set_title({"init": "at initialisation", "trained": "after training on the grammar corpus"}[stage],
                     fontsize=9)
    axes[0].set_ylabel("‖∂J⁽ⁱ⁾/∂state⁽ʲ⁾‖ (batch mean, top layer)")
    axes[1].legend(fontsize=7)
    save(fig, path)
    return path
