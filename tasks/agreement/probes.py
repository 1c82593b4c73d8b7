"""The agreement task's probes for models the suite did not train (`run_suite.py eval --probes` with external
models): its held-out minimal pairs, so their numbers sit beside the trained models' on the same items.

Judging side, like report.py: the framework imports this module only when it scores probes
(suite.evaluate.probes.load_probes); task.py never imports it, so it is no part of a run's code version.
"""
from __future__ import annotations

from suite.evaluate.probes import prepared_data, register_probes
from suite.evaluate.testsets import MinimalPair

from .task import LM_TASK


@register_probes(LM_TASK, kind=MinimalPair)
def held_out_pairs(seed: int, size: str = "quick") -> list[MinimalPair]:
    """The agreement LM task's held-out minimal pairs for a seed and preset size, as its runs are scored on."""
    return list(prepared_data(LM_TASK, seed, size).extra["probe_items"])
