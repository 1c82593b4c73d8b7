"""Evaluating a model that already exists: scores against brute force, the cache, and `run_suite.py eval`."""
import json

import pandas as pd
import pytest
import torch
from statsmodels.stats.proportion import proportion_confint

import suite.training.trainer
from suite.run.checkpoints import WEIGHTS, model_dir, save_model_files, save_run_model
from suite.cli.main import main
from suite.core.config import ModelConfig, RunConfig
from suite.data.batches import EOS, Vocab
from suite.evaluate.scoring import WordLM, evaluate_testset, score_items, suite_word_lm, digest_of_testset
from suite.run.evals_cache import cached_eval, eval_path
from suite.judge.eval_tables import eval_tables
from suite.run.checkpoints import load_saved_model
from suite.core.items import from_compact, to_compact
from suite.models.zoo import build_model
from suite.run.records import finished_records_of, record_path
from suite.core.files import write_json_atomic
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import get_task
from suite.evaluate.testsets import MinimalPair, load_testset, score_pairs

WORDS = ["the", "dog", "dogs", "barks", "bark", "near", "cat", "cats", "."]
CSV = """prefix,correct,wrong,attractors
the dog near the cats,barks,bark,1
the dogs,bark,barks,0
the dog,barks,bark,0
the dogs near the cat,bark,barks,1
the zebra,barks,bark,0
"""


def _lm(seed=0):
    torch.manual_seed(seed)
    vocab = Vocab(WORDS)
    model = build_model(ModelConfig("lstm", hidden=8), len(vocab), "lm").eval()
    encode = lambda w, first: [vocab.stoi[w]] if w in vocab.stoi else None  # noqa: E731
    return WordLM("m", model, encode, vocab.eos_id, vocab.eos_id), vocab


def brute_force(model, prefix: list[int], continuation: list[int]) -> float:
    """log P(continuation | prefix): one unbatched forward pass over the whole sequence."""
    seq = prefix + continuation
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([seq]))[0][0], dim=-1)
    return sum(float(logp[t - 1, seq[t]]) for t in range(len(prefix), len(seq)))


def test_margins_equal_brute_force_and_unknown_words_are_counted(tmp_path):
    (tmp_path / "set.csv").write_text(CSV)
    items = load_testset(tmp_path / "set.csv")
    lm, vocab = _lm()
    scores = score_items(lm, items, batch_size=2)  # batches of mixed lengths
    assert [r["item"] for r in scores.rows] == [0, 1, 2, 3]
    for row in scores.rows:
        item = items[row["item"]]
        prefix = vocab.encode(item.prefix)
        expected = brute_force(lm.model, prefix, vocab.encode(item.correct)) - brute_force(
            lm.model, prefix, vocab.encode(item.wrong))
        assert row["margin"] == pytest.approx(expected, abs=1e-5)
        assert row["correct"] == (expected > 0)
        assert row["attractors"] == item.attractors and row["source"] == item.source
    assert scores.unscorable == 1 and scores.oov_words == [("zebra", 1)]
    summary = scores.summary()
    assert (summary["items"], summary["scored"], summary["unscorable"]) == (5, 4, 1)
    errors = sum(not r["correct"] for r in scores.rows)
    low, high = proportion_confint(errors, 4, method="wilson")
    assert summary["error_rate"] == errors / 4
    # suite.stats rounds z to 1.96; statsmodels uses 1.95996…: they agree to ~1e-5 here.
    assert (summary["error_low"], summary["error_high"]) == pytest.approx((low, high), abs=1e-4)
    assert sum(v["n"] for v in summary["by_attractors"].values()) == 4


def test_the_suite_scorer_gives_the_same_margins_as_score_pairs():
    lm, vocab = _lm(seed=1)
    items = [MinimalPair((EOS, "the", "dogs", "near", "the", "cat"), ("bark",), ("barks",)),
             MinimalPair((EOS, "the", "dog"), ("barks", "."), ("bark", "."))]
    reference = score_pairs(lm.model, items, vocab)
    assert [r["margin"] for r in score_items(lm, items).rows] == pytest.approx(reference.margins, abs=1e-6)


class Constant(torch.nn.Module):
    def forward(self, tokens, state=None, lengths=None):
        return torch.zeros(*tokens.shape, len(WORDS) + 3), None


def test_a_tie_is_an_error():
    vocab = Vocab(WORDS)
    lm = WordLM("c", Constant(), lambda w, first: [vocab.stoi[w]], vocab.eos_id, vocab.eos_id)
    rows = score_items(lm, [MinimalPair((EOS, "the"), ("dog",), ("cat",))]).rows
    assert rows[0]["margin"] == 0 and rows[0]["correct"] is False


def test_item_rows_round_trip_through_the_compact_form():
    lm, _ = _lm()
    rows = score_items(lm, [MinimalPair((EOS, "the"), ("dog",), ("cat",), "x:2", attractors=0)]).rows
    compact = json.loads(json.dumps(to_compact(rows)))
    assert compact["columns"][:4] == ["item", "source", "correct", "margin"]
    pd.testing.assert_frame_equal(from_compact(compact), pd.DataFrame(rows)[compact["columns"]])


def test_a_second_evaluation_is_a_cache_hit_and_a_corrupt_entry_is_redone(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text(CSV)
    lm, _ = _lm()
    first, hit = evaluate_testset(lm, path, tmp_path)
    assert not hit
    again, hit = evaluate_testset(lm, path, tmp_path)
    assert hit and again == first
    target = eval_path(tmp_path, "m", digest_of_testset(path))
    target.write_text(target.read_text()[:50])
    assert cached_eval(target) is None
    assert evaluate_testset(lm, path, tmp_path)[1] is False
    path.write_text(CSV.replace("the dogs,bark,barks,0\n", ""))  # new content: a new cache entry
    assert digest_of_testset(path) != target.stem


# --------------------------------------------------------------------------- saved runs, end to end

SWEEP = ["--preset", "smoke", "--tasks", "agreement", "--archs", "lstm", "--steps", "3",
         "--option", "train_sentences=300", "--option", "items_per_cell=2"]
SMALL = {"train_sentences": 300, "items_per_cell": 2}


def _grammar_csv(tmp_path):
    path = tmp_path / "grammar.csv"
    path.write_text("prefix,correct,wrong,attractors\n"
                    "the writer near the critics,is,are,1\nthe authors,have,has,0\n"
                    "the teacher,likes,like,0\nthe qwzx,is,are,0\n")
    return path


def test_eval_scores_saved_runs_without_training_and_equals_the_end_of_training(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    cfg = expand(PRESETS["smoke"], Overrides(tasks=("agreement",), archs=("lstm",), steps=3,
                                                      options=SMALL))[0]
    task = get_task("agreement")
    outcome = task.run(cfg)
    save_run_model(out, cfg, outcome)  # what the runner does after a finished run (--save-models) …
    write_json_atomic(record_path(out, cfg.run_id), {"run_id": cfg.run_id, "label": cfg.model.label,  # … and
                      "config": cfg.to_dict(), "status": "ok", "metrics": outcome.metrics})  # its record
    testset = _grammar_csv(tmp_path)
    at_end = score_pairs(outcome.model, load_testset(testset), outcome.vocab)

    def no_training(*args, **kwargs):
        raise AssertionError("eval must not train")
    monkeypatch.setattr(suite.training.trainer, "fit", no_training)
    monkeypatch.setattr("suite.task.fit", no_training)
    assert main(["eval", *SWEEP, "--out", str(out), "--testset", str(testset), "--probes", "--oov", "skip",
                 "--quiet"]) == 0
    result, hit = evaluate_testset(suite_word_lm(load_saved_model(out, cfg.run_id), oov="skip"), testset, out)
    assert hit
    # bit-identical: the loaded model is the trained one (skip: score_pairs' own policy)
    assert list(from_compact(result["item_rows"])["margin"]) == at_end.margins
    assert result["summary"]["unscorable"] == 1 and result["summary"]["oov_words"] == [["qwzx", 1]]
    assert result["summary"]["with_unknown"] == 1 and result["summary"]["oov"] == "skip"  # counted either way
    # --oov unk (the default for word-level models) scores that item too, with qwzx as <unk>
    unk, hit = evaluate_testset(suite_word_lm(load_saved_model(out, cfg.run_id)), testset, out)
    assert not hit and unk["summary"]["scored"] == len(at_end.margins) + 1 and unk["summary"]["unscorable"] == 0
    assert unk["summary"]["with_unknown"] == 1 and unk["summary"]["oov"] == "unk"
    probes = json.loads((out / "evals" / cfg.run_id / "task-probes.json").read_text())
    assert probes["summary"] == json.loads(json.dumps(task.evaluate(outcome.model, task.prepare(cfg), cfg)))
    table = eval_tables(out)["eval_attractors"]
    assert set(table["attractors"]) == {0, 1} and set(table["model"]) == {"lstm"}
    assert (out / "tables" / "eval_attractors.csv").is_file()
    assert len(list((out / "runs").glob("*.json"))) == 1  # eval never writes run records


def test_save_models_on_the_command_line_then_a_damaged_model_fails_alone(tmp_path, capsys):
    out = tmp_path / "out"
    args = [*SWEEP, "--seeds", "0,1", "--out", str(out), "--workers", "1", "--quiet"]
    assert main([*SWEEP, "--seeds", "0", "--out", str(out), "--workers", "1", "--quiet"]) == 0  # no weights kept
    assert not list((out / "runs").glob("*.model"))
    assert main([*args, "--save-models"]) == 0  # the cached seed-0 run retrains once to keep its weights
    configs = expand(PRESETS["smoke"], Overrides(tasks=("agreement",), archs=("lstm",), steps=3, seeds=(0, 1),
                                                 options=SMALL))
    run_ids = [r["run_id"] for r in finished_records_of(out, configs)]
    assert len(run_ids) == 2
    records = {r: json.loads((out / "runs" / f"{r}.json").read_text()) for r in run_ids}
    assert all(rec["saved_model"] == f"runs/{r}.model" for r, rec in records.items())
    weights = model_dir(out, run_ids[1]) / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:1000])
    capsys.readouterr()
    code = main(["eval", *SWEEP, "--seeds", "0,1", "--out", str(out), "--testset", str(_grammar_csv(tmp_path))])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "truncated or corrupt" in captured.err and run_ids[1] in captured.err
    assert (out / "evals" / run_ids[0]).is_dir() and not (out / "evals" / run_ids[1]).exists()
    assert json.loads((out / "evals" / "failures.json").read_text())[0]["model"] == f"run {run_ids[1]}"


@pytest.mark.parametrize("args,expected", [
    ([], "nothing to score"),
    (["--testset", "{bad}"], "bad.csv:1: the header must contain prefix, correct and wrong"),
    (["--testset", "{good}", "--preset", "huge"], "unknown preset 'huge'"),
    (["--testset", "{good}", "--runs", "{missing}"], "not a folder"),
    (["--testset", "{good}", "--tasks", "agreement", "--archs", "nope"], "unknown architecture 'nope'"),
])
def test_bad_eval_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, expected):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    (tmp_path / "good.csv").write_text(CSV)
    paths = {"bad": tmp_path / "bad.csv", "good": tmp_path / "good.csv", "missing": tmp_path / "nowhere"}
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--out", str(out), *(a.format(**paths) for a in args)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and expected in err and err.count("\n") == 1
    assert not out.exists()


def test_recall_probes_as_choices_agree_with_the_recall_tasks_own_scoring():
    from suite.evaluate.probes import Choice, load_probes, prepared_data
    from suite.evaluate.scoring import score_choices
    from tasks.recall import distance_rows

    provider = load_probes()["recall"]
    assert provider.kind is Choice
    data = prepared_data("recall", 0, "smoke")
    torch.manual_seed(0)
    model = build_model(ModelConfig("lstm", hidden=8), len(data.vocab), "lm").eval()
    vocab = data.vocab
    # The recall task reads test-filler words it never trained on as <unk>: the same policy here.
    lm = WordLM("r", model, lambda w, first: [vocab.stoi.get(w, vocab.unk_id)], vocab.eos_id, vocab.eos_id)
    frame = pd.DataFrame(score_choices(lm, provider.items(0, "smoke")).rows)
    reference = distance_rows(model, data.extra["test"], vocab, data.extra["items"], data.extra["trained_max"])
    for row in reference:  # argmax over the K items there; a strict win here (no ties occur)
        assert frame[frame["distance"] == row["d"]]["correct"].sum() == row["correct"]


# --------------------------------------------------------------------------- task probes (suite.evaluate.probes)


def test_the_task_packages_offer_their_probes_through_the_registry():
    from suite.evaluate.probes import Choice, load_probes

    providers = load_probes()  # tasks/agreement/probes.py and tasks/recall/probes.py, imported on demand
    assert {name: p.kind for name, p in providers.items()} == {"agreement": MinimalPair, "recall": Choice}
    assert list(providers) == ["agreement", "recall"]  # the order `eval` scores them in
    assert providers["agreement"].name(3, "smoke") == "agreement-probes-smoke-seed3"  # the cache name, as before
    pairs = providers["agreement"].items(0, "smoke")
    assert pairs and all(isinstance(p, MinimalPair) for p in pairs)


def test_a_providers_pairs_are_scored_as_minimal_pairs_and_cached_under_its_name(tmp_path):
    from suite.evaluate.probes import ProbeProvider
    from suite.evaluate.scoring import evaluate_task_probes

    lm, vocab = _lm()
    items = [MinimalPair(("the", "dogs"), ("bark",), ("barks",)),
             MinimalPair(("the", "dog", "near", "the", "cats"), ("barks",), ("bark",))]
    made = []
    provider = ProbeProvider("toy", lambda seed, size: made.append((seed, size)) or items)
    result, hit = evaluate_task_probes(lm, provider, 3, "smoke", tmp_path)
    assert not hit and made == [(3, "smoke")] and result["testset"] == "toy-probes-smoke-seed3"
    expected = [brute_force(lm.model, vocab.encode(i.prefix), vocab.encode(i.correct))
                - brute_force(lm.model, vocab.encode(i.prefix), vocab.encode(i.wrong)) for i in items]
    assert from_compact(result["item_rows"])["margin"].tolist() == pytest.approx(expected, abs=1e-5)
    again, hit = evaluate_task_probes(lm, provider, 3, "smoke", tmp_path)
    assert hit and again == result and made == [(3, "smoke")]  # a cache hit makes no items
    assert eval_path(tmp_path, "m", "toy-probes-smoke-seed3").is_file()


def test_a_providers_choices_are_scored_against_the_best_other_option(tmp_path):
    from suite.evaluate.probes import Choice, ProbeProvider
    from suite.evaluate.scoring import evaluate_task_probes

    lm, vocab = _lm(seed=2)
    options = ("barks", "bark", "cats")
    provider = ProbeProvider("toy", lambda seed, size: [Choice(("the", "dog"), options, 0, "toy", 4)], Choice)
    result, _ = evaluate_task_probes(lm, provider, 0, "quick", tmp_path)
    logp = [brute_force(lm.model, vocab.encode(("the", "dog")), vocab.encode((w,))) for w in options]
    row = from_compact(result["item_rows"]).iloc[0]
    assert row["margin"] == pytest.approx(logp[0] - max(logp[1:]), abs=1e-5)
    assert row["correct"] == (logp[0] > max(logp[1:])) and row["distance"] == 4


def test_a_provider_of_another_kind_of_item_is_refused_when_it_registers():
    from suite.evaluate.probes import PROVIDERS, register_probes

    with pytest.raises(ValueError, match="kind must be one of MinimalPair, Choice, not dict"):
        register_probes("toy", kind=dict)
    assert "toy" not in PROVIDERS
