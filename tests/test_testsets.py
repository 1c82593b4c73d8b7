"""Published minimal-pair formats: loaders, their error messages, and scoring with a known model."""
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from suite.core.config import ConfigError
from suite.data.batches import EOS, Vocab
from suite.evaluate.testsets import MinimalPair, load_testset, score_pairs, tokenize

FIXTURES = Path(__file__).parent / "fixtures" / "agreement"


def test_tokenize_keeps_case_and_clitics_and_splits_punctuation():
    # each model spells a word its own way (a WikiText model reads "Don 't"), so the loader keeps it whole
    assert tokenize("The cats annoy Tim.") == ["The", "cats", "annoy", "Tim", "."]
    assert tokenize("Don't, said   Mary's dog!") == ["Don't", ",", "said", "Mary's", "dog", "!"]


def test_blimp_pairs_become_shared_prefix_and_differing_suffixes():
    items = load_testset(FIXTURES / "blimp.jsonl")
    assert len(items) == 3  # the blank line is skipped
    first = items[0]
    assert first.prefix == (EOS, "The", "writer", "of", "the", "books")
    assert first.correct == ("is", "old", ".", EOS) and first.wrong == ("are", "old", ".", EOS)
    assert first.construction == "distractor_agreement_relational_noun"
    assert first.meta["pairID"] == "0" and first.meta["one_prefix_method"] is True
    assert items[2].prefix == (EOS, "These", "children") and items[2].correct[0] == "have"
    assert items[2].source.endswith("blimp.jsonl:4")


def test_linzen_text_and_gold_are_line_aligned():
    items = load_testset(FIXTURES / "linzen.gold")
    assert [i.correct for i in items] == [("is",), ("sleep",), ("is",)]
    assert [i.wrong for i in items] == [("are",), ("sleeps",), ("are",)]
    assert [i.attractors for i in items] == [1, 1, 0]
    assert items[1].prefix == (EOS, *"the dogs near the cat that the girl likes".split())
    assert load_testset(FIXTURES / "linzen.text") == items  # either file names the pair


def test_csv_with_annotation_columns():
    items = load_testset(FIXTURES / "pairs.csv")
    assert items[0] == MinimalPair((EOS, "the", "writer", "of", "the", "books"), ("is",), ("are",),
                                   str(FIXTURES / "pairs.csv") + ":2", attractors=1, construction="pp")
    assert items[0].meta == {"note": "classic attractor"}
    assert items[2].attractors == 0 and items[2].construction == "simple"


@pytest.mark.parametrize("name, where, says", [
    ("blimp_malformed.jsonl", "blimp_malformed.jsonl:2", "not valid JSON"),
    ("blimp_missing_field.jsonl", "blimp_missing_field.jsonl:2", "sentence_bad"),
    ("linzen_bad_columns.gold", "linzen_bad_columns.gold:2", "1 columns, not 4"),
    ("linzen_wrong_index.gold", "linzen_wrong_index.gold:2", "points at 'cat'"),
    ("linzen_misaligned.gold", "linzen_misaligned.gold", "line-aligned"),
    ("pairs_malformed.csv", "pairs_malformed.csv:3", "correct ≠ wrong"),
    ("pairs_no_header.csv", "pairs_no_header.csv:1", "header"),
])
def test_a_file_with_more_than_5_percent_bad_items_stops_naming_the_first_file_and_line(name, where, says):
    with pytest.raises(ConfigError) as err:
        load_testset(FIXTURES / name)
    message = str(err.value)
    assert where in message and says in message and "\n" not in message


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown test-set format"):
        load_testset(tmp_path / "pairs.xlsx")
    with pytest.raises(ConfigError, match="cannot read"):
        load_testset(tmp_path / "absent.csv")


class BigramTable(nn.Module):
    """A language model whose next-token logits depend only on the current token: a fixed table."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(table, requires_grad=False)

    def forward(self, tokens, state=None, lengths=None):
        return self.table[tokens], None


def test_scoring_matches_hand_computed_log_probabilities():
    vocab = Vocab(["the", "writer", "books", "is", "are", "old", "."])
    v = len(vocab)
    table = torch.zeros(v, v)
    table[vocab.stoi["books"], vocab.stoi["are"]] = 2.0  # after 'books' the model prefers 'are'
    table[vocab.stoi["writer"], vocab.stoi["is"]] = 1.0
    model = BigramTable(table)
    items = [MinimalPair((EOS, "the", "writer"), ("is",), ("are",)),
             MinimalPair((EOS, "the", "books"), ("is",), ("are",)),
             MinimalPair((EOS, "the", "writer", "of"), ("is",), ("are",)),  # 'of' is not in the vocabulary
             MinimalPair((EOS, "the", "books"), ("is", "old"), ("are", "old"))]
    scored = score_pairs(model, items, vocab)
    assert [it.prefix[-1] for it in scored.unrepresentable] == ["of"]
    # log-softmax of a row with one logit a and v-1 zeros: a − log(e^a + v − 1)
    norm = lambda a: math.log(math.exp(a) + v - 1)  # noqa: E731
    expected = [(1.0 - norm(1.0)) - (0 - norm(1.0)), (0 - norm(2.0)) - (2.0 - norm(2.0))]
    assert scored.margins[:2] == pytest.approx(expected, abs=1e-5)
    # a multi-token continuation sums its pieces: 'old' after is/are has the same log-prob here
    assert scored.margins[2] == pytest.approx(expected[1], abs=1e-5)
    assert scored.correct == [True, False, False] and scored.error_rate == pytest.approx(2 / 3)


def test_a_tie_is_an_error():
    vocab = Vocab(["the", "writer", "is", "are"])
    model = BigramTable(torch.zeros(len(vocab), len(vocab)))
    scored = score_pairs(model, [MinimalPair((EOS, "the", "writer"), ("is",), ("are",))], vocab)
    assert scored.margins == [0.0] and scored.correct == [False]


def test_csv_intervening_nouns_column_and_missing_annotations(tmp_path):
    annotated = tmp_path / "annotated.csv"
    annotated.write_text("prefix,correct,wrong,attractors,intervening_nouns\n"
                         "the writer of the books near the key,is,are,1,2\n")
    item = load_testset(annotated)[0]
    assert (item.attractors, item.intervening_nouns) == (1, 2) and item.meta == {}
    bare = tmp_path / "bare.csv"  # a published set without annotation columns still loads: annotations None
    bare.write_text("prefix,correct,wrong\nthe writer,is,are\n")
    item = load_testset(bare)[0]
    assert item.attractors is None and item.intervening_nouns is None and item.construction is None
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,correct,wrong,intervening_nouns\nthe writer,is,are,two\n")
    with pytest.raises(ConfigError, match=r"bad.csv:2: intervening_nouns must be a non-negative integer"):
        load_testset(bad)
