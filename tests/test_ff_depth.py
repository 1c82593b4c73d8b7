"""ff_depth: the feed-forward n-gram LM (its window reads on across BPTT windows, residual skips are identities),
the back-propagated signal meter against autograd, the grid a sweep makes and what it refuses."""
import math

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig
from suite.run.sweep import PRESETS, Overrides, expand
from suite.task import check_run_config, get_task
from suite.training.trainer import loss_fn
from tasks.depth.feedforward import CONTEXT, FeedForwardLM, SignalMeter

torch.set_num_threads(1)
TASK = get_task("ff_depth")
PAD = 0


def model(layers=3, skip="none", arch="rnn_tanh", seed=0):
    torch.manual_seed(seed)
    return FeedForwardLM(ModelConfig(arch=arch, layers=layers, hidden=8, embed=4, skip=skip), 12, PAD)


def test_each_position_sees_exactly_the_previous_context_tokens_and_a_stream_reads_on_across_windows():
    net = model()
    tokens = torch.randint(1, 12, (2, 10), generator=torch.Generator().manual_seed(1))
    whole, _ = net(tokens)
    first, state = net(tokens[:, :6])
    second, _ = net(tokens[:, 6:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)  # the state carries the window on
    changed = tokens.clone()
    changed[:, 2] = (changed[:, 2] % 11) + 1  # a different token at position 2
    out, _ = net(changed)
    moved = (out - whole).abs().amax(dim=(0, 2)) > 0
    # position t reads tokens t−CONTEXT+1 … t: a change at 2 reaches positions 2 … 2+CONTEXT−1 only
    assert moved.tolist() == [2 <= t < 2 + CONTEXT for t in range(10)]


def test_the_stream_start_is_padded():
    net = model()
    tokens = torch.tensor([[5, 6]])
    padded = torch.tensor([[PAD] * (CONTEXT - 1) + [5, 6]])
    out, _ = net(tokens)
    window = net.embedding(padded.unfold(1, CONTEXT, 1)).flatten(2)
    x = window
    for layer in net.layers:
        x = torch.tanh(layer(x))
    assert torch.allclose(out, net.head(x), atol=1e-6)


def test_residual_skips_add_the_layer_input_above_the_first_layer():
    plain, residual = model(skip="none"), model(skip="residual")
    residual.load_state_dict(plain.state_dict())  # same weights: only the skips differ
    tokens = torch.randint(1, 12, (1, 5), generator=torch.Generator().manual_seed(2))
    x = plain.embedding(torch.cat([torch.full((1, CONTEXT - 1), PAD), tokens], 1).unfold(1, CONTEXT, 1)).flatten(2)
    h = torch.tanh(plain.layers[0](x))
    for layer in plain.layers[1:]:
        h = h + torch.tanh(layer(h))
    assert torch.allclose(residual(tokens)[0], plain.head(h), atol=1e-6)
    assert not torch.allclose(plain(tokens)[0], residual(tokens)[0])


def test_relu_stacks_use_relu():
    net = model(arch="rnn_relu", layers=1)
    tokens = torch.tensor([[3, 4, 5]])
    x = net.embedding(torch.cat([torch.full((1, CONTEXT - 1), PAD), tokens], 1).unfold(1, CONTEXT, 1)).flatten(2)
    assert torch.allclose(net(tokens)[0], net.head(torch.relu(net.layers[0](x))), atol=1e-6)


def test_the_signal_meter_records_the_gradient_at_the_first_and_last_layer_outputs():
    net = model(layers=4)
    meter = SignalMeter(net)
    outputs = {}

    def keep(name):
        def hook(module, inputs, output):
            output.retain_grad()
            outputs[name] = output
        return hook

    hooks = [layer.register_forward_hook(keep(k)) for k, layer in (("first", net.layers[0]), ("last", net.layers[-1]))]
    tokens = torch.randint(1, 12, (3, 7), generator=torch.Generator().manual_seed(3))
    out, _ = net(tokens)
    loss_fn(out[:, :-1], tokens[:, 1:]).backward()
    for h in hooks:
        h.remove()
    meter.remove()
    first, last = float(outputs["first"].grad.norm()), float(outputs["last"].grad.norm())
    assert meter.norms["first"] == [pytest.approx(first)] and meter.norms["last"] == [pytest.approx(last)]
    assert meter.metrics()["first_to_last_signal_ratio"] == pytest.approx(first / last)
    with torch.no_grad():  # an evaluation pass records nothing
        net(tokens)
    assert len(meter.norms["first"]) == 1


def test_a_sweep_gives_each_vanilla_nonlinearity_the_depth_by_skip_grid_and_nothing_else():
    configs = expand(PRESETS["standard"], Overrides(tasks=("ff_depth",)))
    grid = {(c.model.arch, c.model.layers, c.model.skip) for c in configs}
    expected = {(a, 1, "none") for a in ("rnn_tanh", "rnn_relu")} | {
        (a, d, s) for a in ("rnn_tanh", "rnn_relu") for d in (2, 4, 8) for s in ("none", "residual")}
    assert grid == expected
    assert {c.seed for c in configs} == {0, 1, 2}
    assert TASK.settings("standard") == get_task("depth").settings("standard")  # the two halves compare


@pytest.mark.parametrize("model_fields, message", [
    ({"arch": "lstm"}, "valid archs: rnn_tanh, rnn_relu"),
    ({"arch": "rnn_tanh", "layers": 2, "skip": "highway"}, "got skip='highway'"),
    ({"arch": "rnn_tanh", "init": "orthogonal"}, "drop init"),
    ({"arch": "rnn_tanh", "dropout": 0.2}, "drop dropout"),
])
def test_what_a_feed_forward_stack_cannot_take_is_refused_in_one_line(model_fields, message):
    cfg = RunConfig("ff_depth", ModelConfig(hidden=8, **model_fields), options={"train_sentences": 50})
    with pytest.raises(ConfigError, match=message) as info:
        check_run_config(cfg)
    assert "\n" not in str(info.value)


def test_a_short_run_records_both_ratios():
    from suite.run.sweep import run_options

    cfg = RunConfig("ff_depth", ModelConfig(arch="rnn_tanh", layers=4, hidden=8),
                    TASK.settings("smoke").train, seed=0,
                    options=run_options(TASK, TASK.settings("smoke").options))
    outcome = TASK.run(cfg)
    assert outcome.training.status == "ok"
    for name in ("test_loss", "first_to_last_grad_ratio", "first_to_last_signal_ratio"):
        assert math.isfinite(outcome.metrics[name])
