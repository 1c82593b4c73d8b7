"""Models the suite did not train, scored on the same probes: Hugging Face causal LMs and user torch LMs.

Hugging Face (`--hf-model NAME_OR_PATH`, needs the `[hf]` extra): words are joined by single spaces,
so a word's pieces are the tokenizer's encoding of " word" (of "word" when it opens the text), and
its score sums those pieces. BOS policy: "bos" (default) starts every item with the tokenizer's BOS
token (its EOS token when it has no BOS, as GPT-2's <|endoftext|> is both), so the first word is
scored in context; "none" starts with the first word, which is then context only. A sentence end
marked by a test set (BLiMP's) is the tokenizer's EOS token.

Your own torch LM (`--torch-model MODULE:FACTORY`): FACTORY() returns a `TorchLM`: a causal model
mapping ids [B, T] to logits [B, T, V] (or a tuple whose first item is), a function giving a word's
ids, and the id that starts every sequence.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from suite.core.config import ConfigError
from suite.evaluate.scoring import WordLM

BOS_POLICIES = ("bos", "none")


class ExternalModelError(ConfigError):
    """An external model that cannot be loaded (one line: which, and why)."""


class CausalLMAdapter(nn.Module):
    """Presents a causal LM as the suite's models: ids [B, T] → (logits [B, T, V], None).

    The suite's scorer pads on the right whatever a tokenizer's padding side says, so every real token
    keeps its position 0…L−1 and causal attention never lets it see the padding after it: a batch
    scores exactly as its items one by one. The attention mask marks the padding when lengths are given.
    """

    def __init__(self, model: nn.Module, hf: bool):
        super().__init__()
        self.lm, self.hf = model, hf

    def forward(self, tokens: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        if not self.hf:
            out = self.lm(tokens)
            return (out[0] if isinstance(out, (tuple, list)) else out), None
        mask = torch.ones_like(tokens)
        if lengths is not None:
            mask = (torch.arange(tokens.shape[1], device=tokens.device) < lengths.to(tokens.device)[:, None]).long()
        return self.lm(input_ids=tokens, attention_mask=mask).logits, None


def fingerprint(model: nn.Module) -> str:
    """Hash of every parameter and buffer: a changed model never reuses another's cached results."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- Hugging Face


def load_hf_model(name: str, bos: str = "bos", device: str = "cpu") -> WordLM:
    """A Hugging Face causal LM by hub name or local path, as a WordLM (ExternalModelError: one line)."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ExternalModelError("--hf-model needs transformers: pip install 'recency-bench[hf]'") from None
    if name.startswith(("/", "./", "../", "~")) and not Path(name).expanduser().is_dir():
        raise ExternalModelError(f"cannot load Hugging Face model '{name}': no such folder")

    def load(local_only: bool):
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_only)
        return AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32, local_files_only=local_only), tokenizer

    quiet_hub_logging()
    try:
        try:  # a local folder or the hub cache first: no network, no retries
            model, tokenizer = load(local_only=True)
        except OSError:
            if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"):
                raise OSError("offline (HF_HUB_OFFLINE) and not in the local Hugging Face cache") from None
            if not hub_reachable():  # offline without saying so: one line now, not a minute of retries
                raise OSError(f"not in the local Hugging Face cache and {HUB_HOST} cannot be reached "
                              f"(offline?); download it where there is a network, or give a local folder") from None
            model, tokenizer = load(local_only=False)
    except Exception as exc:  # OSError (not found / unreachable), ValueError (not a causal LM), …
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ExternalModelError(f"cannot load Hugging Face model '{name}': {detail}") from None
    return hf_word_lm(model, tokenizer, name, bos, device)


HUB_HOST = "huggingface.co"
HUB_TIMEOUT_S = 3.0


def hub_reachable(host: str = HUB_HOST, timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether the hub answers a TCP connection within `timeout` seconds (the hub client would otherwise retry
    for most of a minute, printing a warning per retry, before failing)."""
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint:
        host = endpoint.split("://")[-1].split("/")[0].split(":")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def quiet_hub_logging() -> None:
    """Retries and download notices are the hub client's logging; the suite reports a failure in one line."""
    for name in ("huggingface_hub", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)


def hf_word_lm(model: nn.Module, tokenizer, name: str, bos: str = "bos", device: str = "cpu") -> WordLM:
    """Wrap a loaded transformers causal LM and its tokenizer under an explicit BOS policy."""
    if bos not in BOS_POLICIES:
        raise ExternalModelError(f"unknown BOS policy '{bos}'; valid: {', '.join(BOS_POLICIES)}")
    start = None
    if bos == "bos":
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if start is None:
            raise ExternalModelError(f"Hugging Face model '{name}' has neither a BOS nor an EOS token; use --bos none")
    unk = tokenizer.unk_token_id

    def encode_word(word: str, first: bool) -> list[int] | None:
        ids = tokenizer(word if first else " " + word, add_special_tokens=False)["input_ids"]
        return None if not ids or (unk is not None and unk in ids) else list(ids)

    model.eval()
    info = {"kind": "hf", "name": name, "bos": bos, "fingerprint": fingerprint(model)}
    key = "hf-" + hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
    adapter = CausalLMAdapter(model, hf=True).to(device).eval()  # eval: the scorer restores this mode
    return WordLM(key, adapter, encode_word, start, tokenizer.eos_token_id, device, info)


# --------------------------------------------------------------------------- your own torch model


@dataclass
class TorchLM:
    """What a `--torch-model MODULE:FACTORY` factory returns (called with no arguments)."""

    model: nn.Module  # causal: ids LongTensor [B, T] → logits [B, T, V], or a tuple whose first item is
    encode_word: Callable[[str], list[int]]  # a word's ids; [] when the model cannot spell it
    bos_id: int  # starts every sequence (stands for the suite's sentence boundary <eos>)
    eos_id: int | None = None  # ends a sentence where a test set marks it (BLiMP); None: same as bos_id


def load_torch_model(spec: str, device: str = "cpu") -> WordLM:
    """Import MODULE, call FACTORY(), wrap the TorchLM it returns (ExternalModelError: one line)."""
    module_name, sep, factory_name = spec.partition(":")
    if not sep or not module_name or not factory_name:
        raise ExternalModelError(f"--torch-model expects MODULE:FACTORY (e.g. mypkg.lm:build), got '{spec}'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ExternalModelError(f"--torch-model: cannot import module '{module_name}': "
                                 f"{type(exc).__name__}: {exc}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ExternalModelError(f"--torch-model: module '{module_name}' has no factory '{factory_name}'")
    try:
        lm = factory()
    except Exception as exc:
        raise ExternalModelError(f"--torch-model: {spec}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(lm, TorchLM):
        raise ExternalModelError(f"--torch-model: {spec}() must return suite.evaluate.external.TorchLM, "
                                 f"not {type(lm).__name__}")
    return torch_word_lm(lm, spec, device)


def torch_word_lm(lm: TorchLM, name: str, device: str = "cpu") -> WordLM:
    def encode_word(word: str, first: bool) -> list[int] | None:
        return list(lm.encode_word(word)) or None

    lm.model.eval()
    info = {"kind": "torch", "name": name, "fingerprint": fingerprint(lm.model)}
    key = "torch-" + hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
    end = lm.bos_id if lm.eos_id is None else lm.eos_id
    adapter = CausalLMAdapter(lm.model, hf=False).to(device).eval()
    return WordLM(key, adapter, encode_word, lm.bos_id, end, device, info)
