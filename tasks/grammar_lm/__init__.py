"""grammar_lm: next-token perplexity on the suite's generated English-like corpus.

The shortest complete task package: `task.py` measures (options, sizes, data, metrics), `report.py`
judges (its table). Copy it to start a new task.
"""
from .task import GrammarLM  # noqa: F401
