"""The recall task's probes for models the suite did not train (`run_suite.py eval --probes` with external
models): its test stories as K-way choices among the task's key items.

Judging side, like report.py: the framework imports this module only when it scores probes
(suite.evaluate.probes.load_probes); task.py never imports it, so it is no part of a run's code version.
"""
from __future__ import annotations

from suite.data.batches import EOS
from suite.evaluate.probes import Choice, prepared_data, register_probes

from .task import Recall


@register_probes(Recall.name, kind=Choice)
def story_choices(seed: int, size: str = "quick") -> list[Choice]:
    """The test stories for a seed and preset size as choices among the key items, with the same prefix (after
    a sentence start) the task's runs are scored on; `distance` is the story's d."""
    data = prepared_data(Recall.name, seed, size)
    items = tuple(data.extra["items"])
    return [Choice((EOS, *story.prefix), items, items.index(story.key), f"recall d={d}", d)
            for d, stories in sorted(data.extra["test"].items()) for story in stories]
