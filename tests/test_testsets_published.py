"""Published test-set files with the quirks of the real ones, built small here: what is scored, what is set
aside and why (issue 20, item 1)."""
from __future__ import annotations

import json

import pytest

from suite.core.config import ConfigError
from suite.data.batches import EOS
from suite.evaluate.testsets import SetAside, load_testset


def linzen(tmp_path, golds, sentences, name="subj_agr_filtered"):
    (tmp_path / f"{name}.text").write_text("\n".join(sentences) + "\n")
    (tmp_path / f"{name}.gold").write_text("\n".join(golds) + "\n")
    return tmp_path / f"{name}.text"


def test_linzen_case_only_target_is_folded_and_identical_forms_are_set_aside_with_file_and_line(tmp_path):
    sentences = ["the keys to the cabinet are here <eos>"] * 38 + [
        "are the dogs here <eos>", "the river wherein they lie <eos>"]
    golds = ["5\tare\tis\t1"] * 38 + ["0\tAre\tIs\t0", "4\tlie\tlie\t0"]
    items = load_testset(linzen(tmp_path, golds, sentences))
    assert len(items) == 39 and items.case_folded == 1
    assert items[38].correct == ("are",) and items[38].wrong == ("is",)  # the sentence's own (lower-cased) word
    assert items.set_aside == [SetAside(f"{tmp_path / 'subj_agr_filtered.gold'}:40", "identical correct and wrong forms")]
    notice = items.notice("subj_agr_filtered.text")
    assert "\n" not in notice and "1 targets case-folded" in notice and "identical correct and wrong forms (lines 40)" in notice


def test_more_than_5_percent_set_aside_stops_the_file(tmp_path):
    golds = ["5\tare\tis\t1"] * 18 + ["4\tlie\tlie\t0"] * 2  # 10 %
    with pytest.raises(ConfigError, match=r"2 of 20 items would be set aside .*subj_agr_filtered.gold:19"):
        load_testset(linzen(tmp_path, golds, ["the keys to the cabinet are here <eos>"] * 20))


GOLD12 = ("L!NOUN_VERB_VERB!Number=Plur!Number=Sing\t{c}\t{s}\t6\tVERB\tMood=Ind|Number=Sing\tis\tare\tbe\t1\tNOUN\t"
          "The thing to keep in mind is")


def test_gulordava_12_column_gold_keeps_original_and_nonce_apart_and_scores_the_prefix(tmp_path):
    golds = [GOLD12.format(c=0, s=0), GOLD12.format(c=0, s=3)]
    sentences = ["The thing to keep in mind is that <eos>", "The pilot to hide in bed spills that <eos>"]
    items = load_testset(linzen(tmp_path, golds, sentences, "generated"))
    assert [i.meta["condition"] for i in items] == ["original", "nonce"]
    # the nonce sentence has "spills" at index 6, neither form: scored on its prefix all the same
    assert items[1].prefix == (EOS, "The", "pilot", "to", "hide", "in", "bed") and items[1].correct == ("is",)
    assert items[1].wrong == ("are",) and items[0].distance == 5 and "NOUN_VERB_VERB" in items[0].construction


def test_gulordava_tab_pairs_rows_by_sentence_with_quoted_fields(tmp_path):
    header = "pattern\tconstr_id\tsent_id\tcorrect_number\tform\tclass\ttype\tprefix\tn_attr\tpunct\tfreq\tlen_context\tlen_prefix\tsent"
    rows = [
        "L__NOUN_VERB_VERB\t1\t0\tsing\tis\tcorrect\toriginal\tThe thing I saw\t0\tFalse\t1\t3\t4\tThe thing I saw is . <eos>",
        "L__NOUN_VERB_VERB\t1\t0\tsing\tare\twrong\toriginal\tThe thing I saw\t0\tFalse\t1\t3\t4\tThe thing I saw is . <eos>",
        'L__NOUN_VERB_VERB\t1\t4\tsing\tprovides\tcorrect\tgenerated\tAn atmosphere in two\t1\tFalse\t1\t4\t4\t'
        '"An atmosphere in two submits "" mosques "" . <eos>"',
        'L__NOUN_VERB_VERB\t1\t4\tsing\tprovide\twrong\tgenerated\tAn atmosphere in two\t1\tFalse\t1\t4\t4\t'
        '"An atmosphere in two submits "" mosques "" . <eos>"']
    path = tmp_path / "generated.tab"
    path.write_text("\n".join([header, *rows]) + "\n")
    items = load_testset(path)
    assert [(i.meta["condition"], i.correct, i.wrong, i.attractors) for i in items] == [
        ("original", ("is",), ("are",), 0), ("nonce", ("provides",), ("provide",), 1)]
    assert items[1].prefix == (EOS, "An", "atmosphere", "in", "two") and items[1].source.endswith("generated.tab:4")


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_marvin_linzen_templates_as_csv_or_tsv(tmp_path, suffix, sep):
    path = tmp_path / f"templates{suffix}"
    path.write_text(sep.join(["case", "condition", "grammatical", "ungrammatical"]) + "\n" +
                    sep.join(["simple_agrmt", "sing", "The author laughs.", "The author laugh."]) + "\n")
    [item] = load_testset(path)
    assert item.prefix == (EOS, "The", "author") and item.correct == ("laughs", ".", EOS)
    assert item.construction == "simple_agrmt" and item.meta == {"condition": "sing"}


def test_a_header_only_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("prefix,correct,wrong\n")
    with pytest.raises(ConfigError, match="no items"):
        load_testset(path)


def test_blimp_from_a_local_copy_in_the_hubs_layout(tmp_path):
    config = "regular_plural_subject_verb_agreement_1"
    (tmp_path / config).mkdir()
    lines = [{"sentence_good": "The cups alarm Angela.", "sentence_bad": "The cups alarms Angela.", "UID": config,
              "pairID": "0"}]
    (tmp_path / config / "train.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (tmp_path / "README.md").write_text(f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: train\n"
                                        f"    path: {config}/train.jsonl\n---\n")
    [item] = load_testset(f"hf:{tmp_path}:{config}")
    assert item.prefix == (EOS, "The", "cups") and item.correct == ("alarm", "Angela", ".", EOS)
    assert item.construction == config
