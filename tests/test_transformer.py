"""The Transformer reference: causal, padding-safe, same interface as the recurrent zoo, and it learns."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from suite.core.config import ConfigError, ModelConfig, TrainConfig
from suite.data.batches import Example, StreamBatcher, collate
from suite.models.zoo import ARCHITECTURES, build_model, validate_model_config
from suite.models.scoring import continuation_logprobs
from suite.training.trainer import evaluate_loss, fit
from suite.models.transformer import (MAX_LEARNED_POSITIONS, causal_mask, heads_for, sinusoidal_positions)

torch.set_num_threads(1)
ARCHS = ["transformer", "transformer_learned"]


def tiny(arch="transformer", objective="lm", outputs=None, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, layers=2, hidden=32, **kw)
    return build_model(cfg, 20, objective, outputs).eval()


def test_registered_as_a_non_recurrent_architecture():
    for name in ARCHS:
        assert name in ARCHITECTURES
        assert not ARCHITECTURES[name].recurrent and not ARCHITECTURES[name].tunable_init


def test_sinusoidal_positions_match_the_closed_form():
    table = sinusoidal_positions(10, 6)
    for p in range(10):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_causal_mask_allows_only_the_past():
    mask = causal_mask(4)
    for i in range(4):
        for j in range(4):
            assert (mask[i, j] == 0) == (j <= i)


def test_heads_divide_the_width_with_at_least_16_dimensions():
    assert heads_for(128) == 8 and heads_for(64) == 4 and heads_for(32) == 2 and heads_for(24) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_interface_returns_logits_and_no_state(arch):
    model = tiny(arch)
    logits, state = model(torch.randint(0, 20, (3, 9)), state="ignored")
    assert logits.shape == (3, 9, 20) and state is None


@pytest.mark.parametrize("arch", ARCHS)
@settings(max_examples=10, deadline=None)
@given(cut=st.integers(1, 8), seed=st.integers(0, 1000))
def test_changing_future_tokens_never_changes_past_outputs(arch, cut, seed):
    model = tiny(arch)
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 20, (2, 9), generator=g)
    b = a.clone()
    b[:, cut:] = torch.randint(0, 20, (2, 9 - cut), generator=g)
    with torch.no_grad():
        la, _ = model(a)
        lb, _ = model(b)
    assert torch.allclose(la[:, :cut], lb[:, :cut], atol=1e-5)


@pytest.mark.parametrize("objective", ["tag", "classify"])
def test_padded_batch_gives_the_same_outputs_as_each_sentence_alone(objective):
    model = tiny(objective=objective, outputs=3)
    sentences = [[3, 4, 5, 6, 7, 8], [9, 10], [11, 12, 13, 14]]
    target = (lambda s: [0] * len(s)) if objective == "tag" else (lambda s: 0)
    batch = collate([Example(s, target(s)) for s in sentences])
    with torch.no_grad():
        padded, _ = model(batch.inputs, lengths=batch.lengths)
        for row, s in enumerate(sentences):
            alone, _ = model(torch.tensor([s]), lengths=torch.tensor([len(s)]))
            got = padded[row, :len(s)] if objective == "tag" else padded[row]
            assert torch.allclose(got, alone[0], atol=1e-5)


def test_probe_scores_equal_a_hand_computed_log_probability():
    model = tiny()
    prefix, cont = [3, 4, 5], [6, 7]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([prefix + cont[:-1]]))[0][0], -1)
    expected = float(logp[2, 6] + logp[3, 7])
    assert continuation_logprobs(model, [prefix], [cont])[0] == pytest.approx(expected, abs=1e-4)


def test_configs_it_cannot_honour_are_refused_up_front():
    with pytest.raises(ConfigError, match="bidirectional"):
        validate_model_config(ModelConfig(arch="transformer", bidirectional=True), "tag")
    with pytest.raises(ConfigError, match="residual already"):
        validate_model_config(ModelConfig(arch="transformer", layers=2, skip="residual"), "lm")
    with pytest.raises(ConfigError, match="spectral_radius"):
        validate_model_config(ModelConfig(arch="transformer", spectral_radius=0.9), "lm")


def test_learned_positions_refuse_sequences_longer_than_their_table():
    model = tiny("transformer_learned")
    with pytest.raises(ConfigError, match="longer than the learned position table"):
        model(torch.zeros(1, MAX_LEARNED_POSITIONS + 1, dtype=torch.long))


def test_tied_weights_share_one_matrix():
    model = tiny(tie_weights=True)
    assert model.head.weight is model.embedding.weight


@pytest.mark.parametrize("arch", ARCHS)
def test_learns_a_periodic_stream_that_needs_context(arch):
    # 0 1 2 3 1 0 …: token 1 is followed by 2 or by 0 depending on what came before it, so
    # the loss can only fall near zero if the model attends to earlier positions.
    stream = torch.tensor([0, 1, 2, 3, 1, 0] * 200)
    train, valid = StreamBatcher(stream, 8, 12), StreamBatcher(stream[:300], 4, 12)
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, layers=1, hidden=32), 4, "lm")
    result = fit(model, train, valid, TrainConfig(steps=150, lr=3e-3, batch_size=8, bptt=12), seed=0)
    assert result.status == "ok"
    # A model that sees only the current token is stuck at (2/6)·ln 2 ≈ 0.23 nats per token.
    assert evaluate_loss(model, valid) < 0.1
