"""text_lm: language modelling on natural text (perplexity per token and per word).

`task.py` measures (options, recipe per cell family, corpus and tokenizer, perplexities); `report.py`
tabulates and plots. Published minimal-pair sets are scored apart from training, by `run_suite.py eval`.
"""
from .task import (TextLM, TextLMOptions, first_words, init_output_layers, per_word_loss,  # noqa: F401
                   time_to_target)
