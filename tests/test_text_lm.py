"""The natural-text LM task: perplexity per token and per word, skipping without a corpus, its report, and
the tokenizer encoder that lets the one minimal-pair scorer read text_lm models."""
import math

import pytest
import torch

from suite.run import sweep
from suite.cli.main import main
from suite.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.data.grammar import generate
from suite.judge.task_report import REPORTS
from suite.task import get_task
from suite.data.grammar_corpus import unigram_perplexity
from tasks.text_lm import first_words, init_output_layers, per_word_loss, time_to_target
from tasks.text_lm.report import with_common_target

TASK = get_task("text_lm")
REPORT = REPORTS["text_lm"]


@pytest.fixture(autouse=True)
def _private_caches(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "caches"
    monkeypatch.setenv("RECENCY_BENCH_CACHE", str(cache / "suite"))
    monkeypatch.setattr("tasks.text_lm.task.load_corpus",
                        lambda spec, cache_dir=None: _load(spec, cache / "hf"))


def _load(spec, cache_dir):
    from suite.data.corpora import load_corpus
    return load_corpus(spec, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small English-like corpus written by the test: train/valid/test from different seeds."""
    root = tmp_path_factory.mktemp("corpus")
    for split, (n, seed) in {"train": (800, 0), "valid": (80, 1), "test": (80, 2)}.items():
        lines = [" " + " ".join(s.tokens) + " " for s in generate(n, seed=seed)]
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def config(folder, seed=0, **options) -> RunConfig:
    return RunConfig("text_lm", ModelConfig(arch="lstm", hidden=16),
                     TrainConfig(optimizer="sgd", lr=20.0, clip=0.25, batch_size=4, bptt=12, steps=12,
                                 eval_every=6, eval_batches=3),
                     seed, {"corpus": str(folder), "eval_batch_size": 2, **options})


class Uniform(torch.nn.Module):
    """Every next token equally likely: perplexity per token is exactly the vocabulary size."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, tokens, state=None, lengths=None):
        return torch.zeros(*tokens.shape, self.vocab_size), None


def test_uniform_model_has_vocabulary_size_perplexity_per_token_and_per_word(folder):
    cfg = config(folder, eval_batch_size=1)
    data = TASK.prepare(cfg)
    v = len(data.vocab)
    metrics = TASK.evaluate(Uniform(v), data, cfg)
    assert metrics["test_ppl"] == pytest.approx(v, rel=1e-5)
    assert metrics["test_ppl_word"] == pytest.approx(v, rel=1e-5)  # word-level: a token is a word


def test_per_word_perplexity_for_subwords_normalises_by_words_in_the_text(folder):
    cfg = config(folder, tokenizer="bpe", vocab_size=60, eval_batch_size=1)
    data = TASK.prepare(cfg)
    tok, v = data.extra["tokenizer"], len(data.vocab)
    metrics = TASK.evaluate(Uniform(v), data, cfg)
    lines = (folder / "test.txt").read_text().splitlines()
    words = sum(len(line.split()) + 1 for line in lines)  # counted from the file, not the tokenizer
    pieces = sum(len(tok.processor.encode(line)) + 1 for line in lines)
    first_word_is_one_piece = len(tok.processor.encode(lines[0].split()[0])) == 1
    # One stream column: every token but the first is a target; a word counts when its last piece is.
    scored_words = words - first_word_is_one_piece
    assert metrics["test_ppl"] == pytest.approx(v, rel=1e-5)
    assert math.log(metrics["test_ppl_word"]) == pytest.approx((pieces - 1) * math.log(v) / scored_words, rel=1e-5)
    assert metrics["tokens_per_word"] == pytest.approx(pieces / words)


def test_per_word_loss_on_a_hand_made_stream():
    from suite.data.batches import StreamBatcher
    ids = torch.arange(9)
    batcher = StreamBatcher(ids, batch_size=2, bptt=3)  # scores ids[1:9]: 8 targets
    ends = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0, 1])  # word ends among ids[1:9]: 4
    assert per_word_loss(0.5, batcher, ends) == pytest.approx(0.5 * 8 / 4)


def test_run_trains_reports_every_metric_and_repeats_exactly(folder):
    first = TASK.run(config(folder, target_ppl=1e6))
    second = TASK.run(config(folder, target_ppl=1e6))
    m = first.metrics
    timing = ("seconds_to_target",)  # wall-clock: the one metric that may differ between repeats
    assert first.training.status == "ok"
    assert {k: v for k, v in m.items() if k not in timing} == {k: v for k, v in second.metrics.items()
                                                                  if k not in timing}
    assert m["test_ppl"] == pytest.approx(m["test_ppl_word"])
    assert 1 < m["valid_ppl"] < m["vocab_size"]  # learnt something beyond uniform in 12 steps
    assert m["steps_to_target"] == 6 and m["seconds_to_target"] > 0  # first validation already ≤ 1e6
    assert second.extra["corpus"]["tokenizer_cache_hit"] is True  # the first run fitted or reused it
    assert second.extra["corpus"]["corpus_cache_hit"] is True
    assert TASK.run(config(folder, seed=1)).metrics != m


def test_init_range_sets_embedding_and_output_like_pytorch_examples():
    from suite.models.zoo import build_model
    model = build_model(ModelConfig(arch="gru", hidden=8), 50)
    init_output_layers(model, 0.1)
    for w in (model.embedding.weight, model.head.weight):
        assert w.abs().max() <= 0.1 and w.std() > 0.04  # U(−0.1, 0.1) has std 0.0577
    assert torch.equal(model.head.bias, torch.zeros(50))


def test_first_words_takes_whole_lines_until_the_budget_is_reached():
    lines = ["a b", "", "c d e", "f"]
    assert first_words(lines, 0) == lines
    assert first_words(lines, 3) == ["a b"]  # 2 words + <eos>
    assert first_words(lines, 4) == ["a b", ""]
    assert first_words(lines, 5) == ["a b", "", "c d e"]


def test_time_to_target_reads_the_first_validation_at_or_below_it():
    curve = [{"step": 10, "train_loss": 5.0}, {"step": 20, "valid_loss": math.log(300)},
             {"step": 40, "valid_loss": math.log(150)}, {"step": 60, "valid_loss": math.log(120)}]
    assert time_to_target(curve, 150.0, train_seconds=30.0, steps=60) == (40, 20.0)
    assert time_to_target(curve, 100.0, train_seconds=30.0, steps=60) == (None, None)


def test_unigram_perplexity_closed_form():
    train, test = torch.tensor([0, 0, 1]), torch.tensor([0, 1])
    # add-one over 3 types: P(0) = 3/6, P(1) = 2/6
    assert unigram_perplexity(train, test, 3) == pytest.approx(math.exp(-(math.log(3 / 6) + math.log(2 / 6)) / 2))


def record(label, seed, ppls, seconds, corpus="c", status="ok", lr=20.0):
    steps = 10 * len(ppls)
    return {"run_id": f"{label}{seed}{corpus}{lr}", "label": label, "status": status, "parameters": 100,
            "tokens_per_second": 1000.0, "wall_seconds": 5.0,
            "config": {"task": "text_lm", "seed": seed, "train": {"lr": lr},
                       "model": {"arch": label, "layers": 1, "hidden": 8, "skip": "none", "bidirectional": False},
                       "options": {"corpus": corpus, "tokenizer": "word", "vocab_size": 0, "max_train_words": 0}},
            "metrics": {"valid_ppl": ppls[-1], "test_ppl": ppls[-1], "valid_ppl_word": ppls[-1],
                        "test_ppl_word": ppls[-1]},
            "training": {"steps": steps, "train_seconds": seconds,
                         "curve": [{"step": 10 * (i + 1), "valid_loss": math.log(p)} for i, p in enumerate(ppls)]}}


def test_common_target_is_the_weakest_runs_best_perplexity():
    runs = [record("lstm", 0, [400, 200, 100], 30.0), record("rnn_tanh", 0, [500, 300, 250], 3.0),
            record("gru", 0, [900, 800], 10.0, status="diverged")]
    out = {r["label"]: r["metrics"] for r in with_common_target(runs)}
    assert out["lstm"]["common_target_ppl"] == pytest.approx(250)
    assert out["lstm"]["seconds_to_common_target"] == pytest.approx(20.0)  # step 20 of 30 at 1 s/step
    assert out["rnn_tanh"]["seconds_to_common_target"] == pytest.approx(3.0)


def test_table_keeps_corpora_apart_and_averages_seeds_on_the_log_scale():
    runs = [record("lstm", 0, [100], 1.0), record("lstm", 1, [120], 1.0), record("lstm", 0, [50], 1.0, corpus="d")]
    table = REPORT.tables(runs)["text_lm_perplexity"]
    assert list(zip(table["corpus"], table["runs"])) == [("c", 2), ("d", 1)]
    assert table["test_ppl"].tolist() == pytest.approx([math.sqrt(100 * 120), 50.0])  # exp of the mean loss


def test_no_corpus_skips_the_task_in_a_preset_with_one_notice():
    notices = []
    configs = sweep.expand(sweep.PRESETS["quick"], sweep.Overrides(), notices)
    assert "text_lm" not in {c.task for c in configs}
    notices = [line for line in notices if "text_lm" in line]
    assert len(notices) == 1 and "--corpus" in notices[0]


def test_every_family_gets_two_learning_rates_from_its_own_recipe(folder):
    # The LSTM recipe's SGD lr 20 made a ReLU RNN diverge on WikiText-2; vanilla RNNs start 4× lower.
    over = sweep.Overrides(tasks=("text_lm",), archs=("rnn_tanh", "rnn_relu", "lstm", "gru", "transformer"),
                           options={"corpus": str(folder)})
    recipes: dict[str, list] = {}
    for c in sweep.expand(sweep.PRESETS["quick"], over):
        recipes.setdefault(c.model.arch, []).append((c.train.optimizer, c.train.lr))
    assert recipes == {"rnn_tanh": [("sgd", 5.0), ("sgd", 1.25)], "rnn_relu": [("sgd", 5.0), ("sgd", 1.25)],
                       "lstm": [("sgd", 20.0), ("sgd", 5.0)], "gru": [("sgd", 20.0), ("sgd", 5.0)],
                       "transformer": [("adamw", 1e-3), ("adamw", 2.5e-4)]}


def test_standard_leaves_the_relu_rnn_out_and_the_paper_preset_runs_it():
    # No claim reads text_lm's ReLU RNN; at standard its runs cost 7.5 of the pilot's 125 run-minutes.
    assert TASK.variants(ModelConfig(arch="rnn_relu"), "standard") == []
    assert len(TASK.variants(ModelConfig(arch="rnn_relu"), "paper")) == 2
    assert len(TASK.variants(ModelConfig(arch="rnn_tanh"), "standard")) == 2  # the vanilla positive control


def test_tables_read_the_learning_rate_each_seed_chose_on_validation():
    runs = [record("gru", 0, [300, 280], 1.0, lr=20.0), record("gru", 0, [250, 200], 1.0, lr=5.0),
            record("gru", 1, [240, 210], 1.0, lr=20.0), record("gru", 1, [260, 230], 1.0, lr=5.0),
            record("lstm", 0, [230, 220], 1.0, lr=20.0), record("lstm", 0, [900], 1.0, lr=5.0, status="diverged")]
    runs[-1]["metrics"] = {}  # a diverged run has no validation perplexity: never chosen
    tables = REPORT.tables(runs)
    perplexity = tables["text_lm_perplexity"].set_index("model")
    assert perplexity.loc["gru", "runs"] == 2 and perplexity.loc["lstm", "runs"] == 1
    assert perplexity.loc["gru", "test_ppl"] == pytest.approx(math.sqrt(200 * 210))  # lr 5 for seed 0, 20 for 1
    tuning = tables["text_lm_tuning"].set_index(["model", "seed"])
    assert tuning["chosen_lr"].to_dict() == {("gru", 0): 5.0, ("gru", 1): 20.0, ("lstm", 0): 20.0}
    assert tuning.loc[("lstm", 0), "valid_ppl at lr 5"] == "diverged"


def test_naming_the_task_without_a_corpus_is_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--preset", "quick", "--tasks", "text_lm", "--dry-run"])
    assert info.value.code == 2 and "--corpus" in capsys.readouterr().err


def test_corpus_flag_is_sugar_for_the_corpus_option(folder, capsys):
    assert main(["--preset", "quick", "--tasks", "text_lm", "--corpus", str(folder), "--dry-run"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 4 * 2 and all(f"'corpus': '{folder}'" in row for row in rows)  # 4 models × 2 rates


def test_an_empty_corpus_file_stops_the_cli_before_training(folder, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for split in ("train", "valid", "test"):
        (bad / f"{split}.txt").write_text((folder / f"{split}.txt").read_text() if split != "valid" else "")
    with pytest.raises(SystemExit) as info:
        main(["--preset", "quick", "--tasks", "text_lm", "--corpus", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and str(bad / "valid.txt") in err[0]


def test_bad_options_are_config_errors_naming_option_and_range(folder):
    for options, says in (({"tokenizer": "chars"}, "one of word, unigram, bpe"),
                          ({"max_train_words": -1}, "max_train_words must be an integer ≥ 0"),
                          ({"eval_batch_size": 0}, "eval_batch_size must be an integer ≥ 1"),
                          ({"vocab_size": "abc"}, "vocab_size must be an integer ≥ 0; got 'abc'")):
        with pytest.raises(ConfigError, match=says):
            TASK.validate(config(folder, **options))


def test_agreement_testset_is_not_a_training_option(folder):
    # Minimal-pair sets are scored on saved models by `run_suite.py eval --testset FILE`.
    with pytest.raises(ConfigError, match="unknown text_lm option 'agreement_testset'; valid: .*agreement_items"):
        TASK.options(config(folder, agreement_testset="pairs.csv"))


@pytest.mark.parametrize("name, valid", [("vocab_size", "an integer ≥ 0"), ("max_train_words", "an integer ≥ 0"),
                                         ("eval_batch_size", "an integer ≥ 1")])
def test_a_malformed_option_on_the_command_line_is_one_line_and_exit_2(folder, tmp_path, capsys, name, valid):
    with pytest.raises(SystemExit) as info:
        main(["--preset", "quick", "--tasks", "text_lm", "--corpus", str(folder), "--option", f"{name}=abc",
              "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert f"text_lm option {name} must be {valid}; got 'abc'" in err[0]
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_corpus_too_small_for_one_batch_stops_before_training(tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    for split in ("train", "valid", "test"):
        (tiny / f"{split}.txt").write_text("a b c d\n")
    with pytest.raises(ConfigError, match="the corpus's train split has 5 tokens, too few for one batch"):
        get_task("text_lm").validate(RunConfig("text_lm", train=TrainConfig(batch_size=4, bptt=8),
                                               options={"corpus": str(tiny)}))


def test_an_owner_slash_name_hub_corpus_is_not_taken_for_a_local_folder(tmp_path, monkeypatch):
    from suite.data.corpora import is_local

    monkeypatch.chdir(tmp_path)
    assert not is_local("Salesforce/wikitext") and is_local("./data") and is_local("corpus.txt")
    (tmp_path / "data").mkdir()
    assert is_local("data/wikitext")  # its first part is a local folder: a (mistyped) path, not the hub


def test_a_hub_name_is_checked_up_front_in_one_line(monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("no route to host")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.HfApi.dataset_info", unreachable)
    with pytest.raises(ConfigError, match="cannot reach the Hugging Face hub to check corpus 'wikitxt:x'"):
        get_task("text_lm").validate(RunConfig("text_lm", options={"corpus": "wikitxt:x"}))
