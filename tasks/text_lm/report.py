"""text_lm's report: perplexity per corpus and tokenizer (each seed's learning rate chosen on validation
perplexity; geometric mean over seeds), the tuning grid, time to a common target, validation curves, and
subject–verb agreement on BLiMP and the test text beside baselines and published figures (agreement_report).
Its claim (rules.py): a two-layer LSTM beats a one-layer one; the GRU-vs-LSTM quality claim reads these runs too."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.judge.analysis import chosen_runs, group_by, label, metric, option, seed, train_field
from suite.judge.task_report import TaskReport, register_report
from suite.judge.plots import colour, line_style, new_figure, save
from suite.judge.tables import summarise

from .agreement_report import agreement_table, data_size_table
from .rules import layers_claim

TABLE_METRICS = ("valid_ppl", "test_ppl", "valid_ppl_word", "test_ppl_word", "parameters",
                 "tokens_per_second", "wall_seconds", "seconds_to_common_target", "unigram_ppl")


@register_report
class TextLMReport(TaskReport):
    name = "text_lm"
    title = "Language modelling on natural text"
    tasks = ("text_lm",)
    headline = ("test_ppl_word",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        frames = []
        for key, group in corpus_groups(chosen_runs(records)).items():
            table = summarise(with_common_target(group), list(TABLE_METRICS))
            if table.empty:
                continue
            table.insert(0, "corpus", key[0])
            table.insert(1, "tokenizer", f"{key[1]} ({key[2] or 'all'})")
            frames.append(table)
        tables = {"text_lm_perplexity": pd.concat(frames, ignore_index=True)} if frames else {}
        tuning = tuning_table(records)
        if not tuning.empty:
            tables["text_lm_tuning"] = tuning
        # Natural-text agreement (records' `agreement` field): accuracy beside n-gram baselines and the
        # published figures, and the data-size caveat in tokens
        for name, table in (("text_lm_agreement", agreement_table(records)),
                            ("text_lm_agreement_data_size", data_size_table(records))):
            if not table.empty:
                tables[name] = table
        return tables

    def claims(self, records: list[dict]):
        return [layers_claim(records)]

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        paths = []
        for n, (key, group) in enumerate(corpus_groups(chosen_runs(records)).items()):
            path = plot_curves(group, key, Path(out_dir) / f"text_lm_curves_{n}.png")
            if path:
                paths.append(path)
        return paths


def tuning_table(records: list[dict]) -> pd.DataFrame:
    """Per corpus, tokenizer, model and seed: the validation perplexity at each learning rate of the grid and the one
    chosen (every table and claim reads only the chosen run)."""
    chosen = {r["run_id"] for r in chosen_runs(records)}
    rows: dict[tuple, dict] = {}
    for r in records:
        key = (str(option(r, "corpus")), f"{option(r, 'tokenizer')} ({option(r, 'vocab_size') or 'all'})", label(r),
               seed(r))
        row = rows.setdefault(key, dict(zip(("corpus", "tokenizer", "model", "seed"), key)))
        row[f"valid_ppl at lr {train_field(r, 'lr'):g}"] = metric(r, "valid_ppl") if r.get("status") == "ok" \
            else r.get("status")
        if r["run_id"] in chosen:
            row["chosen_lr"] = train_field(r, "lr")
    table = pd.DataFrame(list(rows.values()))
    points = sorted((c for c in table.columns if c.startswith("valid_ppl at")), key=lambda c: -float(c.split()[-1]))
    if len(points) < 2:  # no grid was swept
        return pd.DataFrame()
    return table[["corpus", "tokenizer", "model", "seed", *points, "chosen_lr"]]


def corpus_groups(records: list[dict]) -> dict[tuple, list[dict]]:
    """Records split by (corpus, tokenizer, vocab size, train slice): only these compare."""
    return group_by(records, lambda r: (str(option(r, "corpus")), option(r, "tokenizer"), option(r, "vocab_size"),
                                        option(r, "max_train_words")))


def validation_curve(record: dict) -> list[tuple[float, float]]:
    """(training seconds, validation perplexity per token) points of a run."""
    training = record.get("training") or {}
    steps, seconds = training.get("steps") or 0, training.get("train_seconds") or 0.0
    return [(p["step"] * seconds / max(steps, 1), math.exp(p["valid_loss"]))
            for p in training.get("curve", []) if "valid_loss" in p and math.isfinite(p["valid_loss"])]


def with_common_target(group: list[dict]) -> list[dict]:
    """Copies of the records with `seconds_to_common_target`: time until the validation perplexity
    that the weakest finished run ends at (its best), so every finished run reaches it."""
    best = [min(ppl for _, ppl in validation_curve(r)) for r in group
            if r.get("status") == "ok" and validation_curve(r)]
    if not best:
        return group
    target = max(best)
    out = []
    for r in group:
        reached = next((t for t, ppl in validation_curve(r) if ppl <= target), None)
        metrics = {**(r.get("metrics") or {}), "common_target_ppl": target, "seconds_to_common_target": reached}
        out.append({**r, "metrics": metrics})
    return out


def plot_curves(group: list[dict], key: tuple, path: Path) -> Path | None:
    """Validation perplexity against training time, one line per run of one corpus group."""
    curves = [(r, validation_curve(r)) for r in group]
    curves = [(r, c) for r, c in curves if c]
    if not curves:
        return None
    fig, ax = new_figure()
    for r, curve in curves:
        ax.plot(*zip(*curve), color=colour(label(r)), linestyle=line_style(label(r)),
                label=f"{label(r)} (seed {seed(r)})")
    ax.set_yscale("log")
    ax.set_xlabel("training time (s, excluding validation)")
    ax.set_ylabel("validation perplexity per token (in training)")
    ax.set_title(f"{Path(key[0]).name or key[0]}, {key[1]} tokens", fontsize=9)
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return path
