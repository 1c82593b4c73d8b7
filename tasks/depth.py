"""Depth and skip connections: stacks of 1–8 layers without skips, with residual and with highway skips.

Each run trains a language model on the suite's generated corpus and records its final loss and the
gradient norm that reaches the first layer (‖∂L/∂θ‖ over the first layer's parameters, before
clipping, averaged over training), next to the last layer's for scale. The module also builds the
GRU-vs-LSTM cost table (parameters, tokens/s, perplexity at equal hidden size) from the records of
every language-model task, and states the two architecture claims.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, combine_verdicts, less_than
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data import StreamBatcher
from suite.models import ARCHITECTURES, build_model, count_parameters
from suite.plots import colour, new_figure, save
from suite.results import summarise
from suite.stats import Interval, bootstrap_ci, mean_ci
from suite.tasks import RunOutcome, Task, TaskData, TaskSettings, register_task
from suite.train import fit

from tasks.grammar_lm import grammar_streams

SKIP_STYLES = ("none", "residual", "highway")
# Depths per preset size, and the cell types that get the whole depth × skip grid at that size
# (None = every recurrent cell); other cells run at depth 1 only, as a reference point.
DEPTHS = {"smoke": (1, 2), "quick": (1, 4), "standard": (1, 2, 4, 8), "paper": (1, 2, 4, 8)}
GRID_ARCHS = {"smoke": None, "quick": ("lstm",), "standard": ("lstm",), "paper": ("lstm", "gru", "rnn_tanh")}
EARLY_FRACTION = 0.1  # "early" gradient norms: the first 10 % of steps, before the stack adapts


class LayerGradientMeter:
    """Records, at every backward pass, the gradient norm of the first and last layer's parameters."""

    def __init__(self, model: torch.nn.Module):
        self.squares: dict[str, list[list[float]]] = {}
        self.handles = []
        for name, layer in (("first", model.layers[0]), ("last", model.layers[-1])):
            params = [p for p in layer.parameters() if p.requires_grad]
            self.squares[name] = [[] for _ in params]
            for p, store in zip(params, self.squares[name]):
                # Fires once p.grad is complete for the step, before the trainer clips it.
                self.handles.append(p.register_post_accumulate_grad_hook(
                    lambda param, store=store: store.append(float(param.grad.pow(2).sum()))))

    def norms(self, name: str) -> list[float]:
        """Per-step gradient norm of a layer's parameters (all of them together)."""
        return [math.sqrt(sum(step)) for step in zip(*self.squares[name])]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def gradient_metrics(first: list[float], last: list[float]) -> dict[str, float]:
    """Mean first/last-layer norms, the early mean, and the geometric mean of the per-step ratio."""
    if not first:
        return {}
    early = first[:max(1, int(len(first) * EARLY_FRACTION))]
    logs = [math.log(f / l) for f, l in zip(first, last) if f > 0 and l > 0]
    return {"first_layer_grad_norm": sum(first) / len(first),
            "first_layer_grad_norm_early": sum(early) / len(early),
            "last_layer_grad_norm": sum(last) / len(last),
            "first_to_last_grad_ratio": math.exp(sum(logs) / len(logs)) if logs else math.nan}


@torch.no_grad()
def window_losses(model, batcher: StreamBatcher, device: str = "cpu") -> tuple[list[float], list[int]]:
    """Mean loss and token count of each (column, window) piece of a stream, state carried through:
    the items of a bootstrap CI over the test split."""
    was_training = model.training
    model.eval()
    state, means, sizes = None, [], []
    for batch in batcher.epoch():
        batch = batch.to(device)
        output, state = model(batch.inputs, state)
        loss = F.cross_entropy(output.transpose(1, 2), batch.targets, reduction="none")  # [B, T]
        means.extend(loss.mean(1).tolist())
        sizes.extend([loss.shape[1]] * loss.shape[0])
    model.train(was_training)
    return means, sizes


@register_task
class Depth(Task):
    name = "depth"
    description = ("stacks of 1–8 layers, no skips vs residual vs highway: final loss and the gradient "
                   "norm reaching the first layer (grammar corpus)")
    objective = "lm"
    headline = ("test_ppl",)
    default_options = {"train_sentences": 10000, "eval_sentences": 1000, "max_modifiers": 3}

    def settings(self, size: str) -> TaskSettings:
        steps = {"smoke": 20, "quick": 300, "standard": 800, "paper": 3000}[size]
        hidden = {"smoke": 16, "quick": 64, "standard": 64, "paper": 128}[size]
        sentences = {"smoke": 500, "quick": 8000, "standard": 20000, "paper": 50000}[size]
        held_out = {"smoke": 200, "quick": 800, "standard": 1000, "paper": 2000}[size]
        return TaskSettings(
            train=TrainConfig(steps=steps, batch_size=16, bptt=32, lr=3e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, steps // 5)),
            model={"hidden": hidden},
            options={"train_sentences": sentences, "eval_sentences": held_out})

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """The depth × skip grid for each single-layer recurrent cell of the size's grid list; other
        cells run at depth 1 only, and stacks the preset (or command line) names run as they are."""
        arch = ARCHITECTURES.get(model.arch)
        grid = GRID_ARCHS[size]
        in_grid = grid is None or model.arch in grid
        if arch is None or not arch.recurrent or model.layers != 1 or model.skip != "none" or not in_grid:
            return [{}]  # a stack asked for by name runs as given; a grid point listed twice runs once
        return [{"model": {"layers": d, "skip": s}}
                for d in DEPTHS[size] for s in (("none",) if d == 1 else SKIP_STYLES)]

    def skip_reason(self, cfg: RunConfig) -> str | None:
        if not ARCHITECTURES[cfg.model.arch].recurrent:
            return f"the depth task stacks recurrent layers; '{cfg.model.arch}' is not recurrent"
        return None

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        for key in ("train_sentences", "eval_sentences"):
            if not isinstance(opts[key], int) or opts[key] < 1:
                raise ConfigError(f"option {key} must be a positive integer (got {opts[key]!r})")
        reason = self.skip_reason(cfg)
        if reason:
            raise ConfigError(reason)

    def prepare(self, cfg: RunConfig) -> TaskData:
        vocab, streams = grammar_streams({**self.default_options, **cfg.options}, cfg.seed)
        bs, bptt = cfg.train.batch_size, cfg.train.bptt
        return TaskData(train=StreamBatcher(streams["train"], bs, bptt),
                        valid=StreamBatcher(streams["valid"], bs, bptt), vocab=vocab,
                        extra={"test": StreamBatcher(streams["test"], bs, bptt)})

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        """Train with gradient meters on the first and last layer, then evaluate."""
        data = self.prepare(cfg)
        model = build_model(cfg.model, len(data.vocab), self.objective).to(cfg.device)
        meter = LayerGradientMeter(model)
        training = fit(model, data.train, data.valid, cfg.train, seed=cfg.seed, device=cfg.device,
                       progress=progress)
        meter.remove()
        metrics = {}
        if training.status == "ok":
            metrics = self.evaluate(model, data, cfg)
            metrics["final_train_loss"] = training.final_train_loss
            metrics.update(gradient_metrics(meter.norms("first"), meter.norms("last")))
        return RunOutcome(training, metrics, count_parameters(model), model=model, vocab=data.vocab)

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        items, sizes = window_losses(model, data.extra["test"], cfg.device)
        test_loss = sum(m * n for m, n in zip(items, sizes)) / sum(sizes)  # per token, like the trainer
        return {"test_loss": test_loss, "test_ppl": math.exp(test_loss), "test_window_losses": items}

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        tables = {}
        mine = [r for r in records if r["config"]["task"] == self.name]
        if mine:
            tables["depth_skip"] = summarise(
                mine, ["test_loss", "final_train_loss", "first_layer_grad_norm", "first_layer_grad_norm_early",
                       "first_to_last_grad_ratio"], by=("arch", "layers", "skip"))
            tables["depth_by_skip_test_loss"] = depth_by_skip(mine, "test_loss")
        cost = cost_table(records)
        if not cost.empty:
            tables["gru_vs_lstm_cost"] = cost
        return tables

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        if not mine:
            return []
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return [plot_by_depth(mine, "test_loss", "test loss (nats per token)", out_dir / "depth_test_loss.png"),
                plot_by_depth(mine, "first_layer_grad_norm", "first-layer gradient norm (mean over steps)",
                              out_dir / "depth_first_layer_grad.png", log=True)]

    def claims(self, records: list[dict]) -> list[Claim]:
        mine = [r for r in records if r["config"]["task"] == self.name and r["status"] == "ok"]
        return [skip_claim(mine), gru_lstm_claim(records)]


# --------------------------------------------------------------------------- depth tables and plots


def _group(records: list[dict], key) -> dict:
    groups = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return groups


def _depth_key(r: dict) -> tuple[str, int, str]:
    m = r["config"]["model"]
    return m["arch"], m["layers"], m["skip"] if m["layers"] > 1 else "none"


def loss_interval(records: list[dict], metric: str = "test_loss") -> Interval:
    """95 % t-interval over seeds; with one seed, a bootstrap over test windows (marked 'bootstrap')."""
    ok = [r for r in records if r["status"] == "ok" and metric in (r.get("metrics") or {})]
    if len(ok) == 1 and metric == "test_loss" and ok[0]["metrics"].get("test_window_losses"):
        return bootstrap_ci(ok[0]["metrics"]["test_window_losses"], seed=0)
    return mean_ci([r["metrics"][metric] for r in ok])


def depth_by_skip(records: list[dict], metric: str) -> pd.DataFrame:
    """Rows (arch, depth), one column per skip style: the depth × skip table of one metric."""
    groups = _group([r for r in records if r["status"] == "ok"], _depth_key)
    rows = []
    for arch, layers in sorted({(a, n) for a, n, _ in groups}):
        row = {"arch": arch, "layers": layers}
        for skip in SKIP_STYLES:
            ci = loss_interval(groups.get((arch, layers, skip), []), metric)
            row[skip], row[f"{skip}_low"], row[f"{skip}_high"] = ci.mean, ci.low, ci.high
        rows.append(row)
    return pd.DataFrame(rows)


def plot_by_depth(records: list[dict], metric: str, ylabel: str, path: Path, log: bool = False) -> Path:
    """Metric against depth: colour per cell type, dash per skip style, 95 % band (t over seeds; for
    test loss with one seed, bootstrap over test windows)."""
    fig, ax = new_figure()
    dashes = {"none": "-", "residual": "-.", "highway": ":"}
    groups = _group(records, _depth_key)
    for arch in sorted({a for a, _, _ in groups}):
        for skip in SKIP_STYLES:
            points = sorted((n, loss_interval(g, metric))
                            for (a, n, s), g in groups.items() if a == arch and (s == skip or n == 1))
            if len(points) < 2:
                continue
            xs = [n for n, _ in points]
            ax.plot(xs, [ci.mean for _, ci in points], dashes[skip], marker="o", color=colour(arch),
                    label=f"{arch} {skip}")
            if all(not math.isnan(ci.low) for _, ci in points):
                ax.fill_between(xs, [ci.low for _, ci in points], [ci.high for _, ci in points],
                                color=colour(arch), alpha=0.15)
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
    """At the deepest depth (≥ 4) run with and without skips: residual test loss below no-skip."""
    groups = _group(records, _depth_key)
    parts, evidence, whys = [], [], []
    for arch in sorted({a for a, _, _ in groups}):
        depths = [n for (a, n, s) in groups if a == arch and s == "residual" and n >= 4
                  and (a, n, "none") in groups]
        if not depths:
            continue
        depth = max(depths)
        plain, res = loss_interval(groups[(arch, depth, "none")]), loss_interval(groups[(arch, depth, "residual")])
        verdict, why = less_than(res, plain)
        parts.append(verdict)
        line = f"{arch}×{depth}: residual {res.format()} vs none {plain.format()} test loss ({res.method})"
        if (arch, depth, "highway") in groups:
            line += f", highway {loss_interval(groups[(arch, depth, 'highway')]).format()}"
        evidence.append(line)
        if why:
            whys.append(f"{arch}×{depth}: {why}")
    if not parts:
        whys.append("missing runs: no depth ≥ 4 stack with both skip='none' and skip='residual'")
    verdict = combine_verdicts(parts)
    return Claim(
        id="depth.skip_connections", statement="deep stacks train better with skip connections",
        source="lecture: high-performing RNNs are stacked 2–4 layers; deeper stacks need skip connections",
        rule="for each cell type, at the deepest depth ≥ 4 run both ways, the residual stack's test loss has a "
             "95 % interval wholly below the stack without skips (t over seeds; bootstrap over test windows "
             "with 1 seed); all cell types → reproduced, any wholly above → not reproduced",
        verdict=verdict, evidence="; ".join(evidence) or "–",
        why="" if verdict == REPRODUCED else "; ".join(whys))


# --------------------------------------------------------------------------- GRU vs LSTM cost


def lm_records(records: list[dict]) -> list[dict]:
    """Single-layer, unidirectional, finished language-model runs of any task (they report test_ppl)."""
    return [r for r in records if r["status"] == "ok" and "test_ppl" in (r.get("metrics") or {})
            and r["config"]["model"]["layers"] == 1 and not r["config"]["model"]["bidirectional"]]


def _cost_key(r: dict) -> tuple[str, int]:
    return r["config"]["task"], r["config"]["model"]["hidden"]


def cost_table(records: list[dict]) -> pd.DataFrame:
    """Per LM task and hidden size, each architecture's parameters, tokens/s and test perplexity."""
    rows = []
    for (task, hidden), group in sorted(_group(lm_records(records), _cost_key).items()):
        table = summarise(group, ["parameters", "tokens_per_second", "test_ppl"], by=("arch",))
        table = table.drop(columns=["parameters_low", "parameters_high"])  # the same for every seed
        table["parameters"] = table["parameters"].round().astype("Int64")  # missing when no run counted them
        table.insert(0, "hidden", hidden)
        table.insert(0, "task", task)
        rows.append(table)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def gru_lstm_claim(records: list[dict]) -> Claim:
    """Parameters (exact), tokens/s and perplexity (intervals) of GRU vs LSTM at each shared size."""
    groups = _group(lm_records(records), lambda r: (*_cost_key(r), r["config"]["model"]["arch"]))
    sizes = sorted({(t, h) for t, h, a in groups if (t, h, "gru") in groups and (t, h, "lstm") in groups})
    parts, evidence, whys, gaps = [], [], [], []
    for task, hidden in sizes:
        gru, lstm = groups[(task, hidden, "gru")], groups[(task, hidden, "lstm")]
        p_gru, p_lstm = gru[0]["parameters"], lstm[0]["parameters"]
        parts.append(REPRODUCED if p_gru < p_lstm else NOT_REPRODUCED)
        if p_gru >= p_lstm:
            whys.append(f"{task}/{hidden}: GRU has {p_gru} parameters, LSTM {p_lstm}")
        speed = [mean_ci([r["tokens_per_second"] for r in g]) for g in (lstm, gru)]
        verdict, why = less_than(*speed)  # LSTM's tokens/s below GRU's
        parts.append(verdict)
        if why:
            whys.append(f"{task}/{hidden} tokens/s: {why}")
        ppl = [mean_ci([r["metrics"]["test_ppl"] for r in g]) for g in (gru, lstm)]
        if min(ppl[0].n, ppl[1].n) < 2:
            parts.append(INCONCLUSIVE)
            whys.append(f"{task}/{hidden} perplexity: fewer than 2 seeds")
        else:
            gaps.append(0 if ppl[0].overlaps(ppl[1]) else (1 if ppl[0].mean < ppl[1].mean else -1))
        evidence.append(f"{task}/h={hidden}: params GRU {p_gru:,} vs LSTM {p_lstm:,}; tokens/s GRU "
                        f"{speed[1].format()} vs LSTM {speed[0].format()}; test ppl GRU {ppl[0].format()} "
                        f"vs LSTM {ppl[1].format()}")
    if gaps:
        # A consistent gap: every comparison separates the CIs, all in the same direction.
        consistent = all(g == gaps[0] != 0 for g in gaps)
        parts.append(NOT_REPRODUCED if consistent else REPRODUCED)
        if consistent:
            better = "GRU" if gaps[0] > 0 else "LSTM"
            whys.append(f"{better} has lower perplexity in every comparison, with non-overlapping 95 % CIs")
    if not sizes:
        whys.append("missing runs: no language-model task ran both gru and lstm at the same hidden size")
    verdict = combine_verdicts(parts)
    return Claim(
        id="architecture.gru_vs_lstm",
        statement="GRU has fewer parameters and runs faster than LSTM at equal size, with no consistent "
                  "quality gap",
        source="lecture (Chung et al. 2014; Jozefowicz et al. 2015)",
        rule="at every (LM task, hidden size) where both ran single-layer: GRU parameters < LSTM parameters; "
             "GRU tokens/s 95 % interval wholly above LSTM's; and the test-perplexity intervals are not "
             "separated in the same direction in every comparison; any part failing → not reproduced, "
             "fewer than 2 seeds or overlapping speed intervals → inconclusive",
        verdict=verdict, evidence="; ".join(evidence) or "–",
        why="" if verdict == REPRODUCED else "; ".join(whys))
