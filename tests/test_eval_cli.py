"""`run_suite.py eval` as a user meets it (issues 20 and 22): --runs DIR and --out, filters, labels and the
tuning's choice, --oov, --plugin, strict seeds, nothing written when nothing is scored, checked cache entries."""
from __future__ import annotations

import json
import sys
import time
import types

import pytest

from suite.cli.eval import main
from suite.core.files import write_json_atomic
from suite.evaluate.scoring import evaluate_testset, suite_word_lm
from suite.run.checkpoints import load_saved_model, save_run_model
from suite.run.identity import import_plugins
from suite.run.records import record_path
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import get_task

GRAMMAR_CSV = ("prefix,correct,wrong,attractors\nthe writer near the critics,is,are,1\nthe authors,have,has,0\n"
               "the teacher,likes,like,0\nthe qwzx,is,are,0\n")
SMALL = {"train_sentences": 300, "items_per_cell": 2}


def save_runs(out, arch="lstm", lrs=(0.01, 0.001), plugins=()):
    """Agreement runs of one model and seed that differ only in learning rate, saved as --save-models does."""
    import_plugins(plugins)
    runs = []
    for lr in lrs:
        cfg = expand(PRESETS["smoke"], Overrides(tasks=("agreement",), archs=(arch,), steps=3, options=SMALL))[0]
        cfg = type(cfg).from_dict({**cfg.to_dict(), "train": {**cfg.to_dict()["train"], "lr": lr}})
        outcome = get_task("agreement").run(cfg)
        save_run_model(out, cfg, outcome)
        write_json_atomic(record_path(out, cfg.run_id), {"run_id": cfg.run_id, "label": cfg.model.label,
                                                         "config": cfg.to_dict(), "status": "ok", "seed": cfg.seed,
                                                         "metrics": outcome.metrics})
        runs.append(cfg.run_id)
    return runs


@pytest.fixture
def testset(tmp_path):
    path = tmp_path / "grammar.csv"
    path.write_text(GRAMMAR_CSV)
    return path


def test_runs_dir_models_are_read_there_and_evals_go_to_out_with_runs_labelled_by_what_differs(tmp_path, testset,
                                                                                               capsys):
    runs, elsewhere = tmp_path / "runs_here", tmp_path / "evals_there"
    save_runs(runs)
    assert main(["--runs", str(runs), "--out", str(elsewhere), "--testset", str(testset)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "grammar.csv" in line]
    assert (elsewhere / "evals").is_dir() and not (runs / "evals").exists()
    assert len(lines) == 2 and any("lr 0.01" in line for line in lines) and any("lr 0.001" in line for line in lines)
    # agreement has no tuning grid: both runs are its choice, and the labels say what tells them apart
    table = (elsewhere / "tables" / "eval_testsets.csv").read_text()
    assert "settings" in table and "lr 0.01" in table and "oov" in table and "set_aside" in table
    assert main(["--runs", str(runs), "--out", str(elsewhere), "--testset", str(testset), "--oov", "skip",
                 "--quiet"]) == 0


def test_runs_dir_honours_tasks_and_refuses_sweep_flags(tmp_path, testset, capsys):
    runs = tmp_path / "runs"
    save_runs(runs, lrs=(0.01,))
    for args, says in ((["--tasks", "nosuch"], "unknown task 'nosuch'"),
                       (["--tasks", "recall"], "no model selected"),
                       (["--hidden", "8"], "--hidden does not apply")):
        with pytest.raises(SystemExit) as exit_info:
            main(["--runs", str(runs), "--testset", str(testset), *args])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and says in err and err.count("\n") == 1
    assert not (runs / "evals").exists()


def test_plugin_architectures_load_for_eval(tmp_path, testset):
    runs = tmp_path / "runs"
    save_runs(runs, arch="mgu", lrs=(0.01,), plugins=("examples.mgu_cell",))
    assert main(["--runs", str(runs), "--plugin", "examples.mgu_cell", "--testset", str(testset), "--quiet"]) == 0


@pytest.mark.parametrize("extra, says", [
    (["--seeds", "-1"], "non-negative"), (["--seeds", ",,"], "empty entry"), (["--seeds", "1,,2"], "empty entry"),
    (["--preset", "smoke", "--tasks", "agreement"], "no model selected"),
    (["--hf-model", "gpt2", "--oov", "unk"], "--oov unk applies to the suite's word-level models"),
    (["--plugin", "no_such_plugin_module"], "no_such_plugin_module"),
])
def test_bad_input_is_one_line_exit_2_and_creates_no_folder(tmp_path, testset, capsys, extra, says):
    out = tmp_path / "new"
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(out), "--testset", str(testset), *extra])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and says in err and err.count("\n") == 1
    assert not out.exists()


def test_a_header_only_test_set_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("prefix,correct,wrong\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "o"), "--testset", str(empty), "--torch-model", "examples.torch_lm:build"])
    assert exit_info.value.code == 2 and "no items" in capsys.readouterr().err


def test_when_every_model_is_refused_nothing_is_written(tmp_path, testset, capsys):
    out = tmp_path / "out"
    assert main(["--out", str(out), "--testset", str(testset), "--torch-model", "no_such_module:build"]) == 2
    assert "cannot import module 'no_such_module'" in capsys.readouterr().err
    assert not out.exists()  # no evals/failures.json for a command refused as bad input


def test_hub_name_offline_fails_in_one_line_within_seconds(monkeypatch):
    from suite.evaluate import external

    class Refuses:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            raise OSError("not cached")

    fake = types.ModuleType("transformers")
    fake.AutoModelForCausalLM = fake.AutoTokenizer = Refuses
    monkeypatch.setitem(sys.modules, "transformers", fake)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(external.socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    started = time.perf_counter()
    with pytest.raises(external.ExternalModelError) as err:
        external.load_hf_model("nosuch-org/nosuch-model")
    assert time.perf_counter() - started < 5 and "cannot be reached" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("doctor", [
    lambda r: r["summary"].update(error_rate=0.001),  # a doctored error rate
    lambda r: r.update(testset_sha256="0" * 16),  # claims another test set
    lambda r: r.update(item_rows={"columns": ["item"], "data": [[0]]}),  # rows without outcomes
])
def test_a_cache_entry_that_is_not_what_it_claims_is_set_aside_and_redone(tmp_path, testset, capsys, doctor):
    out = tmp_path / "out"
    [run_id] = save_runs(out, lrs=(0.01,))
    lm = suite_word_lm(load_saved_model(out, run_id))
    first, hit = evaluate_testset(lm, testset, out)
    assert not hit
    [path] = (out / "evals" / run_id).glob("*.json")
    result = json.loads(path.read_text())
    doctor(result)
    path.write_text(json.dumps(result))
    again, hit = evaluate_testset(lm, testset, out)
    assert not hit and again["summary"] == first["summary"]
    assert "set aside" in capsys.readouterr().err and len(list((out / "evals" / run_id).glob("*.bad-*"))) == 1
    assert evaluate_testset(lm, testset, out)[1]  # the redone entry is trusted


def test_labels_name_the_differing_setting_and_mark_the_run_the_tuning_chose():
    from suite.evaluate.selection import chosen_ids, distinguishing_labels

    def record(run_id, lr, valid_ppl, softmax="adaptive"):
        config = {"task": "text_lm", "seed": 0, "model": {"arch": "lstm", "softmax": softmax},
                  "train": {"lr": lr, "optimizer": "sgd"}, "options": {}}
        return {"run_id": run_id, "label": "lstm+adaptive", "status": "ok", "seed": 0, "config": config,
                "metrics": {"valid_ppl": valid_ppl}}

    records = [record("a", 20.0, 150.0), record("b", 5.0, 180.0)]
    chosen = chosen_ids(records)
    assert chosen == {"a"}  # the lower validation perplexity (text_lm's tuning rule)
    assert distinguishing_labels(records, chosen) == {"a": "lr 20, chosen on validation", "b": "lr 5, not chosen"}


def test_words_are_spelt_the_way_the_models_corpus_wrote_them():
    from suite.evaluate.scoring import vocab_spelling

    wikitext = {w: i for i, w in enumerate(["The", "cats", "haven", "'t", "well", "@-@", "known", "the"])}
    assert vocab_spelling("haven't", wikitext) == (["haven", "'t"], True)  # WikiText: "haven 't"
    assert vocab_spelling("well-known", wikitext) == (["well", "@-@", "known"], True)
    assert vocab_spelling("The", wikitext) == (["The"], True)  # a cased corpus keeps case
    lower = {w: i for i, w in enumerate(["the", "cats", "don't"])}
    assert vocab_spelling("The", lower) == (["the"], True) and vocab_spelling("Don't", lower) == (["don't"], True)
    assert vocab_spelling("zebras", lower) == (["zebras"], False)  # unknown: <unk> or unscorable per --oov


def test_blimp_lines_with_unknown_words_are_scored_as_unk_or_left_unscored_per_policy(tmp_path):
    import torch
    from types import SimpleNamespace

    from suite.core.config import ModelConfig, RunConfig
    from suite.data.batches import Vocab
    from suite.evaluate.scoring import score_items
    from suite.evaluate.testsets import load_testset
    from suite.models.zoo import build_model

    lines = [{"sentence_good": "The cats sleep.", "sentence_bad": "The cats sleeps."},  # all known
             {"sentence_good": "The zebras sleep.", "sentence_bad": "The zebras sleeps."},  # zebras unknown
             {"sentence_good": "The cats purr.", "sentence_bad": "The cats purrs."}]  # both forms unknown
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    vocab = Vocab(["The", "cats", "sleep", "sleeps", "."])
    torch.manual_seed(0)
    saved = SimpleNamespace(vocab=vocab, tokenizer=None, run_id="r", model=build_model(ModelConfig("lstm", hidden=8),
                                                                                      len(vocab), "lm").eval(),
                            cfg=RunConfig("agreement", ModelConfig("lstm", hidden=8)))
    items = load_testset(path)
    unk = score_items(suite_word_lm(saved), items).summary()
    assert (unk["scored"], unk["set_aside"], unk["with_unknown"], unk["unscorable"], unk["oov"]) == (2, 1, 2, 0, "unk")
    skip = score_items(suite_word_lm(saved, oov="skip"), items).summary()
    assert (skip["scored"], skip["unscorable"], skip["with_unknown"], skip["oov"]) == (1, 2, 2, "skip")
