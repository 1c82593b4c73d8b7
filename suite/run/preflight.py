"""Checks made before anything runs, for what only shows late otherwise: a model too large for memory, a
corpus too small for one batch, a hub dataset that does not exist or cannot be reached. Each raises a
ConfigError whose message is one line naming the problem and what would be valid."""
from __future__ import annotations

import dataclasses
import functools
import os

import torch

from suite.core.config import ConfigError, ModelConfig, RunConfig
from suite.models.zoo import build_model, count_parameters

# float32 bytes kept per parameter while training: weights and gradients, plus the optimiser's state
# (AdamW: two moments; SGD: a momentum buffer when momentum is used).
BYTES_PER_PARAMETER = {"adamw": 16, "sgd": 8, "sgd+momentum": 12}
HUB_TIMEOUT_SECONDS = 5.0


@functools.lru_cache(maxsize=None)
def bf16_recurrent_supported(device: str = "cpu") -> bool:
    """Whether this torch build can run a fused LSTM/GRU forward and backward under bf16 autocast on
    `device`. Some CPUs' oneDNN has no bf16 LSTM primitive ("could not create a primitive descriptor for
    the LSTM forward propagation primitive"), which would otherwise fail every run deep inside training.
    Cached: the answer is fixed for the process, and the probe costs milliseconds once."""
    try:
        with torch.random.fork_rng(devices=[]):  # the probe must not move any run's random stream
            for cell in (torch.nn.LSTM, torch.nn.GRU):
                layer = cell(8, 8, batch_first=True).to(device)
                with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
                    out, _ = layer(torch.zeros(2, 3, 8, device=device))
                out.float().sum().backward()
    except (RuntimeError, AssertionError):
        return False
    return True


def check_precision_supported(precision: str | None, device: str) -> None:
    """Refuse --precision bf16 up front where the device cannot run recurrent layers in bf16."""
    if precision == "bf16" and not bf16_recurrent_supported(device):
        raise ConfigError(f"--precision bf16 is not supported on {device} by this torch build (no bf16 LSTM/GRU "
                          "kernel under autocast); use --precision fp32, or a device with bf16 support")


def check_plugin_model(cfg: RunConfig, objective: str, num_outputs: int | None = None) -> None:
    """Run a plugin architecture once on a tiny batch (2 sequences × 3 tokens, then again from the state it
    returned, as training carries it), so a cell whose state has the wrong shape fails here in one line
    instead of inside every run. Built-in architectures are tested by the suite and skip this."""
    from suite.models.zoo import ARCHITECTURES

    arch = ARCHITECTURES.get(cfg.model.arch)
    if arch is None or not arch.recurrent:
        return
    small = dataclasses.replace(cfg.model, hidden=min(cfg.model.hidden, 16), embed=0, softmax="full",
                                adaptive_cutoffs=())
    tokens = torch.randint(0, 10, (2, 3), generator=torch.Generator().manual_seed(0))
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model = build_model(small, 10, objective, num_outputs)
            _, state = model(tokens)
            model(tokens, state)
    except ConfigError:
        raise
    except Exception as exc:
        reason = (str(exc).splitlines() or [""])[0][:160]
        raise ConfigError(f"architecture '{cfg.model.arch}' fails a forward pass of 2 × 3 tokens "
                          f"({type(exc).__name__}: {reason}); check its cell's forward and init_state "
                          "(state [batch, hidden], or a tuple whose first element is h)") from None


def parameter_count(model: ModelConfig, objective: str, vocab_size: int, num_outputs: int | None = None) -> int:
    """Parameter count of a model, built on torch's meta device: nothing is allocated. An adaptive softmax
    is counted as the full one, an upper bound (its cut-offs need the real vocabulary)."""
    shape_only = dataclasses.replace(model, init="default", spectral_radius=None, forget_bias=None,
                                     softmax="full", adaptive_cutoffs=())
    with torch.device("meta"):
        return count_parameters(build_model(shape_only, vocab_size, objective, num_outputs))


def training_bytes(cfg: RunConfig, objective: str, vocab_size: int, num_outputs: int | None = None) -> int:
    """Memory the parameters need while training: weights, gradients and optimiser state (activations,
    which scale with batch × BPTT, come on top)."""
    optimizer = cfg.train.optimizer + ("+momentum" if cfg.train.optimizer == "sgd" and cfg.train.momentum else "")
    per_parameter = BYTES_PER_PARAMETER.get(optimizer, BYTES_PER_PARAMETER["adamw"])
    return parameter_count(cfg.model, objective, vocab_size, num_outputs) * per_parameter


def available_bytes(device: str) -> int:
    """Memory free for new allocations on the device (RAM for cpu)."""
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(torch.device(device))[0]
    import psutil

    return psutil.virtual_memory().available


def check_fits_in_memory(cfg: RunConfig, objective: str, vocab_size: int, num_outputs: int | None = None,
                         concurrent: int = 1) -> None:
    """Refuse a model whose parameters alone (× `concurrent` runs at once) exceed the free memory."""
    try:
        need = training_bytes(cfg, objective, vocab_size, num_outputs) * concurrent
    except ConfigError:
        raise
    except Exception:  # e.g. a plugin model that cannot be built on the meta device: its run will tell
        return
    free = available_bytes(cfg.device)
    if need > free:
        count = parameter_count(cfg.model, objective, vocab_size, num_outputs)
        runs = f" × {concurrent} runs at once" if concurrent > 1 else ""
        raise ConfigError(f"{cfg.task}: model {cfg.model.label} (hidden {cfg.model.hidden}, {cfg.model.layers} "
                          f"layer(s)) has {count:,} parameters with a vocabulary of {vocab_size} and needs ≈ "
                          f"{_size(need)} to train ({cfg.train.optimizer}: weights, gradients, optimiser "
                          f"state{runs}), but {_size(free)} is free on {cfg.device}; use a smaller --hidden "
                          "or --layers")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def check_stream_size(split: str, tokens: int, batch_size: int, bptt: int) -> None:
    """Refuse a token stream too short for one full batch of `batch_size` columns × `bptt` steps."""
    need = batch_size * bptt + 1  # +1: the last input still needs its next token as a target
    if tokens < need:
        raise ConfigError(f"the corpus's {split} split has {tokens:,} tokens, too few for one batch of "
                          f"{batch_size} × BPTT {bptt} (needs ≥ {need:,}); use a larger corpus or a "
                          "smaller batch_size/bptt")


def check_hub_dataset(spec: str, timeout: float = HUB_TIMEOUT_SECONDS) -> None:
    """Check a hub corpus name `dataset[:config]` against the Hugging Face hub, waiting at most `timeout`
    seconds. Skipped when HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set (datasets' cache serves then)."""
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    if spec.endswith(("/", os.sep)):  # written as a folder: the folder is missing, whatever the hub holds
        raise ConfigError(f"corpus folder '{spec}' does not exist; give a folder with train/valid/test files, "
                          "or a hub name such as wikitext:wikitext-2-raw-v1")
    name, _, config = spec.partition(":")
    try:
        info = HfApi().dataset_info(name, timeout=timeout)
    except HFValidationError:
        raise ConfigError(f"corpus '{spec}' is neither a local folder (none at that path) nor a valid Hugging "
                          "Face hub name (owner/name[:config], e.g. wikitext:wikitext-2-raw-v1)") from None
    except RepositoryNotFoundError:
        raise ConfigError(f"no dataset '{name}' on the Hugging Face hub; give an existing hub name such as "
                          "wikitext:wikitext-2-raw-v1, or a local folder with train/valid/test files") from None
    except Exception as exc:  # no network, DNS, timeout, hub error: the name cannot be checked
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise ConfigError(f"cannot reach the Hugging Face hub to check corpus '{spec}' ({reason}); pass a local "
                          "folder, or set HF_DATASETS_OFFLINE=1 to use a copy in datasets' cache") from None
    configs = hub_configs(info)
    if config and configs and config not in configs:
        raise ConfigError(f"hub dataset '{name}' has no config '{config}'; valid: {', '.join(configs)}")


def hub_configs(info) -> list[str]:
    """Config names a hub dataset's card declares ([] when it declares none)."""
    card = getattr(info, "card_data", None) or {}
    card = card.to_dict() if hasattr(card, "to_dict") else dict(card)
    entries = card.get("configs") or card.get("dataset_info") or []
    entries = entries if isinstance(entries, list) else [entries]
    return [e["config_name"] for e in entries if isinstance(e, dict) and "config_name" in e]
