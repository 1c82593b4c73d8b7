"""The adaptive softmax is exact: its losses, perplexities and probe scores are the log-probabilities of
the full distribution torch's AdaptiveLogSoftmaxWithLoss.log_prob gives over the whole vocabulary."""
import copy
import math

import pytest
import torch

from suite.core.config import ConfigError, ModelConfig, TrainConfig
from suite.data.batches import IGNORE, StreamBatcher
from suite.models.zoo import build_model
from suite.models.scoring import continuation_logprobs, next_token_logprobs
from suite.models.softmax import AdaptiveHead, default_cutoffs
from suite.training.trainer import batch_loss, evaluate_loss, fit

VOCAB = 60


def adaptive_model(arch="lstm", layers=2, seed=0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch, layers, 24, softmax="adaptive", adaptive_cutoffs=(8, 25)), VOCAB)
    return model.eval()


@torch.no_grad()
def brute_force_log_prob(model, tokens: list[int]) -> torch.Tensor:
    """[T, V] from torch's own full log_prob, one sequence at a time (no batching, no padding)."""
    features, _ = model.features(torch.tensor([tokens]))
    return model.head.softmax.log_prob(features[0])


def test_the_output_is_a_normalised_distribution_over_the_whole_vocabulary():
    model = adaptive_model()
    logp, _ = model(torch.randint(0, VOCAB, (3, 7)))
    assert logp.shape == (3, 7, VOCAB)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 7), atol=1e-5)


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn_tanh"])
def test_probe_scores_equal_a_brute_force_sum_over_the_full_log_prob(arch):
    model = adaptive_model(arch)
    generator = torch.Generator().manual_seed(1)
    prefixes = [torch.randint(0, VOCAB, (n,), generator=generator).tolist() for n in (1, 4, 9, 2, 6)]
    continuations = [torch.randint(0, VOCAB, (n,), generator=generator).tolist() for n in (1, 3, 1, 2, 4)]
    scores = continuation_logprobs(model, prefixes, continuations, batch_size=2)
    for prefix, cont, score in zip(prefixes, continuations, scores):
        logp = brute_force_log_prob(model, prefix + cont)
        expected = sum(float(logp[len(prefix) - 1 + k, c]) for k, c in enumerate(cont))
        assert score == pytest.approx(expected, abs=1e-5)
    next_rows = next_token_logprobs(model, prefixes, batch_size=2)
    for prefix, row in zip(prefixes, next_rows):
        assert torch.allclose(row, brute_force_log_prob(model, prefix)[-1], atol=1e-5)


def test_the_training_loss_is_the_mean_negative_log_prob_of_the_targets_and_skips_ignored_ones():
    model = adaptive_model()
    batcher = StreamBatcher(torch.randint(0, VOCAB, (400,), generator=torch.Generator().manual_seed(2)), 4, 10)
    batch = next(iter(batcher.epoch()))
    batch.targets = batch.targets.clone()  # a view of the stream the inputs read too
    batch.targets[0, :3] = IGNORE
    loss, _ = batch_loss(model, batch)
    full, _ = model(batch.inputs)
    keep = batch.targets != IGNORE
    expected = -full[keep].gather(1, batch.targets[keep].unsqueeze(1)).mean()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)


def test_validation_loss_equals_the_brute_force_cross_entropy_over_a_stream():
    model = adaptive_model()
    stream = torch.randint(0, VOCAB, (301,), generator=torch.Generator().manual_seed(3))
    batcher = StreamBatcher(stream, 1, 50)  # one column: the stream read in order, state carried
    logp = brute_force_log_prob(model, batcher.inputs.reshape(-1).tolist())
    targets = batcher.targets.reshape(-1)
    expected = -float(logp.gather(1, targets.unsqueeze(1)).mean())
    assert evaluate_loss(model, batcher) == pytest.approx(expected, abs=1e-5)


def test_an_adaptive_model_learns_a_skewed_stream():
    torch.manual_seed(0)
    # Zipf-like ids: frequent words get the small ids, as in the suite's frequency-sorted vocabularies.
    weights = 1.0 / torch.arange(1, VOCAB + 1, dtype=torch.float)
    stream = torch.multinomial(weights, 6000, replacement=True, generator=torch.Generator().manual_seed(4))
    model = build_model(ModelConfig("lstm", 1, 32, softmax="adaptive"), VOCAB)
    result = fit(model, StreamBatcher(stream[:5000], 8, 20), StreamBatcher(stream[5000:], 4, 20),
                 TrainConfig(steps=150, lr=1e-2))
    entropy = float(-(weights / weights.sum() * (weights / weights.sum()).log()).sum())
    assert result.status == "ok" and result.best_valid_loss < math.log(VOCAB) - 0.3
    assert result.best_valid_loss == pytest.approx(entropy, abs=0.15)  # the unigram entropy it can reach


def test_default_cutoffs_are_frequency_ranks_at_one_sixteenth_and_one_quarter():
    assert default_cutoffs(33278) == (2079, 8319)  # WikiText-2's word vocabulary
    assert default_cutoffs(64) == (4, 16)
    assert isinstance(build_model(ModelConfig(softmax="adaptive"), 100).head, AdaptiveHead)
    assert isinstance(build_model(ModelConfig(), 100).head, torch.nn.Linear)


@pytest.mark.parametrize("cfg, objective", [
    (ModelConfig(softmax="adaptive"), "classify"),
    (ModelConfig(softmax="adaptive", tie_weights=True), "lm"),
    (ModelConfig("transformer", softmax="adaptive"), "lm"),
    (ModelConfig(softmax="hierarchical"), "lm"),
    (ModelConfig(softmax="adaptive", adaptive_cutoffs=(20, 10)), "lm"),
    (ModelConfig(softmax="adaptive", adaptive_cutoffs=(10, 99)), "lm"),  # beyond a 100-word vocabulary
])
def test_impossible_adaptive_configs_are_config_errors(cfg, objective):
    with pytest.raises(ConfigError):
        build_model(cfg, 100, objective, num_outputs=3)


def test_a_float64_copy_gives_the_same_distribution_as_gradient_measurement_needs():
    model = adaptive_model()
    tokens = torch.randint(0, VOCAB, (2, 5))
    with torch.no_grad():
        single, _ = model(tokens)
        double, _ = copy.deepcopy(model).double()(tokens)
    assert double.dtype == torch.float64 and torch.allclose(double.float(), single, atol=1e-5)
