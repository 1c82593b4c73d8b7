"""Gradient flow through time (issue 5): ‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against distance, the spectral bound, and
exploding gradients tamed by norm clipping.

Two tasks:
- `gradients`: (a) vanilla tanh RNNs whose W_h is an orthogonal matrix scaled to spectral radius ρ,
  measured at initialisation on random tokens; (b) every architecture measured at initialisation and
  again after training on the recall task, on recall stories (J = loss of predicting the key).
- `clipping`: rnn_tanh and lstm trained with a large recurrent initialisation and a large SGD learning
  rate, with and without norm clipping; each run trains several replicate models so that the
  diverged fraction is a proportion over independent trainings.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import torch

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, combine_verdicts, less_than
from suite.config import ConfigError, RunConfig, TrainConfig
from suite.data import StreamBatcher, Vocab, sentence_stream
from suite.gradients import (VANILLA_ACTIVATIONS, activation_derivative, bound_violations, example_slopes,
                             half_life_from_slope, measure, spectral_bound, spectral_norm, spectral_radius)
from suite.grammar import generate
from suite.models import build_model, count_parameters
from suite.plots import colour, line_style, new_figure, save
from suite.stats import Interval, bootstrap_ci, mean_ci, wilson_ci
from suite.tasks import RunOutcome, Task, TaskData, TaskSettings, get_task, register_task
from suite.train import TrainResult, evaluate_loss, fit

SPECTRAL_RADII = (0.5, 0.9, 1.0, 1.1, 1.5, 2.0)
EXPERIMENTS = ("spectrum", "architectures")


# =========================================================================== the `gradients` task


@register_task
class Gradients(Task):
    name = "gradients"
    description = "‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against distance: spectral-radius sweep, architectures before/after training"
    objective = "lm"
    # Slopes per label would pool ρ values and b_f = 0/1 (see the gradients_* tables); violations pool fine.
    headline = ("bound_violations",)
    default_options = {"experiment": "architectures", "measure_steps": 200, "measure_batch": 32,
                       "spectrum_vocab": 50, "source": "recall", "source_options": {}}

    def settings(self, size: str) -> TaskSettings:
        source = get_task(self.default_options["source"]).settings(size)
        distance = {"smoke": 20, "quick": 100, "standard": 200, "paper": 200}[size]
        batch = {"smoke": 8, "quick": 32, "standard": 32, "paper": 64}[size]
        # Fewer steps than the recall task itself: these runs measure gradients, they do not chase the span.
        steps = {"smoke": source.train.steps, "quick": min(source.train.steps, 250),
                 "standard": min(source.train.steps, 1000), "paper": source.train.steps}[size]
        # Measure on recall stories whose key lies `distance` filler tokens back from the recall phrase.
        options = {"measure_steps": {"smoke": 30, "quick": 200, "standard": 200, "paper": 200}[size],
                   "measure_batch": batch,
                   "source_options": {**source.options, "test_distances": [distance], "test_stories": batch}}
        if size in ("quick", "standard"):  # one epoch at the reduced step count: less story generation
            options["source_options"]["train_stories"] = steps * source.train.batch_size
        train = dataclasses.replace(source.train, steps=steps)
        return TaskSettings(train=train, model=dict(source.model), options=options)

    def variants(self, model, size: str) -> list[dict[str, dict[str, Any]]]:
        """rnn_tanh: the ρ grid plus one trained run; lstm: forget-gate bias 0 and 1; gru: one trained run.
        Other models are left out of the presets to save their time budget (the measurement supports
        every architecture and depth; run them with --archs/--layers and experiment=architectures)."""
        trained = {"options": {"experiment": "architectures"}}
        if model.layers != 1 or model.bidirectional:
            return []
        if model.arch == "rnn_tanh":
            spectrum = [{"model": {"init": "orthogonal", "spectral_radius": rho},
                         "options": {"experiment": "spectrum"}} for rho in SPECTRAL_RADII]
            return spectrum + [trained]
        if model.arch == "lstm":
            return [{"model": {"forget_bias": b}, **trained} for b in (0.0, 1.0)]
        return [trained] if model.arch == "gru" else []

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        if opts["experiment"] not in EXPERIMENTS:
            raise ConfigError(f"unknown gradients experiment '{opts['experiment']}'; valid: {', '.join(EXPERIMENTS)}")
        for key in ("measure_steps", "measure_batch", "spectrum_vocab"):
            if not isinstance(opts[key], int) or opts[key] < 2:
                raise ConfigError(f"{key} must be an integer ≥ 2 (got {opts[key]!r})")
        if opts["experiment"] == "spectrum" and cfg.model.arch not in VANILLA_ACTIVATIONS:
            raise ConfigError("the spectrum experiment needs a vanilla RNN (rnn_tanh, rnn_relu), "
                              f"got '{cfg.model.arch}'")
        if opts["experiment"] == "architectures":
            if opts["source"] != "recall":
                raise ConfigError(f"source must be 'recall' (got {opts['source']!r})")
            get_task("recall").validate(source_config(cfg))

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        opts = {**self.default_options, **cfg.options}
        if opts["experiment"] == "spectrum":
            return self._run_spectrum(cfg, opts)
        return self._run_architectures(cfg, opts, progress)

    def _run_spectrum(self, cfg: RunConfig, opts: dict) -> RunOutcome:
        """Measure at initialisation on i.i.d. random tokens; no training."""
        generator = torch.Generator().manual_seed(cfg.seed)
        vocab_size, steps, batch = opts["spectrum_vocab"], opts["measure_steps"], opts["measure_batch"]
        model = seeded_model(cfg.model, vocab_size, cfg.seed)
        inputs = torch.randint(vocab_size, (batch, steps), generator=generator)
        targets = torch.randint(vocab_size, (batch,), generator=generator)
        positions = torch.full((batch,), steps - 1)
        metrics = {"experiment": "spectrum", "target_rho": cfg.model.spectral_radius, "measure_steps": steps,
                   **stage_metrics(model, cfg.model.arch, inputs, positions, targets)}
        metrics.update(flat_stage("", metrics))
        return RunOutcome(TrainResult(), metrics, count_parameters(model))

    def _run_architectures(self, cfg: RunConfig, opts: dict, progress: bool) -> RunOutcome:
        """Measure at initialisation, train on the recall task, measure again on the same stories."""
        source = get_task("recall")
        src_cfg = source_config(cfg)
        data = source.prepare(src_cfg)
        model = seeded_model(cfg.model, len(data.vocab), cfg.seed).to(cfg.device)
        inputs, positions, targets = recall_batch(data, opts["measure_batch"])
        metrics: dict[str, Any] = {"experiment": "architectures", "forget_bias": cfg.model.forget_bias,
                                   "distance": src_cfg.options["test_distances"][0]}
        metrics["init"] = stage_metrics(model, cfg.model.arch, inputs, positions, targets)
        training = fit(model, data.train, data.valid, cfg.train, seed=cfg.seed, device=cfg.device,
                       progress=progress)
        metrics.update(flat_stage("_init", metrics["init"]))
        if training.status == "ok":
            metrics["trained"] = stage_metrics(model, cfg.model.arch, inputs, positions, targets)
            metrics.update(flat_stage("_trained", metrics["trained"]))
            metrics["valid_loss"] = training.best_valid_loss
        if cfg.model.arch in VANILLA_ACTIVATIONS:  # the bound exists for vanilla RNNs only
            metrics["bound_violations"] = sum(metrics[s]["bound_violations"] for s in ("init", "trained")
                                              if s in metrics)
        return RunOutcome(training, metrics, count_parameters(model), model=model, vocab=data.vocab)

    # ----- report hooks

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        out = {}
        spectrum = experiment_records(records, "spectrum")
        if spectrum:
            out["gradients_spectrum"] = spectrum_table(spectrum)
        archs = experiment_records(records, "architectures")
        if archs:
            out["gradients_architectures"] = architecture_table(archs)
        return out

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        folder = Path(out_dir)  # the report passes its plots folder
        paths = []
        spectrum = experiment_records(records, "spectrum")
        archs = experiment_records(records, "architectures")
        if spectrum or archs:
            folder.mkdir(parents=True, exist_ok=True)
        if spectrum:
            paths.append(plot_spectrum(spectrum, folder / "gradients_spectrum.png"))
        if archs:
            paths.append(plot_architectures(archs, folder / "gradients_architectures.png"))
        return paths

    def claims(self, records: list[dict]) -> list:
        return [spectrum_claim(experiment_records(records, "spectrum")),
                gated_decay_claim(experiment_records(records, "architectures"))]


def seeded_model(model_cfg, vocab_size: int, seed: int):
    """build_model from `seed`, leaving torch's global generator (which the zoo's initialisers use) as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(model_cfg, vocab_size, "lm")


def source_config(cfg: RunConfig) -> RunConfig:
    """The recall task's config for this run: same model, training and seed; the recall options."""
    opts = cfg.options.get("source_options", {})
    return RunConfig("recall", cfg.model, cfg.train, cfg.seed, dict(opts), cfg.device)


def recall_batch(data: TaskData, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Test stories as a padded batch: inputs <eos>+prefix, loss position = last prefix token, target = key."""
    stories = next(iter(data.extra["test"].values()))[:size]
    vocab: Vocab = data.vocab
    prefixes = [[vocab.eos_id, *vocab.encode(s.prefix)] for s in stories]
    width = max(len(p) for p in prefixes)
    inputs = torch.full((len(prefixes), width), vocab.pad_id, dtype=torch.long)
    for row, p in enumerate(prefixes):
        inputs[row, :len(p)] = torch.tensor(p)
    positions = torch.tensor([len(p) - 1 for p in prefixes])
    targets = torch.tensor(vocab.encode([s.key for s in stories]))
    return inputs, positions, targets


def stage_metrics(model, arch: str, inputs, positions, targets) -> dict[str, Any]:
    """One measurement, in float64 (so ρ = 2 over 200 steps neither overflows nor underflows)."""
    probe = copy.deepcopy(model).double().eval().cpu()
    profile = measure(probe, inputs.cpu(), positions.cpu(), targets.cpu())
    out: dict[str, Any] = {"curves": {k: [profile.curve(k, i) for i in range(len(v))]
                                      for k, v in profile.per_example.items()}}
    # A curve's slope is the mean of its examples' own slopes: each example decays from its own ‖∂J/∂h⁽ⁱ⁾‖,
    # and the set of examples long enough to reach distance d shrinks with d on padded batches.
    out["slopes"] = {k: [mean_finite(example_slopes(pe)) for pe in per_layer]
                     for k, per_layer in profile.per_example.items()}
    out["example_slopes"] = example_slopes(profile.per_example["h"][-1])
    if arch in VANILLA_ACTIVATIONS:
        w_h = probe.recurrent_weights()[-1][0]
        bound = spectral_bound(profile, w_h, VANILLA_ACTIVATIONS[arch])
        violations, checks = bound_violations(profile.per_example["h"][-1], bound)
        deriv = activation_derivative(profile.trace[-1]["h"], VANILLA_ACTIVATIONS[arch])
        out.update(rho=spectral_radius(w_h), spectral_norm=spectral_norm(w_h), bound_violations=violations,
                   bound_checks=checks, bound_curve=_nanmean(bound), bound_slope=mean_finite(example_slopes(bound)),
                   mean_sigma_prime=float(deriv.mean()))
    return out


def mean_finite(values: list[float]) -> float:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _nanmean(x: torch.Tensor) -> list[float]:
    valid = ~torch.isnan(x)
    return (torch.where(valid, x, torch.zeros_like(x)).sum(0) / valid.sum(0).clamp_min(1)).tolist()


def flat_stage(suffix: str, stage: dict) -> dict[str, Any]:
    """Scalars of a stage (top layer), so the generic summaries can average them across seeds."""
    slope = stage["slopes"]["h"][-1]
    flat = {f"slope{suffix}": slope, f"ratio_per_step{suffix}": math.exp(slope) if math.isfinite(slope) else None,
            f"half_life{suffix}": half_life_from_slope(slope)}
    if "c" in stage["slopes"]:
        flat[f"slope_c{suffix}"] = stage["slopes"]["c"][-1]
    for key in ("rho", "spectral_norm", "bound_violations", "bound_checks", "bound_slope", "mean_sigma_prime"):
        if key in stage:
            flat[f"{key}{suffix}"] = stage[key]
    return flat


# ----- grouping and intervals


def experiment_records(records: list[dict], experiment: str, task: str = "gradients") -> list[dict]:
    return [r for r in records if r["config"]["task"] == task and r.get("status") == "ok"
            and (r.get("metrics") or {}).get("experiment") == experiment]


def model_name(record: dict) -> str:
    """Label plus the LSTM forget-gate bias when it was set, e.g. 'lstm (b_f=1)'."""
    bias = record["config"]["model"].get("forget_bias")
    label = record.get("label", record["config"]["model"]["arch"])
    return label if bias is None else f"{label} (b_f={bias:g})"


def group_by(records: list[dict], key) -> dict[Any, list[dict]]:
    groups: dict[Any, list[dict]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def slope_interval(group: list[dict], stage: str | None = None) -> Interval:
    """Decay slope: t-interval over seeds, or with one seed a bootstrap over the batch's examples."""
    stages = [r["metrics"][stage] if stage else r["metrics"] for r in group]
    stages = [s for s in stages if s]
    if len(stages) == 1:
        return bootstrap_ci([v for v in stages[0]["example_slopes"] if v is not None and math.isfinite(v)])
    return mean_ci([s["slopes"]["h"][-1] for s in stages])


def ci_label(ci: Interval) -> str:
    names = {"t": f"t over {ci.n} seeds", "bootstrap": f"bootstrap over {ci.n} examples (1 seed)"}
    return names.get(ci.method, ci.method)


def half_life_columns(ci: Interval) -> dict[str, float]:
    """Half-life from the slope and its CI (monotone transform); NaN where the norm does not decay."""
    def hl(s):
        return half_life_from_slope(s) if s is not None and math.isfinite(s) else None
    to_nan = lambda v: math.nan if v is None else v  # noqa: E731
    return {"half_life": to_nan(hl(ci.mean)), "half_life_low": to_nan(hl(ci.low)),
            "half_life_high": to_nan(hl(ci.high))}


def spectrum_table(records: list[dict]) -> pd.DataFrame:
    """Per target ρ: measured ρ and ‖W_h‖, decay slope (log-norm per step), ratio, half-life, bound violations."""
    rows = []
    for rho, group in sorted(group_by(records, lambda r: r["metrics"]["target_rho"]).items()):
        ci = slope_interval(group)
        rows.append({"target_rho": rho, "seeds": len(group), "ci": ci_label(ci),
                     "rho_W": _mean([r["metrics"]["rho"] for r in group]),
                     "norm_W": _mean([r["metrics"]["spectral_norm"] for r in group]),
                     "mean_sigma_prime": _mean([r["metrics"].get("mean_sigma_prime", math.nan) for r in group]),
                     "slope": ci.mean, "slope_low": ci.low, "slope_high": ci.high,
                     "ratio_per_step": math.exp(ci.mean), "ratio_per_step_low": math.exp(ci.low),
                     "ratio_per_step_high": math.exp(ci.high), **half_life_columns(ci),
                     "bound_slope": _mean([r["metrics"].get("bound_slope", math.nan) for r in group]),
                     "bound_violations": sum(r["metrics"]["bound_violations"] for r in group),
                     "bound_checks": sum(r["metrics"]["bound_checks"] for r in group)})
    return pd.DataFrame(rows)


def architecture_table(records: list[dict]) -> pd.DataFrame:
    """Per model and stage (init / trained): decay slope of h (and c), half-life, bound violations."""
    rows = []
    for name, group in group_by(records, model_name).items():
        for stage in ("init", "trained"):
            staged = [r for r in group if stage in r["metrics"]]
            if not staged:
                continue
            ci = slope_interval(staged, stage)
            row = {"model": name, "stage": stage, "seeds": len(staged), "ci": ci_label(ci),
                   "slope": ci.mean, "slope_low": ci.low, "slope_high": ci.high, **half_life_columns(ci)}
            c_slopes = [r["metrics"][stage]["slopes"]["c"][-1] for r in staged if "c" in r["metrics"][stage]["slopes"]]
            if c_slopes:
                c = mean_ci(c_slopes)
                row.update(slope_c=c.mean, slope_c_low=c.low, slope_c_high=c.high)
            bounded = [r["metrics"][stage] for r in staged if "bound_violations" in r["metrics"][stage]]
            row["bound_violations"] = (f"{sum(s['bound_violations'] for s in bounded)} of "
                                       f"{sum(s['bound_checks'] for s in bounded)}" if bounded else "–")
            rows.append(row)
    return pd.DataFrame(rows)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


# ----- plots


def _mean_curve(curves: list[list[float]]) -> tuple[list[int], list[float]]:
    """Geometric mean across seeds at each distance (the curves are compared on a log axis)."""
    span = min(len(c) for c in curves)
    points = []
    for d in range(span):
        vals = [c[d] for c in curves if c[d] is not None and c[d] > 0 and math.isfinite(c[d])]
        if vals:
            points.append((d, math.exp(sum(math.log(v) for v in vals) / len(vals))))
    return [d for d, _ in points], [v for _, v in points]


def plot_spectrum(records: list[dict], path: Path) -> Path:
    """Log-norm against distance, one line per ρ (bound dotted), vanilla tanh RNN at initialisation."""
    fig, ax = new_figure(7, 4.5)
    groups = sorted(group_by(records, lambda r: r["metrics"]["target_rho"]).items())
    cmap = matplotlib.colormaps["viridis"]
    for k, (rho, group) in enumerate(groups):
        tone = cmap(k / max(1, len(groups) - 1))
        d, v = _mean_curve([r["metrics"]["curves"]["h"][-1] for r in group])
        ax.plot(d, v, color=tone, label=f"ρ = {rho:g} (n={len(group)})")
        db, vb = _mean_curve([r["metrics"]["bound_curve"] for r in group])
        ax.plot(db, vb, color=tone, linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("distance i − j (steps)")
    ax.set_ylabel("‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ (batch mean)")
    ax.set_title("rnn_tanh, W_h = ρ·Q at initialisation (dotted: spectral bound)", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)
    return path


def plot_architectures(records: list[dict], path: Path) -> Path:
    """Two panels (at initialisation, after training): log-norm of ∂J/∂h (and LSTM ∂J/∂c, thin) against distance."""
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(11, 4.5), dpi=120)
    for ax, stage in zip(axes, ("init", "trained")):
        ax.grid(alpha=0.3)
        for name, group in group_by(records, model_name).items():
            staged = [r["metrics"][stage] for r in group if stage in r["metrics"]]
            if not staged:
                continue
            label = group[0].get("label", group[0]["config"]["model"]["arch"])
            style = ":" if "b_f=0" in name else line_style(label)
            d, v = _mean_curve([s["curves"]["h"][-1] for s in staged])
            ax.plot(d, v, color=colour(label), linestyle=style, label=f"{name} h (n={len(staged)})")
            if "c" in staged[0]["curves"]:
                d, v = _mean_curve([s["curves"]["c"][-1] for s in staged])
                ax.plot(d, v, color=colour(label), linestyle=style, linewidth=0.8, alpha=0.6, label=f"{name} c")
        ax.set_yscale("log")
        ax.set_xlabel("distance i − j (steps back from the key prediction)")
        ax.set_title({"init": "at initialisation", "trained": "after training on recall"}[stage], fontsize=9)
    axes[0].set_ylabel("‖∂J⁽ⁱ⁾/∂state⁽ʲ⁾‖ (batch mean, top layer)")
    axes[1].legend(fontsize=7)
    save(fig, path)
    return path


# ----- claims


def spectrum_claim(records: list[dict]) -> Claim:
    """Rule: every ρ < 1 has a slope CI wholly below 0, every ρ > 1 wholly above 0, and no bound
    violation anywhere → reproduced; a CI wholly on the wrong side or any violation → not reproduced;
    otherwise (CI touching 0, no ρ on one side, missing runs) inconclusive."""
    claim = Claim(
        id="gradients.spectrum",
        statement="vanilla-RNN gradient norms decay exponentially with distance when ρ(W_h) < 1 and grow "
                  "when ρ > 1; the measured norms respect the bound",
        source="Pascanu, Mikolov & Bengio 2013 (lecture's proof sketch)",
        rule="slope of log‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ against i − j, 95 % CI (t over seeds; one seed: bootstrap over "
             "examples): reproduced if every ρ < 1 lies wholly below 0 and every ρ > 1 wholly above 0 and "
             "the bound is never violated; not reproduced if any CI lies wholly on the wrong side or the "
             "bound is violated; otherwise inconclusive",
        verdict=INCONCLUSIVE, evidence="")
    groups = group_by(records, lambda r: r["metrics"]["target_rho"])
    below, above = [r for r in groups if r < 1], [r for r in groups if r > 1]
    cis = {rho: slope_interval(g) for rho, g in groups.items()}
    violations = sum(r["metrics"]["bound_violations"] for r in records)
    checks = sum(r["metrics"]["bound_checks"] for r in records)
    claim.evidence = "; ".join(f"ρ={rho:g}: slope {cis[rho].format()} ({ci_label(cis[rho])})"
                               for rho in sorted(cis)) + f"; bound violations {violations}/{checks}"
    claim.details = {"slopes": {str(r): [c.mean, c.low, c.high, c.n] for r, c in cis.items()},
                     "violations": violations, "checks": checks}
    wrong = [rho for rho in below if cis[rho].low > 0] + [rho for rho in above if cis[rho].high < 0]
    if violations or wrong:
        claim.verdict = NOT_REPRODUCED
        claim.why = "; ".join(filter(None, [f"{violations} bound violations" if violations else "",
                                            f"wrong direction at ρ = {', '.join(f'{r:g}' for r in sorted(wrong))}"
                                            if wrong else "", saturation_note(groups, wrong)]))
        return claim
    if not below or not above:
        claim.why = "missing runs: need at least one ρ < 1 and one ρ > 1"
        return claim
    unclear = [rho for rho in below if not cis[rho].high < 0] + [rho for rho in above if not cis[rho].low > 0]
    if unclear:
        claim.why = f"the CI includes 0 (or is undefined) at ρ = {', '.join(f'{r:g}' for r in sorted(unclear))}"
        return claim
    claim.verdict = REPRODUCED
    return claim


def saturation_note(groups: dict[float, list[dict]], rhos: list[float]) -> str:
    """Why ρ > 1 can still decay: the mean σ′ of saturated tanh units shrinks Π diag σ′ faster than ‖W_h‖^d grows."""
    above = [r for r in sorted(rhos) if r > 1 and all("mean_sigma_prime" in x["metrics"] for x in groups[r])]
    if not above:
        return ""
    parts = [f"ρ={r:g}: mean σ′ {_mean([x['metrics']['mean_sigma_prime'] for x in groups[r]]):.2f}" for r in above]
    return ("the inputs drive the tanh units into saturation (" + ", ".join(parts) + "), so ρ > 1 is necessary "
            "but not sufficient for growth (Pascanu et al. 2013)")


GATED, VANILLA = ("lstm", "gru"), "rnn_tanh"


def gated_decay_claim(records: list[dict]) -> Claim:
    """Rule: after training, rnn_tanh's slope CI lies wholly below that of every one-layer lstm/gru
    variant → reproduced; wholly above any → not reproduced; otherwise inconclusive (uses `less_than`)."""
    claim = Claim(
        id="gradients.gated_decay",
        statement="after training, gradients of LSTM and GRU decay more slowly with distance than a vanilla RNN's",
        source="Hochreiter & Schmidhuber 1997; Cho et al. 2014 (lecture: LSTM/GRU mitigate vanishing gradients)",
        rule="slope of log‖∂J⁽ⁱ⁾/∂h⁽ʲ⁾‖ (top layer, after training on recall), 95 % CI (t over ≥ 2 seeds; one "
             "seed: bootstrap over examples): reproduced if rnn_tanh's CI lies wholly below every lstm/gru "
             "variant's; not reproduced if wholly above any; otherwise inconclusive",
        verdict=INCONCLUSIVE, evidence="")
    trained = [r for r in records if "trained" in r["metrics"] and r["config"]["model"]["layers"] == 1]
    groups = group_by(trained, model_name)
    vanilla = groups.get(VANILLA)
    gated = {n: g for n, g in groups.items() if g[0]["config"]["model"]["arch"] in GATED}
    cis = {n: slope_interval(g, "trained") for n, g in groups.items()}
    claim.evidence = "; ".join(f"{n}: slope {ci.format()} ({ci_label(ci)})" for n, ci in sorted(cis.items()))
    if vanilla is None or not gated:
        claim.why = "missing runs: need trained rnn_tanh and at least one of lstm, gru"
        return claim
    verdicts = {n: less_than(cis[VANILLA], cis[n]) for n in gated}
    claim.verdict = combine_verdicts(v for v, _ in verdicts.values())
    claim.why = "; ".join(f"{n}: {why}" for n, (v, why) in verdicts.items() if why)
    return claim


# =========================================================================== the `clipping` task

CLIP_THRESHOLDS = {"smoke": (None, 1.0), "quick": (None, 5.0, 1.0), "standard": (None, 5.0, 1.0, 0.25),
                   "paper": (None, 10.0, 5.0, 1.0, 0.25)}
CLIP_ARCHS = ("rnn_tanh", "lstm")
# SGD step sizes at which unclipped training is unstable: the LSTM's saturated gates pass ~20× smaller
# gradients than the tanh RNN at this init, so it needs a larger step to blow up.
CLIP_LR = {"rnn_tanh": 10.0, "lstm": 50.0}
CLIP_INIT_RADIUS = 3.0  # spectral radius of every recurrent gate block at initialisation


@register_task
class Clipping(Task):
    name = "clipping"
    description = "exploding gradients: large recurrent init and SGD step, with and without norm clipping"
    objective = "lm"
    headline = ()  # pooled over thresholds per label it would mean nothing; see clipping_divergence
    default_options = {"replicates": 4, "train_sentences": 2000, "valid_sentences": 200}

    def settings(self, size: str) -> TaskSettings:
        steps = {"smoke": 20, "quick": 150, "standard": 200, "paper": 1000}[size]
        hidden = {"smoke": 16, "quick": 64, "standard": 64, "paper": 128}[size]
        replicates = {"smoke": 2, "quick": 4, "standard": 4, "paper": 10}[size]
        sentences = {"smoke": 300, "quick": 2000, "standard": 3000, "paper": 10000}[size]
        return TaskSettings(
            train=TrainConfig(optimizer="sgd", lr=10.0, steps=steps, batch_size=16, bptt=32, clip=None,
                              eval_every=steps),
            model={"hidden": hidden},
            options={"replicates": replicates, "train_sentences": sentences})

    def variants(self, model, size: str) -> list[dict[str, dict[str, Any]]]:
        if model.arch not in CLIP_ARCHS or model.layers != 1:
            return []
        large_init = {"init": "orthogonal", "spectral_radius": CLIP_INIT_RADIUS}
        # config.replace drops None values, so "no clipping" is the settings' own clip=None.
        return [{"model": large_init, "train": {"lr": CLIP_LR[model.arch], **({"clip": c} if c is not None else {})}}
                for c in CLIP_THRESHOLDS[size]]

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        for key in ("replicates", "train_sentences", "valid_sentences"):
            if not isinstance(opts[key], int) or opts[key] < 1:
                raise ConfigError(f"{key} must be a positive integer (got {opts[key]!r})")

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = {**self.default_options, **cfg.options}
        train = generate(opts["train_sentences"], seed=cfg.seed * 1000 + 11)
        valid = generate(opts["valid_sentences"], seed=cfg.seed * 1000 + 12)
        vocab = Vocab.from_corpus(s.tokens for s in train)
        stream = {k: sentence_stream((s.tokens for s in v), vocab) for k, v in (("train", train),
                                                                              ("valid", valid))}
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        return TaskData(StreamBatcher(stream["train"], bs, bptt), StreamBatcher(stream["valid"], bs, bptt), vocab)

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Train `replicates` models from seeds derived from the run's seed; record each one's fate."""
        opts = {**self.default_options, **cfg.options}
        data = self.prepare(cfg)
        replicas, parameters, total = [], 0, TrainResult()
        for r in range(opts["replicates"]):
            seed = cfg.seed * 1000 + r
            model = seeded_model(cfg.model, len(data.vocab), seed).to(cfg.device)
            result = fit(model, data.train, None, cfg.train, seed=seed, device=cfg.device, progress=progress)
            valid = evaluate_loss(model, data.valid, cfg.device) if result.status == "ok" else None
            replicas.append(replica_record(seed, result, valid, math.log(len(data.vocab))))
            parameters = count_parameters(model)
            _accumulate(total, result)
        return RunOutcome(total, clipping_metrics(replicas, cfg.train.clip), parameters)

    # ----- report hooks

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        mine = clipping_records(records)
        return {"clipping_divergence": clipping_table(mine)} if mine else {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        mine = clipping_records(records)
        if not mine:
            return []
        folder = Path(out_dir)  # the report passes its plots folder
        folder.mkdir(parents=True, exist_ok=True)
        return [plot_clipping(mine, folder / "clipping_curves.png")]

    def claims(self, records: list[dict]) -> list:
        return [clipping_claim(clipping_records(records))]


def _accumulate(total: TrainResult, one: TrainResult) -> None:
    """The run's TrainResult sums its replicates' work (its status stays ok: divergence is a measurement)."""
    total.steps += one.steps
    total.train_tokens += one.train_tokens
    total.train_seconds += one.train_seconds
    total.loss_spikes += one.loss_spikes
    total.clipped_steps += one.clipped_steps


def replica_record(seed: int, result: TrainResult, valid_loss: float | None, uniform_loss: float) -> dict[str, Any]:
    """One training's fate. It diverged if it went non-finite (NaN/Inf) or ended worse than the uniform
    guess ln|V| on held-out text: a tanh network's bounded states rarely overflow, but its loss explodes."""
    curve = [{k: c[k] for k in ("step", "train_loss", "grad_norm_mean", "grad_norm_max") if k in c}
             for c in result.curve if "train_loss" in c]
    nonfinite = result.status == "diverged" or valid_loss is None or not math.isfinite(valid_loss)
    return {"seed": seed, "status": result.status, "diverged_at": result.diverged_at, "steps": result.steps,
            "nonfinite": nonfinite, "uniform_loss": uniform_loss,
            "diverged": nonfinite or valid_loss > uniform_loss,
            "loss_spikes": result.loss_spikes, "clipped_steps": result.clipped_steps,
            "final_train_loss": result.final_train_loss, "valid_loss": valid_loss, "curve": curve}


def clipping_metrics(replicas: list[dict], clip: float | None) -> dict[str, Any]:
    diverged = sum(r["diverged"] for r in replicas)
    finished = [r["valid_loss"] for r in replicas if r["valid_loss"] is not None and math.isfinite(r["valid_loss"])]
    steps = sum(r["steps"] for r in replicas)
    nonfinite = sum(r["nonfinite"] for r in replicas)
    return {"clip": clip, "replicates": len(replicas), "diverged": diverged,
            "diverged_fraction": diverged / len(replicas), "nonfinite": nonfinite,
            "nonfinite_fraction": nonfinite / len(replicas),
            "loss_spikes": sum(r["loss_spikes"] for r in replicas) / len(replicas),
            "clipped_fraction": sum(r["clipped_steps"] for r in replicas) / max(1, steps),
            "final_loss": sum(finished) / len(finished) if finished else None, "replicas": replicas}


def clipping_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["config"]["task"] == "clipping" and r.get("status") == "ok" and r.get("metrics")]


def clip_name(clip: float | None) -> str:
    return "no clipping" if clip is None else f"clip {clip:g}"


def diverged_interval(group: list[dict]) -> Interval:
    """Wilson interval of the diverged fraction, pooled over every replicate of every seed."""
    return wilson_ci(sum(r["metrics"]["diverged"] for r in group), sum(r["metrics"]["replicates"] for r in group))


def _clip_key(clip):
    return math.inf if clip is None else clip


def clipping_table(records: list[dict]) -> pd.DataFrame:
    """Per architecture × clipping threshold: diverged fraction (Wilson 95 % over replicates), spikes, loss."""
    rows = []
    groups = group_by(records, lambda r: (r["label"], r["metrics"]["clip"]))
    for (label, clip), group in sorted(groups.items(), key=lambda kv: (kv[0][0], -_clip_key(kv[0][1]))):
        div = diverged_interval(group)
        spikes = mean_ci([r["metrics"]["loss_spikes"] for r in group])
        losses = [r["metrics"]["final_loss"] for r in group if r["metrics"]["final_loss"] is not None]
        loss = mean_ci(losses)
        rows.append({"model": label, "clipping": clip_name(clip), "seeds": len(group),
                     "trainings": div.n, "diverged": sum(r["metrics"]["diverged"] for r in group),
                     "nonfinite": sum(r["metrics"].get("nonfinite", 0) for r in group),
                     "diverged_fraction": div.mean, "diverged_fraction_low": div.low,
                     "diverged_fraction_high": div.high,
                     "loss_spikes": spikes.mean, "loss_spikes_low": spikes.low, "loss_spikes_high": spikes.high,
                     "clipped_steps": _mean([r["metrics"]["clipped_fraction"] for r in group]),
                     "final_valid_loss": loss.mean, "final_valid_loss_low": loss.low,
                     "final_valid_loss_high": loss.high})
    return pd.DataFrame(rows)


def plot_clipping(records: list[dict], path: Path) -> Path:
    """Per architecture: training loss (top) and gradient norm (bottom) per replicate, one tone per threshold."""
    labels = sorted({r["label"] for r in records})
    fig, axes = plt.subplots(2, len(labels), squeeze=False, sharex=True, figsize=(5 * len(labels), 6), dpi=120)
    cmap = matplotlib.colormaps["plasma"]
    clips = sorted({r["metrics"]["clip"] for r in records}, key=lambda c: -_clip_key(c))
    for col, label in enumerate(labels):
        for k, clip in enumerate(clips):
            tone = "black" if clip is None else cmap(0.15 + 0.7 * k / max(1, len(clips) - 1))
            group = [r for r in records if r["label"] == label and r["metrics"]["clip"] == clip]
            first = True
            for rec in group:
                for rep in rec["metrics"]["replicas"]:
                    steps = [c["step"] for c in rep["curve"]]
                    name = f"{clip_name(clip)}" if first else None
                    axes[0][col].plot(steps, [c["train_loss"] for c in rep["curve"]], color=tone, alpha=0.6,
                                      linewidth=0.8, label=name)
                    axes[1][col].plot(steps, [c["grad_norm_max"] for c in rep["curve"]], color=tone, alpha=0.6,
                                      linewidth=0.8)
                    if rep.get("diverged", rep["status"] == "diverged") and steps:
                        axes[0][col].plot(steps[-1], rep["curve"][-1]["train_loss"], "x", color=tone)
                    first = False
            if clip is not None:
                axes[1][col].axhline(clip, color=tone, linestyle="--", linewidth=0.8)
        uniform = next((rep.get("uniform_loss") for r in records if r["label"] == label
                        for rep in r["metrics"]["replicas"]), None)
        if uniform:
            axes[0][col].axhline(uniform, color="grey", linestyle=":", linewidth=1, label="uniform guess ln|V|")
        axes[0][col].set_title(f"{label}: one line per training (× = diverged)", fontsize=9, color=colour(label))
        axes[0][col].set_ylabel("training loss (nats/token)")
        axes[1][col].set_ylabel("max ‖g‖ per logging window, before clipping\n(dashed: thresholds)")
        axes[1][col].set_yscale("log")
        axes[1][col].set_xlabel("optimiser step")
        axes[0][col].legend(fontsize=7)
        for ax in (axes[0][col], axes[1][col]):
            ax.grid(alpha=0.3)
    save(fig, path)
    return path


def clipping_claim(records: list[dict]) -> Claim:
    """Rule, per architecture whose unclipped runs diverge at all: the diverged fraction at the smallest
    threshold has a Wilson CI wholly below the unclipped one's. Reproduced if so for every such
    architecture; not reproduced if it lies wholly above for any; otherwise (or none diverges) inconclusive."""
    claim = Claim(
        id="clipping.divergence", statement="norm clipping reduces divergence",
        source="Pascanu, Mikolov & Bengio 2013 (lecture: if ‖g‖ ≥ threshold then g ← threshold/‖g‖ · g)",
        rule="diverged fraction (NaN/Inf, or held-out loss above the uniform guess ln|V|) over all replicate "
             "trainings, Wilson 95 % CI: for each architecture "
             "whose unclipped trainings diverge, reproduced if the smallest threshold's CI lies wholly below "
             "the unclipped CI (for all of them); not reproduced if wholly above for any; otherwise inconclusive",
        verdict=INCONCLUSIVE, evidence="")
    verdicts, evidence = {}, []
    for label, group in sorted(group_by(records, lambda r: r["label"]).items()):
        unclipped = [r for r in group if r["metrics"]["clip"] is None]
        clipped = [r for r in group if r["metrics"]["clip"] is not None]
        if not unclipped or not clipped:
            evidence.append(f"{label}: missing {'unclipped' if not unclipped else 'clipped'} runs")
            continue
        smallest = min(r["metrics"]["clip"] for r in clipped)
        a = diverged_interval(unclipped)
        b = diverged_interval([r for r in clipped if r["metrics"]["clip"] == smallest])
        evidence.append(f"{label}: no clipping {a.format()} vs clip {smallest:g} {b.format()} (Wilson, n={a.n}/{b.n})")
        if a.mean == 0:
            continue  # nothing to reduce: this architecture is not informative
        if b.high < a.low:
            verdicts[label] = REPRODUCED
        elif b.low > a.high:
            verdicts[label] = NOT_REPRODUCED
        else:
            verdicts[label] = INCONCLUSIVE
    claim.evidence = "; ".join(evidence) or "no runs"
    claim.details = {"verdicts": verdicts}
    if not verdicts:
        claim.why = "no architecture diverged without clipping (or runs are missing): nothing to reduce"
    elif any(v == NOT_REPRODUCED for v in verdicts.values()):
        claim.verdict = NOT_REPRODUCED
        claim.why = "clipping raised the diverged fraction with non-overlapping CIs"
    elif all(v == REPRODUCED for v in verdicts.values()):
        claim.verdict = REPRODUCED
    else:
        claim.why = "the Wilson CIs overlap for " + ", ".join(k for k, v in verdicts.items() if v == INCONCLUSIVE)
    return claim
