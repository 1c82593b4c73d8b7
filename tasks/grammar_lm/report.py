"""grammar_lm's report: perplexity per model (mean and t-interval over seeds)."""
from __future__ import annotations

import pandas as pd

from suite.judge.task_report import TaskReport, register_report
from suite.judge.tables import summarise


@register_report
class GrammarReport(TaskReport):
    name = "grammar_lm"
    title = "Language modelling on the generated grammar"
    tasks = ("grammar_lm",)
    headline = ("test_ppl",)

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {"grammar_lm_perplexity": summarise(records, ["test_ppl", "valid_ppl", "unigram_ppl"])}
