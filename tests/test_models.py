"""The model zoo: registry, the fused/step-by-step equivalence, initialisation, refusals."""
import pytest
import torch

from suite.core.config import ConfigError, ModelConfig
from suite.models.zoo import ARCHITECTURES, build_model, count_parameters, register_cell, spectral_radius

ZOO = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def test_registry_holds_the_four_recurrent_architectures():
    assert set(ZOO) <= set(ARCHITECTURES)


def test_unknown_architecture_names_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown architecture 'nope'; valid: .*lstm"):
        build_model(ModelConfig(arch="nope"), 10)


@pytest.mark.parametrize("arch", ZOO)
@pytest.mark.parametrize("layers,skip", [(1, "none"), (2, "none"), (3, "residual"), (2, "highway")])
def test_step_by_step_matches_fused_path(arch, layers, skip):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, layers=layers, hidden=12, embed=7, skip=skip), 30)
    tokens = torch.randint(0, 30, (3, 9))
    fused, fused_state = model(tokens)
    stepped, stepped_state, trace = model.step_by_step(tokens)
    assert torch.allclose(fused, stepped, atol=1e-5)
    for a, b in zip(torch.utils._pytree.tree_leaves(fused_state), torch.utils._pytree.tree_leaves(stepped_state)):
        assert torch.allclose(a, b, atol=1e-5)
    assert trace[0]["h"].shape == (3, 9, 12)
    assert ("c" in trace[0]) == (arch == "lstm")


@pytest.mark.parametrize("arch", ZOO)
def test_step_by_step_matches_fused_from_a_given_state_and_bidirectionally(arch):
    torch.manual_seed(1)
    model = build_model(ModelConfig(arch=arch, layers=2, hidden=8, bidirectional=True), 20, "tag", 5)
    tokens = torch.randint(0, 20, (2, 6))
    _, state = model(tokens)
    fused, _ = model(tokens, state)
    stepped, _, _ = model.step_by_step(tokens, state)
    assert torch.allclose(fused, stepped, atol=1e-5)


def test_probes_only_affect_later_steps():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="lstm", hidden=6), 10)
    tokens = torch.randint(0, 10, (1, 8))
    probes = {"h": torch.zeros(1, 8, 1, 6)}
    base, _, _ = model.step_by_step(tokens, probes=probes)
    probes["h"][0, 4] = 1.0
    moved, _, _ = model.step_by_step(tokens, probes=probes)
    changed = (base - moved).abs().amax(dim=-1)[0]
    assert torch.all(changed[:4] == 0) and torch.all(changed[4:] > 0)


def test_bidirectional_language_model_is_refused():
    with pytest.raises(ConfigError, match="bidirectional language model is impossible"):
        build_model(ModelConfig(bidirectional=True), 10, "lm")


@pytest.mark.parametrize("bad, message", [
    (dict(hidden=0), "model hidden must be an integer ≥ 1; got 0"),
    (dict(layers=0), "model layers must be an integer ≥ 1; got 0"),
    (dict(hidden=-3), "model hidden must be an integer ≥ 1; got -3"),
    (dict(embed=-1), "model embed must be an integer ≥ 0; got -1"),
    (dict(dropout=1.0), "model dropout must be a number in [0, 1); got 1.0"),
    (dict(init="xavier"), "model init must be one of default, orthogonal, identity; got 'xavier'"),
    (dict(skip="dense"), "model skip must be one of none, residual, highway; got 'dense'"),
    (dict(softmax="sampled"), "model softmax must be one of full, adaptive; got 'sampled'"),
    (dict(spectral_radius=-1.0), "model spectral_radius must be a number > 0 or null; got -1.0"),
    (dict(softmax="adaptive", adaptive_cutoffs=(0, 5)), "model adaptive_cutoffs must be a list of numbers ≥ 1; "
                                                        "got [0, 5]"),
    (dict(softmax="adaptive", adaptive_cutoffs=(5, 3)), "model adaptive_cutoffs must be increasing positive ranks; "
                                                        "got [5, 3]"),
])
def test_impossible_shapes_and_names_are_refused_in_one_line_saying_what_is_valid(bad, message):
    with pytest.raises(ConfigError) as err:
        build_model(ModelConfig(**bad), 10)
    assert str(err.value) == message


@pytest.mark.parametrize("arch", ZOO)
def test_recurrent_matrix_is_scaled_to_the_requested_spectral_radius(arch):
    model = build_model(ModelConfig(arch=arch, hidden=16, layers=2, spectral_radius=0.7), 10)
    gates = {"lstm": 4, "gru": 3}.get(arch, 1)
    for layer in model.recurrent_weights():
        for block in layer[0].chunk(gates, 0):
            assert spectral_radius(block).item() == pytest.approx(0.7, rel=1e-4)


def test_orthogonal_init_scaled_by_rho_has_all_singular_values_rho():
    model = build_model(ModelConfig(arch="rnn_tanh", hidden=16, init="orthogonal", spectral_radius=1.5), 10)
    singular = torch.linalg.svdvals(model.recurrent_weights()[0][0].detach())
    assert torch.allclose(singular, torch.full_like(singular, 1.5), atol=1e-4)


def test_identity_init_gives_the_identity_recurrent_matrix():
    model = build_model(ModelConfig(arch="rnn_relu", hidden=5, init="identity"), 10)
    assert torch.equal(model.recurrent_weights()[0][0].detach(), torch.eye(5))


def test_lstm_forget_gate_bias_is_set_in_total():
    model = build_model(ModelConfig(arch="lstm", hidden=4, forget_bias=1.0), 10)
    rnn = model.layers[0].rnn
    total = rnn.bias_ih_l0.detach() + rnn.bias_hh_l0.detach()
    assert torch.allclose(total[4:8], torch.ones(4))


def test_weight_tying_shares_the_matrix_and_needs_equal_sizes():
    tied = build_model(ModelConfig(hidden=8, tie_weights=True), 50)
    untied = build_model(ModelConfig(hidden=8), 50)
    assert tied.head.weight is tied.embedding.weight
    assert count_parameters(untied) - count_parameters(tied) == 50 * 8
    with pytest.raises(ConfigError, match="tie_weights"):
        build_model(ModelConfig(hidden=8, embed=4, tie_weights=True), 50)


def test_classify_head_pools_the_last_real_token_of_padded_sentences():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="gru", hidden=6), 12, "classify", 3).eval()
    sentence = torch.tensor([[4, 5, 6]])
    padded = torch.tensor([[4, 5, 6, 0, 0]])
    alone, _ = model(sentence)
    with_padding, _ = model(padded, lengths=torch.tensor([3]))
    assert torch.allclose(alone, with_padding, atol=1e-6)


class _Elman(torch.nn.Module):
    def __init__(self, input_size, hidden):
        super().__init__()
        self.hidden = hidden
        self.linear = torch.nn.Linear(input_size + hidden, hidden)

    def init_state(self, batch, device):
        return torch.zeros(batch, self.hidden, device=device)

    def forward(self, x, h):
        return torch.tanh(self.linear(torch.cat([x, h], 1)))


def test_a_custom_cell_registers_and_runs_like_the_zoo():
    register_cell("test_elman", _Elman, "test cell")
    try:
        model = build_model(ModelConfig(arch="test_elman", hidden=6, layers=2), 10)
        tokens = torch.randint(0, 10, (2, 5))
        out, _ = model(tokens)
        stepped, _, _ = model.step_by_step(tokens)
        assert out.shape == (2, 5, 10) and torch.allclose(out, stepped)
        with pytest.raises(ConfigError, match="does not support"):
            build_model(ModelConfig(arch="test_elman", spectral_radius=0.5), 10)
    finally:
        ARCHITECTURES.pop("test_elman")
