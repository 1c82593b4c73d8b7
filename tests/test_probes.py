"""Continuation scoring, checked on a hand-built bigram model whose probabilities are known."""

import pytest
import torch

from suite.models.scoring import continuation_logprobs, next_token_logprobs

V = 6


class Bigram(torch.nn.Module):
    """Next-token logits depend only on the current token: logits = TABLE[token]."""

    def __init__(self):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(V, V, generator=torch.Generator().manual_seed(0)))

    def forward(self, tokens, state=None, lengths=None):
        return self.table[tokens], None


def logp(model, prev, nxt):
    return torch.log_softmax(model.table[prev], -1)[nxt].item()


def test_single_and_multi_piece_continuations_sum_the_pieces():
    model = Bigram()
    scores = continuation_logprobs(model, [[1, 2], [3], [4, 5, 1]], [[3], [2, 4], [0, 0, 5]])
    assert scores[0] == pytest.approx(logp(model, 2, 3), abs=1e-6)
    assert scores[1] == pytest.approx(logp(model, 3, 2) + logp(model, 2, 4), abs=1e-6)
    assert scores[2] == pytest.approx(logp(model, 1, 0) + logp(model, 0, 0) + logp(model, 0, 5), abs=1e-6)


def test_scores_do_not_depend_on_batching_or_neighbours():
    torch.manual_seed(0)
    from suite.core.config import ModelConfig
    from suite.models.zoo import build_model
    model = build_model(ModelConfig(arch="lstm", hidden=8), V)
    prefixes = [[1, 2, 3, 4, 5], [2], [3, 3]]
    conts = [[1], [4, 4], [5]]
    together = continuation_logprobs(model, prefixes, conts, batch_size=8)
    alone = [continuation_logprobs(model, [p], [c])[0] for p, c in zip(prefixes, conts)]
    assert together == pytest.approx(alone, abs=1e-5)


def test_next_token_distribution_is_normalised_and_read_at_each_prefix_end():
    model = Bigram()
    dist = next_token_logprobs(model, [[1, 2], [5]])
    assert torch.allclose(dist.exp().sum(-1), torch.ones(2))
    assert dist[0, 3].item() == pytest.approx(logp(model, 2, 3), abs=1e-6)
    assert dist[1, 0].item() == pytest.approx(logp(model, 5, 0), abs=1e-6)
