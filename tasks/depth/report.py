"""depth's report: test loss and first-layer gradient per (cell, depth, skip), and the skip-connection claim."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.judge.analysis import arch, group_by, metric, model_field, ok_runs, put, seed_interval
from suite.judge.claims import REPRODUCED, Claim, combine_verdicts, directional_verdict
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, new_figure, save
from suite.judge.tables import summarise
from suite.judge.stats import difference_ci

from .task import SKIP_STYLES

DEEP = 4  # "deep" starts here: the lecture's stacks of 2–4 layers train without skips, 8 need them
# Pre-registered smallest effect worth the name: skips lower the test loss by ≥ 0.05 nats per token,
# i.e. ≥ 5 % lower perplexity (log 1.05 = 0.049).
MIN_EFFECT = math.log(1.05)
TABLE_METRICS = ["test_loss", "final_train_loss", "first_layer_grad_norm", "first_layer_grad_norm_early",
                 "first_to_last_grad_ratio"]
RULE = (f"at EVERY depth ≥ {DEEP} that ran both with residual skips and without, for each cell type: "
        "Δ = test loss without skips − test loss with residual skips (nats per token), seeds as the unit, "
        f"95 % Welch interval; a depth reproduces when the interval lies above 0 and Δ ≥ {MIN_EFFECT:.3f} "
        f"(≥ 5 % lower perplexity), fails when the interval lies below {MIN_EFFECT:.3f} (reversed, absent "
        "or too small), else inconclusive. Combined: every depth reproduces → reproduced; any depth fails → "
        "not reproduced; otherwise (or no depth ≥ 4 run both ways with ≥ 2 seeds a side) inconclusive. "
        "With no effect at any depth, 'reproduced' needs every interval to miss 0 upwards: ≤ 2.5 %.")


def depth_key(r: dict) -> tuple[str, int, str]:
    """(cell, depth, skip style); a single layer has no skips whatever its config says."""
    layers = model_field(r, "layers")
    return arch(r), layers, model_field(r, "skip") if layers > 1 else "none"


@register_report
class DepthReport(TaskReport):
    name = "depth"
    title = "Depth and skip connections"
    tasks = ("depth",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {"depth_skip": summarise(records, TABLE_METRICS, by=("arch", "layers", "skip"),
                                        log_scale=TABLE_METRICS[2:]),  # norms and their ratio span decades
                "depth_by_skip_test_loss": depth_by_skip(ok_runs(records), "test_loss")}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        runs = ok_runs(records)
        if not runs:
            return []
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return [plot_by_depth(runs, "test_loss", "test loss (nats per token)", out_dir / "depth_test_loss.png"),
                plot_by_depth(runs, "first_layer_grad_norm", "first-layer gradient norm (mean over steps)",
                              out_dir / "depth_first_layer_grad.png", log=True)]

    def claims(self, records: list[dict]) -> list[Claim]:
        return [skip_claim(ok_runs(records))]


def depth_by_skip(records: list[dict], name: str) -> pd.DataFrame:
    """Rows (cell, depth), one column per skip style (mean and t-interval over seeds) of one metric."""
    groups = group_by(records, depth_key)
    rows = []
    for cell, layers in sorted({(a, n) for a, n, _ in groups}):
        row = {"arch": cell, "layers": layers}
        for skip in SKIP_STYLES:
            put(row, skip, seed_interval(groups.get((cell, layers, skip), []), name))
        rows.append(row)
    return pd.DataFrame(rows)


def plot_by_depth(records: list[dict], name: str, ylabel: str, path: Path, log: bool = False) -> Path:
    """Metric against depth: colour per cell type, dash per skip style, 95 % band (t over seeds)."""
    fig, ax = new_figure()
    dashes = {"none": "-", "residual": "-.", "highway": ":"}
    groups = group_by(records, depth_key)
    for cell in sorted({a for a, _, _ in groups}):
        for skip in SKIP_STYLES:
            points = sorted((n, seed_interval(g, name))
                            for (a, n, s), g in groups.items() if a == cell and (s == skip or n == 1))
            if len(points) < 2:
                continue
            xs = [n for n, _ in points]
            ax.plot(xs, [ci.mean for _, ci in points], dashes[skip], marker="o", color=colour(cell),
                    label=f"{cell} {skip}")
            if all(not math.isnan(ci.low) for _, ci in points):
                ax.fill_between(xs, [ci.low for _, ci in points], [ci.high for _, ci in points],
                                color=colour(cell), alpha=0.15)
    ax.set_xscale("log", base=2)
    depths = sorted({n for _, n, _ in groups})
    ax.set_xticks(depths, [str(n) for n in depths])
    ax.minorticks_off()
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layers in the stack")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    save(fig, path)
    return path


def skip_claim(records: list[dict]) -> Claim:
    """Residual skips against none at every depth ≥ DEEP that ran both ways, per cell type (see RULE)."""
    groups = group_by(records, depth_key)
    parts, evidence, effects, whys = [], [], [], []
    for cell, layers, skip in groups:
        if skip != "residual" or layers < DEEP or (cell, layers, "none") not in groups:
            continue
        plain, residual = groups[(cell, layers, "none")], groups[(cell, layers, "residual")]
        delta = difference_ci([metric(r, "test_loss") for r in plain], [metric(r, "test_loss") for r in residual])
        verdict, why = directional_verdict(delta, MIN_EFFECT)
        parts.append(verdict)
        where = f"{cell}×{layers}"
        effects.append(f"{where} Δ test loss {delta.format()} nats")
        line = (f"{where}: test loss none {seed_interval(plain, 'test_loss').format()} vs residual "
                f"{seed_interval(residual, 'test_loss').format()} ({len(plain)} and {len(residual)} seeds)")
        if (cell, layers, "highway") in groups:
            line += f", highway {seed_interval(groups[(cell, layers, 'highway')], 'test_loss').format()}"
        evidence.append(line)
        if why:
            whys.append(f"{where}: {why}")
    if not parts:
        whys.append(f"missing runs: no depth ≥ {DEEP} stack finished with both skip='none' and skip='residual'")
    verdict = combine_verdicts(parts)
    return Claim(
        id="depth.skip_connections", statement="deep stacks train better with skip connections",
        source="lecture notes, Multi-layer RNNs (CS224n: stacks of 2–4 layers, 8 with skip connections; "
               "Britz et al. 2017 for NMT stacks); residual connections: He et al. 2016",
        rule=RULE, verdict=verdict, evidence="; ".join(evidence) or "–",
        why="" if verdict == REPRODUCED else "; ".join(whys), effect="; ".join(effects),
        details={"min_effect_nats": MIN_EFFECT, "depths": len(parts)})
