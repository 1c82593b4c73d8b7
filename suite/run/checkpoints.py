"""Saved models: a finished run's weights, vocabulary or tokenizer and config, beside its record.

`runs/<run_id>.model/` holds `weights.safetensors` (tensors only: loading runs no pickled code),
`vocab.json` (the id → word list) or `tokenizer.model` (SentencePiece bytes), and `model.json`: the
run config, what `build_model` needs, and the SHA-256 of every file, so a truncated or swapped
file is detected instead of loaded. The folder is written under a temporary name and renamed, so
a reader never sees half a model.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from suite.core.config import ConfigError, RunConfig
from suite.run.outputs import usual_mode
from suite.data.batches import Vocab
from suite.models.zoo import build_model
from suite.run.records import runs_dir
from suite.data.tokenizers import SentencePieceTokenizer, Tokenizer, TokenizerSpec, WordTokenizer

FORMAT_VERSION = 1
WEIGHTS, VOCAB, SENTENCEPIECE, MANIFEST = "weights.safetensors", "vocab.json", "tokenizer.model", "model.json"


class CheckpointError(ConfigError):
    """A saved model that cannot be loaded: missing, truncated, or not fitting its recorded config."""


@dataclass
class SavedModel:
    """A model loaded from disk, ready to score: its run config and what maps words to its ids."""

    run_id: str
    cfg: RunConfig
    model: nn.Module
    vocab: Vocab
    tokenizer: Tokenizer | None  # text tasks; None where the task used a plain Vocab


def model_dir(out_dir: Path, run_id: str) -> Path:
    return runs_dir(out_dir) / f"{run_id}.model"


def has_saved_model(out_dir: Path, run_id: str) -> bool:
    return (model_dir(out_dir, run_id) / MANIFEST).is_file()


def saved_run_ids(out_dir: Path) -> list[str]:
    """Run ids with a saved model under `out_dir` (sorted)."""
    return sorted(p.parent.name[:-len(".model")] for p in runs_dir(out_dir).glob(f"*.model/{MANIFEST}"))


def save_run_model(out_dir: Path, cfg: RunConfig, outcome: Any) -> str | None:
    """Save a finished run's model (a `suite.tasks.RunOutcome`); returns the folder relative to `out_dir`,
    or None when there is nothing to save (a diverged run, or a task that keeps no single model)."""
    from suite.task import get_task

    if outcome.model is None or outcome.vocab is None or outcome.training.status != "ok":
        return None
    folder = save_model_files(out_dir, cfg, outcome.model, outcome.vocab, get_task(cfg.task).objective)
    return str(folder.relative_to(out_dir))


def save_model_files(out_dir: Path, cfg: RunConfig, model: nn.Module, vocab: Vocab | Tokenizer,
                     objective: str) -> Path:
    """Write the model folder of run `cfg.run_id` atomically (replacing an older one)."""
    target = model_dir(out_dir, cfg.run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        staging.chmod(usual_mode(directory=True))  # mkdtemp's 0700 would hide the model from colleagues
        save_model(model, str(staging / WEIGHTS))  # shared (tied) tensors once
        tokenizer = vocab if isinstance(vocab, Tokenizer) else None
        words = vocab.vocab if tokenizer is not None else vocab
        if isinstance(tokenizer, SentencePieceTokenizer):
            (staging / SENTENCEPIECE).write_bytes(tokenizer.processor.serialized_model_proto())
        else:
            (staging / VOCAB).write_text(json.dumps(words.itos, ensure_ascii=False), encoding="utf-8")
        head = getattr(model, "head", None)
        manifest = {"format": FORMAT_VERSION, "run_id": cfg.run_id, "config": cfg.to_dict(),
                    "objective": objective, "vocab_size": len(words),
                    "num_outputs": getattr(head, "out_features", None),
                    "tokenizer": asdict(tokenizer.spec) if tokenizer is not None else None,
                    "files": {p.name: file_sha256(p) for p in sorted(staging.iterdir())}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for file in staging.iterdir():  # safetensors writes its file 0600 whatever the umask
            file.chmod(usual_mode())
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_saved_model(out_dir: Path, run_id: str, device: str = "cpu") -> SavedModel:
    """Rebuild run `run_id`'s model from its folder; CheckpointError (one line) when it cannot."""
    folder = model_dir(out_dir, run_id)
    manifest = _read_manifest(folder, run_id)
    cfg = RunConfig.from_dict(manifest["config"])
    tokenizer, vocab = _load_vocab(folder, manifest)
    if len(vocab) != manifest["vocab_size"]:
        raise CheckpointError(f"{folder}: the vocabulary has {len(vocab)} ids but model.json records "
                              f"{manifest['vocab_size']}")
    model = build_model(cfg.model, len(vocab), manifest["objective"], manifest["num_outputs"])
    weights = folder / WEIGHTS
    try:
        load_model(model, str(weights), strict=True)
    except (RuntimeError, SafetensorError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{weights}: weights do not fit the recorded config ({cfg.model.label}, "
                              f"hidden {cfg.model.hidden}, vocabulary {len(vocab)}): {detail}") from None
    model.eval()
    return SavedModel(run_id, cfg, model.to(device), vocab, tokenizer)


def _read_manifest(folder: Path, run_id: str) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"run {run_id} has no saved model ({path} is missing); train it with "
                              "--save-models (a cached run without one retrains once)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a saved model of format {FORMAT_VERSION}")
    if manifest.get("run_id") != run_id:
        raise CheckpointError(f"{path}: belongs to run {manifest.get('run_id')}, not {run_id}")
    for name, digest in _listed_files(folder, path, manifest).items():
        file = folder / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing; the saved model of run {run_id} is incomplete")
        if file_sha256(file) != digest:
            raise CheckpointError(f"{file}: truncated or corrupt (its SHA-256 differs from the one "
                                  "recorded when it was saved)")
    return manifest


def _listed_files(folder: Path, path: Path, manifest: dict) -> dict[str, str]:
    """The manifest's file list, checked to name only the files a saved model holds, each a plain file inside
    the folder (never a path out of it, nor a link), and to cover every file loading will read. The hashes
    catch damage, not tampering: whoever can edit the folder can update a hash too (see the README)."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(d, str) for d in files.values()):
        raise CheckpointError(f"{path}: its file list is not a mapping of file names to SHA-256 hashes")
    tokenizer = manifest.get("tokenizer")
    subword = isinstance(tokenizer, dict) and tokenizer.get("kind", "word") != "word"
    needed = {WEIGHTS, SENTENCEPIECE if subword else VOCAB}
    for name in files:
        if name not in (WEIGHTS, VOCAB, SENTENCEPIECE):
            raise CheckpointError(f"{path}: lists the file {name!r}, which no saved model holds; valid: "
                                  f"{WEIGHTS}, {VOCAB}, {SENTENCEPIECE} (inside the model folder)")
        file = folder / name
        if file.is_symlink() or not file.resolve().is_relative_to(folder.resolve()):
            raise CheckpointError(f"{file}: a link, or a path out of the model folder; a saved model holds "
                                  "its files itself")
    if needed - files.keys():
        raise CheckpointError(f"{path}: records no hash for {', '.join(sorted(needed - files.keys()))}, "
                              "which loading reads; the saved model is incomplete")
    return files


def _load_vocab(folder: Path, manifest: dict) -> tuple[Tokenizer | None, Vocab]:
    spec = TokenizerSpec(**manifest["tokenizer"]) if manifest.get("tokenizer") else None
    if spec is not None and spec.kind != "word":
        tokenizer = SentencePieceTokenizer(spec, (folder / SENTENCEPIECE).read_bytes())
        return tokenizer, tokenizer.vocab
    itos = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
    vocab = Vocab(itos[3:])
    if vocab.itos != itos:
        raise CheckpointError(f"{folder / VOCAB}: the first ids must be <pad>, <unk>, <eos> (got {itos[:3]})")
    return (WordTokenizer(spec, vocab) if spec is not None else None), vocab
