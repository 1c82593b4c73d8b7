"""depth's and ff_depth's reports: test loss and first-layer gradient per (cell, depth, skip), the skip-connection
claims, and whether the first layer's gradient vanishes in recurrent and in feed-forward stacks."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.judge.analysis import group_by, ok_runs, put, seed_interval
from suite.judge.claims import Claim
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, new_figure, save
from suite.judge.tables import summarise

from .rules import depth_key, failure_claim, failure_table_rows, skip_claim
from .task import SKIP_STYLES
from .vanishing import vanishing_claim

TABLE_METRICS = ["test_loss", "final_train_loss", "first_layer_grad_norm", "first_layer_grad_norm_early",
                 "first_to_last_grad_ratio"]


@register_report
class DepthReport(TaskReport):
    name = "depth"
    title = "Depth and skip connections"
    tasks = ("depth",)
    headline = ("test_ppl",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {"depth_skip": summarise(records, TABLE_METRICS, by=("arch", "layers", "skip"),
                                        log_scale=TABLE_METRICS[2:]),  # norms and their ratio span decades
                "depth_by_skip_test_loss": depth_by_skip(ok_runs(records), "test_loss"),
                "depth_failures": pd.DataFrame(failure_table_rows(records))}

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
        return [skip_claim(records), failure_claim(records), vanishing_claim("depth.first_layer_vanishing", records)]


@register_report
class FeedForwardDepthReport(TaskReport):
    name = "ff_depth"
    title = "Depth without recurrence: feed-forward stacks"
    tasks = ("ff_depth",)
    # none in the summary table: it lists models by their zoo label, and these feed-forward stacks carry the
    # vanilla RNN's name only to pick their nonlinearity
    headline = ()

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        # the weight-gradient ratio the claim reads, and beside it the back-propagated signal's (∂L/∂z)
        metrics = ["test_loss", "first_to_last_grad_ratio", "first_to_last_signal_ratio"]
        table = summarise(records, metrics, by=("arch", "layers", "skip"), log_scale=metrics[1:])
        return {"ff_depth_skip": table.assign(arch=table["arch"].map(ff_name)) if "arch" in table else table}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        runs = ok_runs(records)
        if not runs:
            return []
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        # the ratio is the geometric mean over training steps (the table's column of the same name)
        return [plot_by_depth(runs, "first_to_last_grad_ratio", "gradient norm, first / last layer",
                              Path(out_dir) / "ff_depth_grad_ratio.png", log=True, name_of=ff_name)]

    def claims(self, records: list[dict]) -> list[Claim]:
        return [vanishing_claim("ff_depth.first_layer_vanishing", records)]


def ff_name(cell: str) -> str:
    """The name of a feed-forward stack built with a vanilla RNN's nonlinearity: rnn_tanh → ff-tanh."""
    return "ff-" + cell.removeprefix("rnn_")


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


def plot_by_depth(records: list[dict], name: str, ylabel: str, path: Path, log: bool = False,
                  name_of=lambda cell: cell) -> Path:
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
                    label=f"{name_of(cell)} {skip}")
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
