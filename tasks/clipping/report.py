"""The clipping task's report: diverged fraction per model and threshold, training curves, and the claim
"norm clipping reduces divergence" judged on replicate trainings."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import confint_proportions_2indep

from suite.judge.analysis import by_label, group_by, label, metric, ok_runs, put, seed_interval
from suite.judge.claims import INCONCLUSIVE, REPRODUCED, Claim, combine_verdicts, directional_verdict
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, save
from suite.judge.stats import LEVEL, Interval, wilson_ci

# The smallest reduction of the diverged fraction the claim counts (no clipping − clipped): clipping that
# saves fewer than one training in five is not the remedy Pascanu et al. describe.
MIN_REDUCTION = 0.2
EXACT_ALPHA = 0.025  # one-sided, the side of a two-sided 95 % interval


@register_report
class ClippingReport(TaskReport):
    name = "clipping"
    title = "Exploding gradients and norm clipping"
    tasks = ("clipping",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        runs = ok_runs(records, "clipping")
        return {"clipping_divergence": clipping_table(runs)} if runs else {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        runs = ok_runs(records, "clipping")
        if not runs:
            return []
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return [plot_clipping(runs, Path(out_dir) / "clipping_curves.png")]

    def claims(self, records: list[dict]) -> list[Claim]:
        return [clipping_claim(ok_runs(records, "clipping"))]


def clip_of(run: dict) -> float | None:
    return metric(run, "clip", None)


def clip_name(clip: float | None) -> str:
    return "no clipping" if clip is None else f"clip {clip:g}"


def _clip_order(clip: float | None) -> float:
    return -math.inf if clip is None else -clip  # no clipping first, then thresholds from large to small


def counts(runs: list[dict]) -> tuple[int, int]:
    """(diverged trainings, trainings) pooled over runs: every replicate is one independent training."""
    return sum(metric(r, "diverged") for r in runs), sum(metric(r, "replicates") for r in runs)


def clipping_table(runs: list[dict]) -> pd.DataFrame:
    """Per model × threshold: diverged fraction (Wilson 95 % over replicate trainings), spikes, final loss."""
    rows = []
    for (name, _), group in sorted(group_by(runs, lambda r: (label(r), _clip_order(clip_of(r)))).items()):
        diverged, trainings = counts(group)
        row = {"model": name, "clipping": clip_name(clip_of(group[0])), "seeds": len(group),
               "trainings": trainings, "diverged": diverged, "nonfinite": sum(metric(r, "nonfinite", 0) for r in group)}
        put(row, "diverged_fraction", wilson_ci(diverged, trainings))
        put(row, "loss_spikes", seed_interval(group, "loss_spikes"))
        row["clipped_steps"] = sum(metric(r, "clipped_fraction") for r in group) / len(group)
        put(row, "final_valid_loss", seed_interval(group, "final_loss"))
        rows.append(row)
    return pd.DataFrame(rows)


def reduction(unclipped: tuple[int, int], clipped: tuple[int, int]) -> tuple[Interval, float]:
    """Diverged fraction without clipping minus with it: Newcombe's hybrid-score interval for a difference
    of two independent proportions (statsmodels), and the one-sided Fisher exact p-value (scipy)."""
    (k1, n1), (k2, n2) = unclipped, clipped
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=1 - LEVEL)
    p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="greater").pvalue
    return Interval(k1 / n1 - k2 / n2, float(low), float(high), min(n1, n2), "newcombe"), float(p)


def clipping_claim(runs: list[dict]) -> Claim:
    claim = Claim(
        id="clipping.divergence", statement="norm clipping reduces divergence",
        source="Pascanu, Mikolov & Bengio 2013 (§3.2, Algorithm 1: if ‖g‖ ≥ threshold then g ← threshold/‖g‖ · g)",
        rule=f"per architecture, diverged fraction (NaN/Inf, or held-out loss above the uniform guess ln|V|) over "
             f"replicate trainings, no clipping vs the smallest threshold; effect = difference of the two "
             f"fractions with Newcombe's 95 % interval and the one-sided Fisher exact test: reproduced when the "
             f"interval lies above 0, the difference reaches {MIN_REDUCTION} and Fisher p < {EXACT_ALPHA} (one "
             f"side of the 95 % interval; with 4 replicates a side only 4/4 vs 0/4 passes); not reproduced when "
             f"it lies below "
             f"{MIN_REDUCTION} (reversed or too small); an architecture whose unclipped trainings never diverge "
             f"has nothing to reduce and is inconclusive; all architectures reproduced → reproduced, any not "
             f"reproduced → not reproduced",
        verdict=INCONCLUSIVE, evidence="")
    verdicts, evidence, effects, why = {}, [], [], []
    for name, group in by_label(runs).items():
        unclipped = [r for r in group if clip_of(r) is None]
        thresholds = [clip_of(r) for r in group if clip_of(r) is not None]
        if not unclipped or not thresholds:
            evidence.append(f"{name}: missing {'unclipped' if not unclipped else 'clipped'} runs")
            continue
        smallest = min(thresholds)
        a, b = counts(unclipped), counts([r for r in group if clip_of(r) == smallest])
        effect, p = reduction(a, b)
        evidence.append(f"{name}: no clipping {a[0]}/{a[1]} vs clip {smallest:g} {b[0]}/{b[1]} diverged")
        effects.append(f"{name}: Δ diverged fraction {effect.format()} (Newcombe), Fisher p = {p:.2g}")
        if a[0] == 0:
            verdicts[name] = INCONCLUSIVE
            why.append(f"{name}: no unclipped training diverged, nothing to reduce")
            continue
        verdicts[name], reason = directional_verdict(effect, MIN_REDUCTION)
        if verdicts[name] == REPRODUCED and p >= EXACT_ALPHA:  # the exact test must agree with the interval
            verdicts[name], reason = INCONCLUSIVE, f"Fisher exact p = {p:.2g} ≥ {EXACT_ALPHA} (too few replicates)"
        if reason:
            why.append(f"{name}: {reason}")
    claim.verdict = combine_verdicts(verdicts.values())
    claim.evidence, claim.effect = "; ".join(evidence) or "no runs", "; ".join(effects)
    claim.why = "; ".join(why) if claim.verdict != REPRODUCED else ""
    claim.details = {"verdicts": verdicts}
    return claim


def plot_clipping(runs: list[dict], path: Path) -> Path:
    """Per architecture: training loss (top) and gradient norm (bottom) per replicate, one tone per threshold."""
    groups = by_label(runs)
    fig, axes = plt.subplots(2, len(groups), squeeze=False, sharex=True, figsize=(5 * len(groups), 6), dpi=120)
    cmap = matplotlib.colormaps["plasma"]
    for col, (name, group) in enumerate(groups.items()):
        top, bottom = axes[0][col], axes[1][col]
        by_clip = group_by(group, lambda r: _clip_order(clip_of(r)))
        for k, members in enumerate(by_clip.values()):
            clip = clip_of(members[0])
            tone = "black" if clip is None else cmap(0.15 + 0.7 * k / max(1, len(by_clip) - 1))
            replicas = [rep for r in members for rep in r["metrics"]["replicas"]]
            for i, rep in enumerate(replicas):
                steps = [c["step"] for c in rep["curve"]]
                top.plot(steps, [c["train_loss"] for c in rep["curve"]], color=tone, alpha=0.6, linewidth=0.8,
                         label=clip_name(clip) if i == 0 else None)
                bottom.plot(steps, [c["grad_norm_max"] for c in rep["curve"]], color=tone, alpha=0.6, linewidth=0.8)
                if rep["diverged"] and steps:
                    top.plot(steps[-1], rep["curve"][-1]["train_loss"], "x", color=tone)
            if clip is not None:
                bottom.axhline(clip, color=tone, linestyle="--", linewidth=0.8)
        uniform = next((rep["uniform_loss"] for r in group for rep in r["metrics"]["replicas"]), None)
        if uniform:
            top.axhline(uniform, color="grey", linestyle=":", linewidth=1, label="uniform guess ln|V|")
        top.set_title(f"{name}: one line per training (× = diverged)", fontsize=9, color=colour(name))
        top.set_ylabel("training loss (nats/token)")
        bottom.set_ylabel("max ‖g‖ per logging window, before clipping\n(dashed: thresholds)")
        bottom.set_yscale("log")
        bottom.set_xlabel("optimiser step")
        top.legend(fontsize=7)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    save(fig, path)
    return path
