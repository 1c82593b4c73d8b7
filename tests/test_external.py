"""External models on the suite's items: a tiny random GPT-2 (no hub) and a user torch LM, against brute force."""
import json
import sys
import textwrap

import pytest
import torch

from suite.cli.main import main
from suite.data.batches import EOS
from suite.evaluate.scoring import score_items
from suite.evaluate.external import ExternalModelError, hf_word_lm, load_torch_model
from suite.evaluate.testsets import MinimalPair

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

# WordPiece pieces: "dogs", "cats" and "barks" are two pieces each (stem + "##s").
PIECES = ["[PAD]", "[UNK]", "<s>", "</s>", "the", "dog", "cat", "bark", "##s", "near", "."]
ITEMS = [
    MinimalPair((EOS, "the", "dog", "near", "the", "cats"), ("barks",), ("bark",), "a", attractors=1),
    MinimalPair((EOS, "the", "dogs"), ("bark", "."), ("barks", "."), "b", attractors=0),
    MinimalPair((EOS,), ("the", "dogs", "bark", EOS), ("the", "dogs", "barks", EOS), "blimp-like"),
    MinimalPair((EOS, "the", "cat"), ("barks",), ("bark",), "c", attractors=0),
]


def tiny_gpt2():
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece({p: i for i, p in enumerate(PIECES)}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                                     unk_token="[UNK]", pad_token="[PAD]")
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=32, vocab_size=len(PIECES),
                                     bos_token_id=2, eos_token_id=3)
    return transformers.GPT2LMHeadModel(config).eval(), tokenizer


def brute_force(model, tokenizer, item_prefix, continuation, bos: bool) -> float | None:
    """log P(continuation | prefix) from one unbatched pass over the text the words spell."""
    def ids(words):
        text = " ".join(w for w in words if w != EOS)
        start = [tokenizer.bos_token_id] if bos else []
        end = [tokenizer.eos_token_id] if words[-1] == EOS and len(words) > 1 else []
        return start + tokenizer(text, add_special_tokens=False)["input_ids"] + end
    prefix, full = ids(item_prefix), ids((*item_prefix, *continuation))
    if not prefix:
        return None
    assert full[:len(prefix)] == prefix
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([full])).logits[0], dim=-1)
    return sum(float(logp[t - 1, full[t]]) for t in range(len(prefix), len(full)))


@pytest.mark.parametrize("bos", ["bos", "none"])
def test_hf_scores_sum_subword_pieces_and_match_brute_force(bos):
    model, tokenizer = tiny_gpt2()
    assert len(tokenizer(" dogs", add_special_tokens=False)["input_ids"]) == 2  # really a multi-piece word
    lm = hf_word_lm(model, tokenizer, "tiny-gpt2", bos)
    scores = score_items(lm, ITEMS)
    expected = {}
    for index, item in enumerate(ITEMS):
        good = brute_force(model, tokenizer, item.prefix, item.correct, bos == "bos")
        if good is not None:
            expected[index] = good - brute_force(model, tokenizer, item.prefix, item.wrong, bos == "bos")
    assert {r["item"]: r["margin"] for r in scores.rows} == pytest.approx(expected, abs=1e-5)
    # Without a BOS token an item whose prefix has no word has no context: counted, not scored.
    assert scores.unscorable == (1 if bos == "none" else 0)


def test_batching_and_the_tokenizers_padding_side_never_change_a_score():
    model, tokenizer = tiny_gpt2()
    one_by_one = [r["margin"] for r in score_items(hf_word_lm(model, tokenizer, "t"), ITEMS, batch_size=1).rows]
    tokenizer.padding_side = "left"
    batched = [r["margin"] for r in score_items(hf_word_lm(model, tokenizer, "t"), ITEMS, batch_size=64).rows]
    assert batched == pytest.approx(one_by_one, abs=1e-5)


def _csv(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("prefix,correct,wrong,attractors\nthe dog near the cats,barks,bark,1\nthe dogs,bark,barks,0\n"
                    "the zebra,barks,bark,0\n")
    return path


def test_eval_hf_model_from_a_local_folder_then_from_the_cache(tmp_path, capsys):
    model, tokenizer = tiny_gpt2()
    folder = tmp_path / "tiny-gpt2"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    out = tmp_path / "out"
    args = ["eval", "--hf-model", str(folder), "--testset", str(_csv(tmp_path)), "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "on 2 items, 1 unscorable" in first
    assert main(args) == 0
    assert "(cached)" in capsys.readouterr().out
    [result] = [json.loads(p.read_text()) for p in (out / "evals").glob("hf-*/*.json")]
    assert result["model"]["name"] == str(folder) and result["model"]["bos"] == "bos"
    assert result["summary"]["oov_words"] == [["zebra", 1]]


def test_an_unknown_hf_model_offline_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["eval", "--hf-model", "no-such-org/no-such-model", "--testset", str(_csv(tmp_path)),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "cannot load Hugging Face model 'no-such-org/no-such-model': offline" in err


USER_MODULE = """
import torch
from suite.evaluate.external import TorchLM

WORDS = ["<s>", "the", "dog", "dogs", "cat", "cats", "near", "bark", "barks", "."]


class TinyLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(len(WORDS), 8)
        self.rnn = torch.nn.GRU(8, 8, batch_first=True)
        self.out = torch.nn.Linear(8, len(WORDS))

    def forward(self, ids):
        hidden, _ = self.rnn(self.embed(ids))
        return self.out(hidden), hidden  # a tuple: its first item is the logits


def build():
    torch.manual_seed(0)
    ids = {w: i for i, w in enumerate(WORDS)}
    return TorchLM(TinyLM(), lambda word: [ids[word]] if word in ids else [], bos_id=0)


def not_a_model():
    return 42
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_lm_for_tests.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_lm_for_tests"
    sys.modules.pop("user_lm_for_tests", None)


def test_a_user_torch_model_scores_like_brute_force(user_module):
    lm = load_torch_model(f"{user_module}:build")
    module = sys.modules[user_module]
    ids = {w: i for i, w in enumerate(module.WORDS)}
    for item in ITEMS[:2]:
        prefix = [0, *(ids[w] for w in item.prefix[1:])]
        margin = []
        for cont in (item.correct, item.wrong):
            seq = prefix + [ids[w] for w in cont]
            with torch.no_grad():
                logp = torch.log_softmax(lm.model.lm(torch.tensor([seq]))[0][0], dim=-1)
            margin.append(sum(float(logp[t - 1, seq[t]]) for t in range(len(prefix), len(seq))))
        [row] = score_items(lm, [item]).rows
        assert row["margin"] == pytest.approx(margin[0] - margin[1], abs=1e-5)


@pytest.mark.parametrize("spec,expected", [
    ("no_such_module_xyz:build", "cannot import module 'no_such_module_xyz'"),
    ("{m}:missing", "has no factory 'missing'"),
    ("{m}", "expects MODULE:FACTORY"),
    ("{m}:not_a_model", "must return suite.evaluate.external.TorchLM, not int"),
])
def test_a_bad_torch_model_is_one_line_exit_2(tmp_path, capsys, user_module, spec, expected):
    with pytest.raises(ExternalModelError, match=expected):
        load_torch_model(spec.format(m=user_module))
    code = main(["eval", "--torch-model", spec.format(m=user_module), "--testset", str(_csv(tmp_path)),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err


def test_one_failing_external_model_does_not_stop_the_others(tmp_path, capsys, user_module):
    code = main(["eval", "--torch-model", f"{user_module}:not_a_model", "--torch-model", f"{user_module}:build",
                 "--testset", str(_csv(tmp_path)), "--out", str(tmp_path / "out")])
    assert code == 2
    assert len(list((tmp_path / "out" / "evals").glob("torch-*/*.json"))) == 1
    failures = json.loads((tmp_path / "out" / "evals" / "failures.json").read_text())
    assert [f["model"] for f in failures] == [f"torch {user_module}:not_a_model"]


def test_external_models_take_the_suites_own_probes(tmp_path, capsys, user_module):
    out = tmp_path / "out"
    assert main(["eval", "--torch-model", f"{user_module}:build", "--probes", "--preset", "smoke",
                 "--out", str(out), "--quiet"]) == 0
    results = {p.stem: json.loads(p.read_text()) for p in (out / "evals").glob("torch-*/*.json")}
    assert set(results) == {"agreement-probes-smoke-seed0", "recall-probes-smoke-seed0"}
    for result in results.values():  # this toy vocabulary spells none of them: counted, never silent
        assert result["summary"]["items"] > 0 and result["summary"]["unscorable"] == result["summary"]["items"]
