"""Vocabularies and batching: token streams for truncated BPTT, padded sentences for everything else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import torch

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
IGNORE = -100  # target value that cross_entropy skips


class Vocab:
    """Word ↔ id mapping. Id 0 is always <pad>; <unk> and <eos> follow."""

    def __init__(self, words: Iterable[str] = ()):
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        for w in (PAD, UNK, EOS, *words):
            self.add(w)

    @classmethod
    def from_corpus(cls, sentences: Iterable[Sequence[str]], min_count: int = 1) -> "Vocab":
        counts: dict[str, int] = {}
        for sent in sentences:
            for w in sent:
                counts[w] = counts.get(w, 0) + 1
        # Sorted by frequency then spelling, so the id assignment is deterministic.
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def add(self, word: str) -> int:
        if word not in self.stoi:
            self.stoi[word] = len(self.itos)
            self.itos.append(word)
        return self.stoi[word]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_id(self) -> int:
        return self.stoi[UNK]

    @property
    def eos_id(self) -> int:
        return self.stoi[EOS]

    def encode(self, words: Sequence[str]) -> list[int]:
        unk = self.unk_id
        return [self.stoi.get(w, unk) for w in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]


def sentence_stream(sentences: Iterable[Sequence[str]], vocab: "Vocab") -> torch.Tensor:
    """Token ids of the sentences laid end to end, each closed by <eos>: the input of a TBPTT stream."""
    ids: list[int] = []
    for words in sentences:
        ids.extend(vocab.encode(words))
        ids.append(vocab.eos_id)
    return torch.tensor(ids)


@dataclass
class Batch:
    inputs: torch.Tensor  # [B, T] token ids
    targets: torch.Tensor  # [B, T] ids / labels (IGNORE where no loss), or [B] class labels
    lengths: torch.Tensor | None = None  # [B] true lengths when padded
    carry_state: bool = False  # stream batches continue the previous batch's hidden state

    @property
    def num_targets(self) -> int:
        return int((self.targets != IGNORE).sum())

    @property
    def num_tokens(self) -> int:
        """Input tokens the network reads (padding excluded): the unit of tokens/s."""
        return int(self.lengths.sum()) if self.lengths is not None else self.inputs.numel()

    def to(self, device: str) -> "Batch":
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Batch(self.inputs.to(device), self.targets.to(device), lengths, self.carry_state)


class StreamBatcher:
    """One long token stream cut into `batch_size` parallel columns, read `bptt` tokens at a time.

    The layout of pytorch/examples word_language_model: the hidden state carries over between
    consecutive windows (truncated BPTT), so an epoch is one pass in order.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, bptt: int):
        usable = (len(ids) - 1) // batch_size * batch_size
        if usable < batch_size:
            raise ValueError(f"stream of {len(ids)} tokens is too short for batch size {batch_size}")
        self.inputs = ids[:usable].view(batch_size, -1)
        self.targets = ids[1:usable + 1].view(batch_size, -1)
        self.bptt = bptt

    def __len__(self) -> int:
        return -(-self.inputs.shape[1] // self.bptt)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        for start in range(0, self.inputs.shape[1], self.bptt):
            end = start + self.bptt
            yield Batch(self.inputs[:, start:end], self.targets[:, start:end], carry_state=True)


@dataclass
class Example:
    tokens: list[int]
    target: list[int] | int  # per-token targets (lm/tag; IGNORE to skip) or one class label


@dataclass
class SentenceBatcher:
    """Independent examples, padded per batch, shuffled each epoch; each starts from a fresh state."""

    examples: list[Example]
    batch_size: int
    pad_id: int = 0
    shuffle: bool = True
    _order: list[int] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return -(-len(self.examples) // self.batch_size)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        n = len(self.examples)
        order = (torch.randperm(n, generator=generator).tolist() if self.shuffle and generator is not None
                 else list(range(n)))
        for start in range(0, n, self.batch_size):
            yield collate([self.examples[i] for i in order[start:start + self.batch_size]], self.pad_id)


def collate(examples: Sequence[Example], pad_id: int = 0) -> Batch:
    """Pad a list of examples into one Batch."""
    lengths = torch.tensor([len(e.tokens) for e in examples])
    width = int(lengths.max())
    inputs = torch.full((len(examples), width), pad_id, dtype=torch.long)
    per_token = not isinstance(examples[0].target, int)
    targets = (torch.full((len(examples), width), IGNORE, dtype=torch.long) if per_token
               else torch.tensor([e.target for e in examples]))
    for row, e in enumerate(examples):
        inputs[row, :len(e.tokens)] = torch.tensor(e.tokens)
        if per_token:
            targets[row, :len(e.target)] = torch.tensor(e.target)
    return Batch(inputs, targets, lengths)


def lm_example(ids: Sequence[int]) -> Example:
    """Next-token prediction over one sentence: inputs ids[:-1], targets ids[1:]."""
    return Example(list(ids[:-1]), list(ids[1:]))
