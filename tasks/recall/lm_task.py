"""The 'tickets' example as the lecture poses it: a plain language model, scored on the recalled key.

`recall` trains on the recalled key only (loss_on="key"), which makes the dependency the whole training
signal; that is what lets its claims compare how far each cell remembers. The lecture's example is a language
model: "she tried to print her tickets … she finally printed her ___" is one position among every position of
the text it is trained on. This task trains on the same stories with the loss on every token (loss_on="all"),
under recall's step budget, and scores the same key at the same distances, so the report can say whether the
language-model objective finds the dependency under that budget. It judges no claim: it is measured and shown.

One grid point per architecture — recall's learning rate 3e-3 with its family's first initialisation (for a
cell without an initialisation axis, lr 3e-3 alone) — the same for every architecture. recall's full grid
would cost four times as much (at standard 16 runs a seed, about 16 run-minutes) for a variant no claim reads.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from suite.core.config import ModelConfig
from suite.task import TaskSettings, by_size, register_task

from .task import Recall, tuning_grid

LM_TASK = "recall_lm"
LEARNING_RATE = 3e-3


@register_task
class RecallLM(Recall):
    name = LM_TASK
    description = "the 'tickets' stories trained as a plain language model (loss on every token), key recall scored"
    tuning = ()
    # Seeds per size: one in the pilot (standard), which plans nothing for this task (no claim reads it);
    # the confirmatory run registers its own (preregistration/confirm.json).
    SEEDS = (1, 1, 1, 3)

    def seed_count(self, size: str) -> int:
        """Run as seeds 0…n−1 instead of the preset's seed list."""
        return by_size(size, seeds=self.SEEDS)["seeds"]

    def settings(self, size: str) -> TaskSettings:
        settings = super().settings(size)
        return dataclasses.replace(settings, options={**settings.options, "loss_on": "all"})

    def variants(self, model: ModelConfig, size: str) -> list[dict[str, dict[str, Any]]]:
        """One point of recall's grid (single-layer models only at standard and paper, as recall)."""
        if size in ("standard", "paper") and model.layers > 1:
            return []
        point = next(p for p in tuning_grid(model, size) if p["train"]["lr"] == LEARNING_RATE)
        return [point]
