"""A `--torch-model` factory: the protocol `run_suite.py eval` uses for a torch LM of your own.

    python run_suite.py eval --torch-model examples.torch_lm:build --testset FILE

`build()` returns a `suite.evaluate.external.TorchLM`: a causal model mapping ids [B, T] to logits [B, T, V]
(or a tuple whose first item is the logits), a function giving a word's ids ([] when the model
cannot spell it), and the id that starts every sequence. This example wraps a model the suite saved
(`--save-models`), named by $RECENCY_OUT (the --out folder) and $RECENCY_RUN (a run id), so its
scores can be checked against `eval` of the same run; swap in your own model and vocabulary.
"""
from __future__ import annotations

import os

from suite.run.checkpoints import load_saved_model
from suite.evaluate.external import TorchLM


def build() -> TorchLM:
    saved = load_saved_model(os.environ["RECENCY_OUT"], os.environ["RECENCY_RUN"])
    stoi = saved.vocab.stoi  # word-level: a word outside the vocabulary cannot be spelt

    def encode_word(word: str) -> list[int]:
        return [stoi[word]] if word in stoi else []

    return TorchLM(saved.model, encode_word, bos_id=saved.vocab.eos_id)
