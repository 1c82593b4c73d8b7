"""text_lm's in-run agreement scoring: WikiText-style tokenisation, BLiMP pairs, agreement pairs from held-out
text, n-gram baselines, <unk> policy, the report section from records alone, and that training and every
metric are the same with and without the scoring."""
from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest
import torch

from suite.data.batches import EOS, Vocab
from suite.judge.task_report import load_reports
from suite.task import get_task
from tasks.text_lm import agreement as ag
from tasks.text_lm.agreement_report import agreement_table, data_size_table, tokens_seen

from tests.test_text_lm import _private_caches, config, folder  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]


def test_words_are_split_the_way_wikitext_writes_them():
    # WikiText-2: "don 't", "Carla 's", "role @-@ playing", "2 @,@ 500", "0 @.@ 91" (shared/data/README.md)
    assert ag.wikitext_words("The axes haven't bored Carla's well-known 2,500 dogs, 0.91 each.") == [
        "The", "axes", "haven", "'t", "bored", "Carla", "'s", "well", "@-@", "known", "2", "@,@", "500", "dogs",
        ",", "0", "@.@", "91", "each", "."]


def test_a_blimp_pair_is_the_shared_prefix_and_the_two_rest_of_sentences(tmp_path):
    line = {"sentence_good": "The cats haven't left.", "sentence_bad": "The cats hasn't left."}
    (tmp_path / "p.jsonl").write_text(json.dumps(line) + "\n\n")
    [pair] = ag.blimp_pairs("p", tmp_path)
    assert pair == ag.Pair((EOS, "The", "cats"), ("haven", "'t", "left", "."), ("hasn", "'t", "left", "."))


def test_the_six_shipped_paradigms_are_blimps_files_with_their_attribution():
    data = ROOT / "tasks" / "text_lm" / "data" / "blimp"
    for paradigm in ag.BLIMP_PARADIGMS:
        lines = (data / f"{paradigm}.jsonl").read_text().splitlines()
        assert len(lines) == 1000 and json.loads(lines[0])["UID"] == paradigm
        assert len(ag.blimp_pairs(paradigm)) == 1000
    assert "CC BY 4.0" in (data / "ATTRIBUTION.md").read_text()
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/blimp/*.jsonl" in shipped["tasks.text_lm"] and "data/blimp/ATTRIBUTION.md" in shipped["tasks.text_lm"]


def test_natural_pairs_take_each_sentences_first_agreeing_verb_but_not_after_a_modal_or_in_a_heading():
    lines = [" = = The war is over = = ", " The dogs are here . He will have gone , and he has left . ",
             " Is it ? The king was old and they were young . "]
    assert ag.natural_pairs(lines) == [
        ag.Pair((EOS, "The", "dogs"), ("are",), ("is",)),
        ag.Pair((EOS, "He", "will", "have", "gone", ",", "and", "he"), ("has",), ("have",)),
        ag.Pair((EOS, "The", "king"), ("was",), ("were",))]  # "Is" opens its sentence: no subject before it
    assert len(ag.natural_pairs(lines, limit=2)) == 2


def test_ngram_baseline_probabilities_by_hand():
    ids = torch.tensor([3, 4, 3, 5, 3, 4])  # unigram counts: 3→3, 4→2, 5→1; bigrams 3-4 ×2, 4-3, 3-5, 5-3
    b = ag.NgramBaseline(ids, vocab_size=6)
    assert b.unigram_logp(4) == pytest.approx(math.log(3 / 12))  # (2 + 1) / (6 + 6)
    assert b.bigram_logp(3, 4) == pytest.approx(math.log(0.9 * 2 / 3 + 0.1 * 3 / 12))
    assert b.bigram_logp(0, 4) == pytest.approx(math.log(3 / 12))  # unseen context: the unigram alone
    assert b.scores([3], [4, 3]) == (pytest.approx(math.log(3 / 12) + math.log(4 / 12)),
                                     pytest.approx(math.log(0.9 * 2 / 3 + 0.1 * 3 / 12) +
                                                   math.log(0.9 * 1 / 2 + 0.1 * 4 / 12)))


class Prefers(torch.nn.Module):
    """Whatever the context, the next token is `favourite` with probability ~1."""

    def __init__(self, vocab_size, favourite):
        super().__init__()
        self.logits = torch.zeros(vocab_size)
        self.logits[favourite] = 10.0

    def forward(self, tokens, state=None, lengths=None):
        return self.logits.expand(*tokens.shape, -1).clone(), None


class WordTok:
    def __init__(self, words):
        self.vocab = Vocab(words)

    def encode_words(self, words):
        return [[self.vocab.stoi.get(w, self.vocab.unk_id)] for w in words]


def test_unknown_words_become_unk_and_an_item_whose_forms_are_both_unk_is_set_aside(monkeypatch):
    tok = WordTok(["The", "dogs", "are", "is", "."])
    pairs = {"a": [ag.Pair((EOS, "The", "dogs"), ("are",), ("is",)),  # all known
                   ag.Pair((EOS, "The", "zebras"), ("are",), ("is",)),  # unknown subject → <unk>, scored
                   ag.Pair((EOS, "The", "dogs"), ("bark",), ("barks",))]}  # both forms <unk>: set aside
    monkeypatch.setattr(ag, "agreement_sets", lambda lines, limit: pairs)
    train = torch.tensor(tok.vocab.encode(["The", "dogs", "are", ".", "The", "dogs", "are", "."]))
    result = ag.score_agreement(Prefers(len(tok.vocab), tok.vocab.stoi["are"]), tok, train, [])
    s = result["sets"]["a"]
    assert (s["items"], s["scored"], s["set_aside"], s["with_unknown"], s["correct"]) == (3, 2, 1, 1, 2)
    assert result["oov"] == "unk" and s["unigram_accuracy"] == 1.0 and s["bigram_accuracy"] == 1.0
    rows = result["item_rows"]["a"]
    assert rows["columns"] == list(ag.ROW_COLUMNS) and [r[0] for r in rows["data"]] == [0, 1]


def test_training_and_every_metric_are_identical_with_and_without_agreement_scoring(folder):  # noqa: F811
    task = get_task("text_lm")
    without = task.run(config(folder, agreement_items=0))
    with_ = task.run(config(folder, agreement_items=5))
    assert "agreement" not in without.extra
    assert without.metrics == with_.metrics and without.training.curve == with_.training.curve
    sets = with_.extra["agreement"]["sets"]
    assert set(sets) == {*ag.BLIMP_PARADIGMS, ag.NATURAL} and all(s["items"] <= 5 for s in sets.values())
    assert torch.equal(with_.model.embedding.weight, without.model.embedding.weight)


def record(model, seed, lr, correct, scored=10, valid_ppl=100.0):
    sets = {name: {"items": 12, "scored": scored, "set_aside": 2, "with_unknown": 3, "correct": correct,
                   "accuracy": correct / scored, "unigram_accuracy": 0.5, "bigram_accuracy": 0.6}
            for name in (*ag.BLIMP_PARADIGMS, ag.NATURAL)}
    return {"run_id": f"{model}{seed}{lr}", "label": model, "status": "ok", "seed": seed, "wall_seconds": 50.0,
            "metrics": {"valid_ppl": valid_ppl, "test_ppl": valid_ppl},
            "config": {"task": "text_lm", "seed": seed,
                       "model": {"arch": model, "layers": 1, "hidden": 8, "skip": "none", "bidirectional": False},
                       "train": {"lr": lr, "batch_size": 20, "bptt": 35},
                       "options": {"corpus": "c", "tokenizer": "word", "vocab_size": 0, "max_train_words": 0}},
            "training": {"steps": 600, "curve": []},
            "agreement": {"oov": "unk", "train_tokens": 1000, "sets": sets, "item_rows": {}, "seconds": 2.0}}


def test_agreement_table_reads_the_chosen_runs_and_sets_published_figures_beside_them():
    records = [record("lstm", 0, 20.0, 8), record("lstm", 0, 5.0, 1, valid_ppl=300.0), record("lstm", 1, 20.0, 6)]
    table = agreement_table(records)
    row = table[table["set"] == "distractor_agreement_relational_noun"].iloc[0]
    assert row["runs"] == 2 and row["accuracy"] == pytest.approx(14 / 20)  # lr 5 lost on validation
    assert (row["published_5gram"], row["published_lstm"], row["published_gpt2"], row["published_human"]) == \
        (0.24, 0.76, 0.80, 0.81)  # Warstadt et al. 2020, from shared/reference/published-figures.md
    assert (row["unigram"], row["bigram"], row["oov"], row["set_aside"]) == (0.5, 0.6, "unk", 2)
    natural = table[table["set"] == ag.NATURAL].iloc[0]
    assert math.isnan(natural["published_lstm"]) and "Gulordava" in natural["published_source"]


def test_data_size_caveat_counts_tokens_seen_against_the_published_lstm():
    [row] = data_size_table([record("lstm", 0, 20.0, 8)]).to_dict("records")
    assert row["tokens_seen"] == 600 * 20 * 35 == tokens_seen(record("lstm", 0, 20.0, 8))
    assert row["published_lstm_corpus_tokens"] == 83_000_000 and row["train_tokens"] == 1000


def test_report_has_the_agreement_tables():
    tables = load_reports()["text_lm"].tables([record("lstm", 0, 20.0, 8)])
    assert {"text_lm_agreement", "text_lm_agreement_data_size"} <= set(tables)
