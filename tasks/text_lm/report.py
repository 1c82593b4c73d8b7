"""text_lm's report: perplexity per corpus and tokenizer (t over seeds), time to a common target, and
validation curves. It states no claim of its own; the GRU-vs-LSTM quality claim reads these runs."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.analysis import group_by, label, option, seed
from suite.judging import TaskReport, register_report
from suite.plots import colour, line_style, new_figure, save
from suite.results import summarise

TABLE_METRICS = ("valid_ppl", "test_ppl", "valid_ppl_word", "test_ppl_word", "parameters",
                 "tokens_per_second", "wall_seconds", "seconds_to_common_target", "unigram_ppl")


@register_report
class TextLMReport(TaskReport):
    name = "text_lm"
    title = "Language modelling on natural text"
    tasks = ("text_lm",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        frames = []
        for key, group in corpus_groups(records).items():
            table = summarise(with_common_target(group), list(TABLE_METRICS))
            if table.empty:
                continue
            table.insert(0, "corpus", key[0])
            table.insert(1, "tokenizer", f"{key[1]} ({key[2] or 'all'})")
            frames.append(table)
        return {"text_lm_perplexity": pd.concat(frames, ignore_index=True)} if frames else {}

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        paths = []
        for n, (key, group) in enumerate(corpus_groups(records).items()):
            path = plot_curves(group, key, Path(out_dir) / f"text_lm_curves_{n}.png")
            if path:
                paths.append(path)
        return paths


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
