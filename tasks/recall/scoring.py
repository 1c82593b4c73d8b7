"""Scoring a trained language model on recall stories: per-distance accuracy among the K items.

These are measurements only (counts and means per distance). What they mean — whether a model learnt
the task, its memory span, which tuning point wins — is decided by the report (outcomes.py).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from suite.data.batches import IGNORE, Example, Vocab, lm_example
from suite.models.scoring import next_token_logprobs

from .stories import Story


def distance_rows(model: nn.Module, stories_by_distance: dict[int, list[Story]], vocab: Vocab,
                  items: Sequence[str], trained_max: int, device: str = "cpu") -> list[dict[str, Any]]:
    """One row per distance: correct choices among the K items, mean key log-probability, and how
    often a story with a distractor got its most recent distractor instead of the key."""
    item_ids = torch.tensor(vocab.encode(items))
    rows = []
    for d, stories in sorted(stories_by_distance.items()):
        prefixes = [[vocab.eos_id, *vocab.encode(s.prefix)] for s in stories]
        logp = next_token_logprobs(model, prefixes, device)
        chosen = [items[i] for i in logp[:, item_ids].argmax(1).tolist()]
        key_logp = logp[torch.arange(len(stories)), torch.tensor(vocab.encode([s.key for s in stories]))]
        recency = [c == s.distractors[-1] for s, c in zip(stories, chosen) if s.distractors]
        rows.append(distance_row(d, trained_max, [c == s.key for s, c in zip(stories, chosen)],
                                 key_logp.tolist(), recency))
    return rows


def distance_row(d: int, trained_max: int, correct: Sequence[bool], key_logprobs: Sequence[float],
                 recency: Sequence[bool]) -> dict[str, Any]:
    n = len(correct)
    return {"d": d, "extrapolation": d > trained_max, "n": n, "correct": int(sum(correct)),
            "accuracy": sum(correct) / n, "key_logprob": sum(key_logprobs) / n,
            "recency_n": len(recency), "recency_choices": int(sum(recency)),
            "recency_rate": sum(recency) / len(recency) if recency else math.nan}


def recall_metrics(test_rows: list[dict[str, Any]], valid_rows: list[dict[str, Any]], num_items: int,
                   trained_max: int) -> dict[str, Any]:
    """The run's metrics: test rows (judged), validation rows (used only to choose a tuning point),
    and flat per-distance scalars so generic summaries can average them across seeds."""
    metrics: dict[str, Any] = {
        "chance": 1 / num_items, "num_items": num_items, "trained_max_distance": trained_max,
        "by_distance": test_rows, "valid_by_distance": valid_rows,
        "mean_accuracy": sum(r["accuracy"] for r in test_rows) / len(test_rows),
        # The tuning score: mean validation accuracy over the validation distances, validation key
        # log-probability to break ties (several grid points of a gated cell often reach 1.0).
        "valid_accuracy": sum(r["accuracy"] for r in valid_rows) / len(valid_rows),
        "valid_key_logprob": sum(r["key_logprob"] for r in valid_rows) / len(valid_rows)}
    for row in test_rows:
        metrics[f"accuracy@{row['d']}"] = row["accuracy"]
        metrics[f"key_logprob@{row['d']}"] = row["key_logprob"]
        metrics[f"recency_rate@{row['d']}"] = row["recency_rate"]
    return metrics


def story_example(story: Story, vocab: Vocab, loss_on: str = "all") -> Example:
    """The story as one LM sequence from a fresh state (<eos> opens and closes it); with
    loss_on="key" only the recalled key is a target."""
    example = lm_example([vocab.eos_id, *vocab.encode(story.tokens), vocab.eos_id])
    if loss_on == "key":
        key_at = len(story.prefix)  # target index of the recalled key (inputs start with <eos>)
        example.target = [t if i == key_at else IGNORE for i, t in enumerate(example.target)]
    return example
