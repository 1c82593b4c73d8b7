"""Agreement probes: scoring with hand-built models of known preference, the error taxonomy,
the heuristic baselines, the tables, and every verdict of every claim on constructed records."""
import math
import random
from collections import Counter

import pytest
import torch
from torch import nn

from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data import EOS, Vocab
from suite.grammar import LEXICON, Grammar
from suite.tasks import TaskData, check_run_config, get_task
from suite.testsets import MinimalPair
from tasks.agreement import (ATTRACTORS, agreement_claims, agreement_plots, agreement_tables,
                             distance_bucket, heuristic_choice, number_examples, outcome_metrics, to_item)

NOUN_NUMBER = LEXICON.noun_number
PLURAL_VERBS = {v.plural for v in LEXICON.verbs}
SINGULAR_VERBS = {v.singular for v in LEXICON.verbs}


def sentences(n=60, seed=0):
    grammar = Grammar(random.Random(seed), max_modifiers=4)
    return [grammar.sentence(attractors=i % 5) for i in range(n)]


def full_vocab():
    words = [w for n in LEXICON.nouns for w in (n.singular, n.plural)]
    words += [w for v in LEXICON.verbs for w in (v.singular, v.plural)]
    return Vocab(words + sorted({t for s in sentences(200, 9) for t in s.tokens}))


class PrefersSingular(nn.Module):
    """An LM that always gives singular verb forms a higher logit, whatever it has read."""

    def __init__(self, vocab):
        super().__init__()
        self.bias = torch.tensor([3.0 if w in SINGULAR_VERBS else 0.0 for w in vocab.itos])

    def forward(self, tokens, state=None, lengths=None):
        return self.bias.expand(*tokens.shape, -1).clone(), None


class NearestNoun(nn.Module):
    """An LM that agrees with the most recent noun it has read: pure sequential recency."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab
        self.number = [NOUN_NUMBER.get(w) for w in vocab.itos]
        self.sg = torch.tensor([w in SINGULAR_VERBS for w in vocab.itos], dtype=torch.float)
        self.pl = torch.tensor([w in PLURAL_VERBS for w in vocab.itos], dtype=torch.float)

    def forward(self, tokens, state=None, lengths=None):
        out = torch.zeros(*tokens.shape, len(self.vocab))
        for b in range(tokens.shape[0]):
            last = False
            for t in range(tokens.shape[1]):
                seen = self.number[int(tokens[b, t])]
                last = last if seen is None else seen
                out[b, t] = 4 * (self.pl if last else self.sg)
        return out, None


def lm_data(items, vocab):
    return TaskData(train=None, valid=None, vocab=vocab,
                    extra={"items": items, "form_counts": Counter(), "nonce": False, "testset": None})


def cfg(task="agreement", **options):
    return RunConfig(task, ModelConfig(hidden=8), TrainConfig(steps=2), 0, options)


def test_hand_built_singular_preferrer_errs_exactly_on_plural_subjects():
    items = [to_item(s) for s in sentences()]
    metrics = get_task("agreement").evaluate(PrefersSingular(full_vocab()), lm_data(items, full_vocab()), cfg())
    plural = [it.subject_plural for it in items]
    assert metrics["error_rate"] == pytest.approx(sum(plural) / len(items))
    assert metrics["item_correct"] == "".join("0" if p else "1" for p in plural)
    # its errors are sequential-recency errors exactly when the nearest noun is singular
    seq = sum(it.subject_plural and not it.nearest_noun_plural for it in items)
    assert metrics["seq_recency_share"] == pytest.approx(seq / sum(plural))


def test_hand_built_nearest_noun_model_matches_the_heuristic_and_is_all_attraction():
    items = [to_item(s) for s in sentences(80, 1)]
    metrics = get_task("agreement").evaluate(NearestNoun(full_vocab()), lm_data(items, full_vocab()), cfg())
    # brute force: wrong exactly when the nearest noun before the verb differs from the subject
    wrong = [it.nearest_noun_plural != it.subject_plural for it in items]
    assert metrics["error_rate"] == pytest.approx(sum(wrong) / len(items))
    assert metrics["error_attractors_0"] == 0.0
    assert metrics["seq_recency_share"] == 1.0 and metrics["seq_recency_share_attractors"] == 1.0
    assert metrics["heuristic_nearest_noun_error"] == pytest.approx(metrics["error_rate"])


class AlwaysPlural(nn.Module):
    """A number classifier that always answers 'plural'."""

    def forward(self, tokens, state=None, lengths=None):
        return torch.tensor([[0.0, 1.0]]).expand(tokens.shape[0], 2), None


def test_number_prediction_scores_the_same_prefixes():
    ss = sentences()
    vocab = full_vocab()
    data = lm_data([to_item(s) for s in ss], vocab)
    data.extra["examples"] = number_examples(ss, vocab)
    metrics = get_task("agreement_number").evaluate(AlwaysPlural(), data, cfg("agreement_number"))
    assert metrics["error_rate"] == pytest.approx(sum(not s.subject_plural for s in ss) / len(ss))
    assert data.extra["examples"][0].tokens == vocab.encode([EOS, *ss[0].tokens[:ss[0].verb_index]])


def item(prefix, correct, wrong, subject_plural, nearest, attractors=0, construction="simple", distance=1):
    return MinimalPair((EOS, *prefix.split()), (correct,), (wrong,), "", attractors, construction, distance,
                       subject_plural, nearest)


def test_outcome_metrics_on_hand_counted_items():
    items = [item("the writer", "is", "are", False, False),
             item("the writer of the books", "is", "are", False, True, 1, "pp", 4),
             item("the writers of the book", "are", "is", True, False, 1, "pp", 4),
             item("the writers near the key", "are", "is", True, False, 1, "pp", 4)]
    m = outcome_metrics(items, [True, False, False, True])
    assert m["error_rate"] == 0.5 and m["error_attractors_0"] == 0 and m["error_attractors_1"] == pytest.approx(2 / 3)
    assert m["seq_recency_share"] == 1.0 and m["chance_seq_share_attractors"] == 1.0
    assert m["counts"]["construction"] == {"simple": [0, 1, 0], "pp": [2, 3, 2]}
    assert m["counts"]["distance"] == {"1-2": [0, 1, 0], "3-5": [2, 3, 2]}
    assert math.isnan(m["error_attractors_4"])  # no such items: not a zero


def test_distance_buckets():
    assert [distance_bucket(d) for d in (1, 2, 3, 9, 14, 15, 40)] == ["1-2", "1-2", "3-5", "6-9", "10-14", "15+", "15+"]
    with pytest.raises(ValueError):
        distance_bucket(0)


def test_heuristics_on_hand_built_items():
    attracted = item("near the key , the writers of the book", "are", "is", True, False, 1)
    assert heuristic_choice("nearest_noun", attracted, LEXICON, Counter()) is False
    assert heuristic_choice("first_noun", attracted, LEXICON, Counter()) is False  # 'key' comes first
    plain = item("the writers of the book", "are", "is", True, False, 1)
    assert heuristic_choice("first_noun", plain, LEXICON, Counter()) is True
    assert heuristic_choice("majority", plain, LEXICON, Counter({"are": 5, "is": 3})) is True
    assert heuristic_choice("majority", plain, LEXICON, Counter({"are": 2, "is": 3})) is False
    assert heuristic_choice("majority", plain, LEXICON, Counter()) is False  # a tie goes to the singular
    assert heuristic_choice("nearest_noun", item("today", "is", "are", False, False), LEXICON, Counter()) is None


def test_tiny_run_is_reproducible_and_complete():
    task = get_task("agreement")
    opts = {**task.default_options, "train_sentences": 200, "valid_sentences": 20, "items_per_attractor": 3}
    run = RunConfig("agreement", ModelConfig(arch="gru", hidden=16),
                    TrainConfig(steps=3, batch_size=16), 5, opts)
    outcomes = []
    for _ in range(2):
        torch.manual_seed(run.seed)  # as the runner does before every run: it seeds the model's init
        outcomes.append(task.run(run))
    a, b = outcomes
    assert a.metrics == b.metrics
    assert a.metrics["n_items"] == 15 and len(a.metrics["item_correct"]) == 15
    assert {f"error_attractors_{k}" for k in ATTRACTORS} <= set(a.metrics)


def test_bad_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="max_modifiers"):
        check_run_config(cfg(max_modifiers=2))
    with pytest.raises(ConfigError, match="items_per_attractor"):
        check_run_config(cfg(items_per_attractor=0))
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,correct,wrong\nthe writer,is\n")
    with pytest.raises(ConfigError, match=r"bad.csv:2"):
        check_run_config(cfg(testset=str(bad)))


# --------------------------------------------------------------------------- tables and claims on constructed records

def record(task, label, seed, error=0.2, by_attr=(0.1, 0.2, 0.3, 0.4, 0.5), share=0.8, chance=0.6,
           n=100, status="ok"):
    arch = label.split("×")[0]
    counts = {str(k): [round(e * n), n, round(e * n * share)] for k, e in zip(ATTRACTORS, by_attr)}
    metrics = {"error_rate": error, "error_attractors_1plus": sum(by_attr[1:]) / 4,
               "seq_recency_share_attractors": share, "chance_seq_share_attractors": chance,
               "n_items": 5 * n, "counts": {"attractors": counts, "construction": {"pp": [10, n, 5]},
                                            "distance": {"3-5": [10, n, 5]}}}
    for k, e in zip(ATTRACTORS, by_attr):
        metrics[f"error_attractors_{k}"] = e
        for h in ("majority", "nearest_noun", "first_noun"):
            metrics[f"heuristic_{h}_error_attractors_{k}"] = 0.5 if h == "majority" else k / 4
    for h in ("majority", "nearest_noun", "first_noun"):
        metrics[f"heuristic_{h}_error"] = 0.5
    return {"run_id": f"{task}-{label}-{seed}", "label": label, "status": status, "metrics": metrics,
            "config": {"task": task, "seed": seed, "options": {},
                       "model": {"arch": arch, "layers": 1, "hidden": 8, "skip": "none", "bidirectional": False}}}


def jitter(value, seed):
    return value + 0.01 * (seed - 1)


def runs(task, label, seeds=(0, 1, 2), **kw):
    out = []
    for s in seeds:
        kwj = {k: (tuple(jitter(x, s) for x in v) if isinstance(v, tuple) else jitter(v, s)) for k, v in kw.items()}
        out.append(record(task, label, s, **kwj))
    return out


def claim(records, key):
    return next(c for c in agreement_claims(records) if c.id == key)


def test_attractor_claim_verdicts():
    rising = dict(by_attr=(0.05, 0.2, 0.3, 0.4, 0.6), share=0.8, chance=0.6)
    good = runs("agreement", "lstm", **rising) + runs("agreement", "gru", **rising)
    assert claim(good, "agreement.attractors").verdict == REPRODUCED
    falling = dict(by_attr=(0.6, 0.4, 0.3, 0.2, 0.05), share=0.8, chance=0.6)
    bad = runs("agreement", "lstm", **falling) + runs("agreement", "gru", **falling)
    assert claim(bad, "agreement.attractors").verdict == NOT_REPRODUCED
    not_attraction = runs("agreement", "lstm", by_attr=(0.05, 0.2, 0.3, 0.4, 0.6), share=0.2, chance=0.6)
    assert claim(not_attraction, "agreement.attractors").verdict == NOT_REPRODUCED
    below_chance = runs("agreement", "lstm", by_attr=(0.05, 0.2, 0.3, 0.4, 0.6), share=0.7, chance=0.9)
    assert claim(below_chance, "agreement.attractors").verdict == INCONCLUSIVE
    one_seed = runs("agreement", "lstm", seeds=(0,), **rising)
    assert claim(one_seed, "agreement.attractors").verdict == INCONCLUSIVE
    assert claim([], "agreement.attractors").verdict == INCONCLUSIVE


def test_gated_claim_verdicts():
    def world(lstm, gru, rnn):
        return (runs("agreement", "lstm", by_attr=(0.1,) + (lstm,) * 4)
                + runs("agreement", "gru", by_attr=(0.1,) + (gru,) * 4)
                + runs("agreement", "rnn_tanh", by_attr=(0.1,) + (rnn,) * 4))
    key = "agreement.gated_fewer_attraction_errors"
    assert claim(world(0.2, 0.25, 0.5), key).verdict == REPRODUCED
    assert claim(world(0.6, 0.25, 0.4), key).verdict == NOT_REPRODUCED
    assert claim(world(0.405, 0.2, 0.4), key).verdict == INCONCLUSIVE  # overlapping CIs
    assert claim(runs("agreement", "lstm"), key).verdict == INCONCLUSIVE  # no vanilla RNN
    assert "missing" in claim(runs("agreement", "lstm"), key).why


def test_objective_claim_verdicts():
    key = "agreement.number_prediction_beats_lm"
    lm = runs("agreement", "lstm", error=0.3) + runs("agreement", "gru", error=0.3)
    better = runs("agreement_number", "lstm", error=0.05) + runs("agreement_number", "gru", error=0.05)
    worse = runs("agreement_number", "lstm", error=0.6) + runs("agreement_number", "gru", error=0.6)
    close = runs("agreement_number", "lstm", error=0.305) + runs("agreement_number", "gru", error=0.305)
    assert claim(lm + better, key).verdict == REPRODUCED
    assert claim(lm + worse, key).verdict == NOT_REPRODUCED
    assert claim(lm + close, key).verdict == INCONCLUSIVE
    assert claim(lm, key).verdict == INCONCLUSIVE


def test_tables_carry_seed_intervals_or_marked_wilson_intervals():
    three = runs("agreement", "lstm", by_attr=(0.1, 0.2, 0.3, 0.4, 0.5))
    one = [record("agreement", "rnn_tanh", 0, by_attr=(0.3, 0.3, 0.3, 0.3, 0.3))]
    number = runs("agreement_number", "lstm", error=0.05)
    tables = agreement_tables(three + one + number + [record("grammar_lm", "lstm", 0)])
    table = tables["agreement_attractors"].set_index(["objective", "model"])
    lstm = table.loc[("language model", "lstm")]
    values = [0.09, 0.1, 0.11]  # seeds 0, 1, 2 after jitter
    half = 4.303 * 0.01 / math.sqrt(3)  # t(2) × sd / √n, sd = 0.01
    assert lstm["err_0_attr"] == pytest.approx(sum(values) / 3)
    assert lstm["err_0_attr_high"] - lstm["err_0_attr"] == pytest.approx(half)
    rnn = table.loc[("language model", "rnn_tanh")]
    assert rnn["ci"] == "Wilson over items (1 seed)"
    p, n, z = 0.3, 100, 1.96  # the Wilson interval computed from its formula
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    assert (rnn["err_2_attr_low"] + rnn["err_2_attr_high"]) / 2 == pytest.approx(centre)
    assert ("heuristic", "nearest noun") in table.index
    both = tables["agreement_lm_vs_number"].set_index("model").loc["lstm"]
    assert both["number_error"] == pytest.approx(0.05) and both["lm_error"] == pytest.approx(0.2)
    assert set(tables) >= {"agreement_construction", "agreement_distance"}
    assert agreement_tables([record("grammar_lm", "lstm", 0)]) == {}


def test_plot_is_written(tmp_path):
    paths = agreement_plots(runs("agreement", "lstm") + runs("agreement", "rnn_tanh"), tmp_path)
    assert [p.name for p in paths] == ["agreement_attractors.png"]
    assert paths[0].stat().st_size > 1000


def test_published_test_set_is_scored_and_unrepresentable_items_counted():
    from pathlib import Path
    from suite.testsets import load_testset
    from tasks.agreement import testset_metrics
    items = load_testset(Path(__file__).parent / "fixtures" / "agreement" / "pairs.csv")
    items.append(MinimalPair((EOS, "the", "zorblax"), ("is",), ("are",), attractors=0))
    m = testset_metrics(PrefersSingular(full_vocab()), items, full_vocab(), "cpu")
    # the singular-preferrer gets 'the dogs near the cat ___' (plural subject) wrong, the others right
    assert m["testset_items"] == 4 and m["testset_unrepresentable"] == 1
    assert m["testset_error_rate"] == pytest.approx(1 / 3)
    assert m["testset_counts_attractors"] == {"1": [1, 2], "0": [0, 1]}


def test_nonce_items_keep_structure_but_change_content_words():
    from tasks.agreement import make_corpus
    opts = {"train_sentences": 50, "valid_sentences": 5, "items_per_attractor": 4, "max_modifiers": 4,
            "heldout_fraction": 0.2}
    plain, nonce = make_corpus(3, {**opts, "nonce": False}), make_corpus(3, {**opts, "nonce": True})
    assert [s.tokens for s in plain["train"]] == [s.tokens for s in nonce["train"]]  # training is unchanged
    assert [s.attractors for s in plain["test"]] == [s.attractors for s in nonce["test"]]
    assert [s.correct_form for s in plain["test"]] == [s.correct_form for s in nonce["test"]]
    assert [s.tokens for s in plain["test"]] != [s.tokens for s in nonce["test"]]
