"""Vocabulary and batching."""
import torch

from suite.data.batches import IGNORE, Example, SentenceBatcher, StreamBatcher, Vocab, collate, lm_example


def test_vocab_reserves_special_ids_and_orders_by_frequency():
    vocab = Vocab.from_corpus([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab.itos[:3] == ["<pad>", "<unk>", "<eos>"]
    assert vocab.itos[3:] == ["b", "a", "c"]
    assert vocab.encode(["a", "zzz"]) == [4, vocab.unk_id]
    assert vocab.decode(vocab.encode(["c", "b"])) == ["c", "b"]


def test_stream_batcher_targets_are_the_next_token_of_each_column():
    ids = torch.arange(103)
    batcher = StreamBatcher(ids, batch_size=4, bptt=10)
    batches = list(batcher.epoch())
    assert len(batches) == len(batcher) == 3
    inputs = torch.cat([b.inputs for b in batches], 1)
    targets = torch.cat([b.targets for b in batches], 1)
    assert torch.equal(targets, inputs + 1)
    assert torch.equal(inputs[1], torch.arange(25, 50))  # columns are contiguous chunks of the stream
    assert all(b.carry_state for b in batches)


def test_collate_pads_inputs_and_ignores_padded_targets():
    batch = collate([lm_example([5, 6, 7, 8]), lm_example([9, 10])], pad_id=0)
    assert batch.inputs.tolist() == [[5, 6, 7], [9, 0, 0]]
    assert batch.targets.tolist() == [[6, 7, 8], [10, IGNORE, IGNORE]]
    assert batch.lengths.tolist() == [3, 1] and batch.num_targets == 4


def test_sentence_batcher_shuffles_reproducibly_and_covers_every_example():
    examples = [Example([i, i], i % 2) for i in range(10)]
    batcher = SentenceBatcher(examples, batch_size=3)
    first = [b.inputs[:, 0].tolist() for b in batcher.epoch(torch.Generator().manual_seed(1))]
    again = [b.inputs[:, 0].tolist() for b in batcher.epoch(torch.Generator().manual_seed(1))]
    assert first == again and len(first) == len(batcher) == 4
    assert sorted(sum(first, [])) == list(range(10))
