"""Subject–verb agreement (Linzen, Dupoux & Goldberg 2016): syntactic vs sequential recency, measured.

`agreement` trains a language model on the seeded grammar and compares log P(correct verb | prefix) with
log P(wrong verb | prefix) on held-out probe frames; `agreement_number` trains each architecture as a
classifier of the upcoming verb's number on the same prefixes. Both write one row per probed item into
the run record (`items`), from which the report judges every claim.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch

from suite.core.config import ModelConfig, RunConfig, TrainConfig, option
from suite.data.batches import SentenceBatcher, collate
from suite.core.options import TaskOptions
from suite.task import Task, TaskData, TaskSettings, by_size, parameter_twin, register_task
from suite.evaluate.testsets import score_pairs

from .items import CorpusSpec, build_vocab, cell_counts, lm_examples, make_corpus, number_examples, to_item
from .metrics import item_table, summary_metrics, to_record

LM_TASK, NUMBER_TASK = "agreement", "agreement_number"
# The GRU's hidden size at which it has the LSTM's parameter count (a GRU of the same hidden size has a quarter
# fewer recurrent weights), for architecture.gru_lstm_quality. Found by building both models over the task's
# 385-word vocabulary (the lexicon's, the same at every data size): standard h=128 LSTM 231,041 parameters,
# GRU h=142 231,561 (+0.2 %); paper h=256 723,841 against h=289 (+0.3 %). tests/test_agreement.py rebuilds both.
GRU_AT_LSTM_PARAMETERS = {"standard": 142, "paper": 289}


@dataclass(frozen=True)
class AgreementOptions(TaskOptions):
    train_sentences: int = option(20000, low=100, help="generated training sentences")
    valid_sentences: int = option(500, low=1, help="generated validation sentences (loss only)")
    items_per_cell: int = option(100, low=1, help="probe frames per intervening-noun count; each frame "
                                                  "gives one item per attractor count 0…n")
    max_intervening: int = option(4, low=1, high=5, help="most nouns between subject and verb")
    modifier_prob: float = option(0.35, low=0, high=1, low_open=True, high_open=True,
                                  help="training: probability of each further modifier (one noun each)")
    heldout_fraction: float = option(0.2, low=0, high=0.5, low_open=True, high_open=True,
                                     help="share of noun–verb pairs kept out of training for test subjects")
    nonce: bool = option(False, help="replace the probes' content words at random (Gulordava et al. 2018)")


class _Agreement(Task):
    Options = AgreementOptions
    numeric_metrics = ("error_rate", "error_attractors", "error_top_cell")

    # Calibrated on validation probes (never test items), one seed, 1 thread, max_intervening 4: at 1200 steps
    # the LMs' top-cell error was lstm 35 %, gru 15 %, rnn_tanh 26 % (at 1500 steps with 3 intervening nouns
    # lstm fell to 8 %, gru 6 %; at 900 lstm stayed at the nearest-noun heuristic, 64 %). At quick (10,000
    # sentences) hidden 64 stayed near the nearest-noun heuristic (lstm 61 % vs 67 % on attractor items);
    # hidden 128 and 1000 steps gave lstm 22 %, rnn_tanh 52 %.
    # Both objectives share one cap on steps and stop early on their own validation loss (the claim compares
    # objectives, so neither may be handicapped by its budget): until round 3 the classifier trained a fixed
    # 200 steps against the LM's 1,200, which made a vanilla RNN's reversal a budget artefact. Validation
    # every twentieth of the cap, patience 3 (a fifth of the LM's cosine schedule would be too coarse to see
    # the classifier, which made no validation error after ~300 steps in calibration, stop).
    STEPS = (30, 1000, 1200, 5000)
    EVALUATIONS, PATIENCE = 20, 3

    def settings(self, size: str) -> TaskSettings:
        s = by_size(size, steps=self.STEPS, hidden=(32, 128, 128, 256), sentences=(1500, 10000, 20000, 100000),
                    items=(6, 40, 100, 200))
        return TaskSettings(
            train=TrainConfig(steps=s["steps"], batch_size=64, lr=3e-3, clip=1.0, schedule="cosine",
                              eval_every=max(1, s["steps"] // self.EVALUATIONS), patience=self.PATIENCE),
            model={"hidden": s["hidden"]},
            options={"train_sentences": s["sentences"], "items_per_cell": s["items"]})

    # Seeds per architecture at each size. At standard (the pilot) as many as the registered confirmatory run
    # has (preregistration/confirm.json): they measure the between-seed SDs the power plan uses (with its
    # planning margin); the ten the LM pilot had before cost 16 run-minutes more, and the classifier's five
    # 2.4 more than its three.
    SEEDS = (1, 1, 5, 10)

    def seed_count(self, size: str) -> int:
        """Run as seeds 0…n−1 instead of the preset's seed list."""
        return by_size(size, seeds=self.SEEDS)["seeds"]

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        """At standard and paper only the single-layer models the claims compare run; there the
        language model's GRU also runs at the LSTM's parameter count (labelled gru≈lstm, so that no claim but
        architecture.gru_lstm_quality reads it)."""
        if size in ("standard", "paper") and model.layers > 1:
            return []
        twin = parameter_twin(model, self.settings(size).model["hidden"], GRU_AT_LSTM_PARAMETERS.get(size))
        return [{}, {"model": twin}] if twin and self.objective == "lm" else [{}]

    def corpus(self, cfg: RunConfig):
        opts = self.options(cfg)
        spec = CorpusSpec(opts.train_sentences, opts.valid_sentences, opts.items_per_cell, opts.max_intervening,
                          opts.modifier_prob, opts.heldout_fraction, opts.nonce)
        corpus = make_corpus(cfg.seed, spec)
        vocab = build_vocab(corpus.train)
        form_counts = Counter(t for s in corpus.train for t in s.tokens)
        return corpus, vocab, form_counts

    def data(self, cfg: RunConfig, examples) -> TaskData:
        corpus, vocab, form_counts = self.corpus(cfg)
        bs = cfg.train.batch_size
        return TaskData(
            train=SentenceBatcher(examples(corpus.train, vocab), bs, vocab.pad_id),
            valid=SentenceBatcher(examples(corpus.valid, vocab), bs, vocab.pad_id, shuffle=False),
            vocab=vocab, num_outputs=None if self.objective == "lm" else 2,
            extra={"corpus": corpus, "form_counts": form_counts,
                   "probe_items": [to_item(s) for s in corpus.test],  # what `eval` scores external models on
                   "cells": {"train": cell_counts(corpus.train), "test": cell_counts(corpus.test)}})

    def score(self, model, data: TaskData, sentences, cfg: RunConfig) -> tuple[list[bool], list[float]]:
        raise NotImplementedError

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        corpus = data.extra["corpus"]
        correct, margins = self.score(model, data, corpus.test, cfg)
        # the heuristics' columns depend only on the items, the same for both objectives: the LM records hold them
        heuristics = data.extra["form_counts"] if self.objective == "lm" else None
        table = item_table(data.extra["probe_items"], correct, margins, heuristics, corpus.frames)
        v_correct, v_margins = self.score(model, data, corpus.valid_probes, cfg)
        valid = item_table([to_item(s) for s in corpus.valid_probes], v_correct, v_margins)
        data.extra["items"] = to_record(table)
        return {**summary_metrics(table), **summary_metrics(valid, "valid_probe_")}

    def record_extra(self, data: TaskData, cfg: RunConfig) -> dict[str, Any]:
        """The item rows (only when the run was evaluated) and the attractor cells of training and test."""
        extra: dict[str, Any] = {"agreement_cells": data.extra["cells"]}
        if "items" in data.extra:
            extra["items"] = data.extra["items"]
        return extra


@register_task
class Agreement(_Agreement):
    name = LM_TASK
    description = "subject–verb agreement probes of a language model: attractors, sequential recency"
    objective = "lm"

    def prepare(self, cfg: RunConfig) -> TaskData:
        return self.data(cfg, lm_examples)

    def score(self, model, data: TaskData, sentences, cfg: RunConfig) -> tuple[list[bool], list[float]]:
        scored = score_pairs(model, [to_item(s) for s in sentences], data.vocab, cfg.device)
        if scored.unrepresentable:  # the vocabulary holds the whole lexicon: this would be a bug
            raise RuntimeError(f"{len(scored.unrepresentable)} generated items use words outside the vocabulary")
        return scored.correct, scored.margins


@register_task
class AgreementNumber(_Agreement):
    name = NUMBER_TASK
    description = "number prediction (Linzen et al. 2016): classify the upcoming verb's number from its prefix"
    objective = "classify"
    SEEDS = (1, 1, 3, 10)

    def prepare(self, cfg: RunConfig) -> TaskData:
        return self.data(cfg, number_examples)

    @torch.no_grad()
    def score(self, model, data: TaskData, sentences, cfg: RunConfig) -> tuple[list[bool], list[float]]:
        """Correct when the predicted class is the subject's number; margin = logit(right) − logit(wrong)."""
        model.eval()
        examples = number_examples(sentences, data.vocab)
        margins: list[float] = []
        for start in range(0, len(examples), 256):
            chunk = examples[start:start + 256]
            batch = collate(chunk, data.vocab.pad_id).to(cfg.device)
            logits, _ = model(batch.inputs, None, batch.lengths)
            sign = torch.tensor([1.0 if e.target else -1.0 for e in chunk], device=logits.device)
            margins.extend((sign * (logits[:, 1] - logits[:, 0])).tolist())
        return [m > 0 for m in margins], margins
