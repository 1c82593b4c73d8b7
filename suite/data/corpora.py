"""Natural-text corpora through Hugging Face `datasets`: a hub dataset or a local folder of text files.

A corpus spec is either a folder holding train/valid/test files (loaded with the `datasets` "text"
builder, one row per line) or a hub name `dataset[:config]` such as `wikitext:wikitext-2-raw-v1`.
Both are cached the way `datasets` caches (Arrow files under its cache folder), so a second load
reuses the prepared splits; the log line says which happened.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from suite.core.config import ConfigError

SPLITS = ("train", "valid", "test")
# File names tried for each split of a local folder, in order (WikiText's own names included).
SPLIT_FILES = {
    "train": ("train.txt", "wiki.train.tokens", "wiki.train.raw", "train.tokens", "train.raw"),
    "valid": ("valid.txt", "validation.txt", "wiki.valid.tokens", "wiki.valid.raw", "valid.tokens",
              "valid.raw", "dev.txt", "val.txt"),
    "test": ("test.txt", "wiki.test.tokens", "wiki.test.raw", "test.tokens", "test.raw"),
}
HUB_SPLIT_NAMES = {"train": ("train",), "valid": ("validation", "valid", "dev"), "test": ("test",)}


@dataclass(frozen=True)
class Corpus:
    """Lines of text per split, with a content hash of the training split (the tokenizer cache key)."""

    spec: str
    source: str  # "local" | "hub"
    splits: dict[str, list[str]]
    train_sha256: str
    cache_hit: bool  # True when `datasets` reused prepared Arrow files

    def words(self, split: str) -> int:
        """Whitespace-separated words plus one end-of-line per line: the per-word perplexity unit."""
        return sum(len(line.split()) + 1 for line in self.splits[split])


def log(message: str) -> None:
    """Cache and data notices go to stderr, so they show in the sweep log without touching results."""
    print(message, file=sys.stderr, flush=True)


def load_corpus(spec: str, cache_dir: str | Path | None = None) -> Corpus:
    """Load a corpus from a local folder or the hub; ConfigError (one line) when it cannot be read."""
    if not spec or not str(spec).strip():
        raise ConfigError("no corpus given; pass a folder with train/valid/test files or a hub name "
                          "such as wikitext:wikitext-2-raw-v1")
    spec = str(spec)
    path = Path(spec).expanduser()
    if is_local(spec):
        return _load_local(spec, path, cache_dir)
    return _load_hub(spec, cache_dir)


def check_local_corpus(spec: str) -> None:
    """Up-front check of a local corpus (files present, readable, UTF-8, not empty); hub names pass."""
    path = Path(str(spec)).expanduser()
    if is_local(str(spec)):
        for file in split_files(path).values():
            check_text_file(file)


def is_local(spec: str) -> bool:
    """A folder rather than a hub name: it exists, or reads as a path (./x, /x, ~/x, x.txt, or its first
    part is a local folder). `owner/name` with no such folder is a hub name (e.g. Salesforce/wikitext)."""
    return (Path(spec).expanduser().exists() or spec.startswith((".", "/", "~")) or spec.endswith(".txt")
            or (os.sep in spec and Path(spec.split(os.sep)[0]).is_dir()))


def stream_size_bound(spec: str, split: str, word_limit: int = 0, subword: bool = False) -> int:
    """An upper bound on the tokens a local split yields (capped at `word_limit` words, 0 = all): words
    plus one end-of-line each for a word vocabulary; for subword pieces, characters plus end-of-lines (a
    piece holds at least one character). Read without tokenizing, for the up-front size check."""
    words = chars = 0
    with open(split_files(Path(spec).expanduser())[split], encoding="utf-8") as f:
        for line in f:
            if word_limit and words >= word_limit:
                break
            words += len(line.split()) + 1
            chars += len(line.strip()) + 1
    return chars if subword else words


def split_files(folder: Path) -> dict[str, Path]:
    """The train/valid/test file of a local corpus folder; ConfigError naming what is missing."""
    if not folder.exists():
        raise ConfigError(f"corpus folder '{folder}' does not exist")
    if not folder.is_dir():
        raise ConfigError(f"corpus '{folder}' is a file; pass the folder that holds train/valid/test files")
    files = {}
    for split, names in SPLIT_FILES.items():
        found = [folder / n for n in names if (folder / n).exists()]
        if not found:
            raise ConfigError(f"corpus folder '{folder}' has no {split} file; expected one of: {', '.join(names)}")
        files[split] = found[0]
    return files


def check_text_file(path: Path) -> None:
    """Readable, UTF-8 and not blank, or ConfigError with the path (and line number for bad bytes)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read corpus file '{path}': {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                          "corpus files must be UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"corpus file '{path}' is empty (no text on any line)")


def _load_local(spec: str, folder: Path, cache_dir) -> Corpus:
    import datasets

    files = split_files(folder)
    for path in files.values():
        check_text_file(path)
    datasets.disable_progress_bars()
    data_files = {split: str(p.resolve()) for split, p in files.items()}
    builder = datasets.load_dataset_builder("text", data_files=data_files,
                                            cache_dir=None if cache_dir is None else str(cache_dir))
    # `datasets` keys the cache by the files' paths and modification times; prepared Arrow files
    # under builder.cache_dir mean this exact corpus was loaded before.
    hit = Path(builder.cache_dir, "dataset_info.json").exists()
    builder.download_and_prepare()
    dataset = builder.as_dataset()
    log(f"corpus {'cache hit' if hit else 'prepared'}: {folder} ({builder.cache_dir})")
    splits = {split: list(dataset[split]["text"]) for split in SPLITS}
    return _corpus(spec, "local", splits, hit)


def _load_hub(spec: str, cache_dir) -> Corpus:
    import datasets

    name, _, config = spec.partition(":")
    datasets.disable_progress_bars()
    try:
        builder = datasets.load_dataset_builder(name, config or None,
                                                cache_dir=None if cache_dir is None else str(cache_dir))
        hit = Path(builder.cache_dir, "dataset_info.json").exists()
        builder.download_and_prepare()
        dataset = builder.as_dataset()
    except Exception as exc:  # network down, unknown name, …: all are "this corpus cannot be had"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot load hub corpus '{spec}' ({reason}); pass a local folder with "
                          "train/valid/test files instead") from None
    splits = {split: _hub_split(dataset, spec, split) for split in SPLITS}
    log(f"corpus {'cache hit' if hit else 'prepared'}: {spec} ({builder.cache_dir})")
    return _corpus(spec, "hub", splits, hit)


def _hub_split(dataset, spec: str, split: str) -> list[str]:
    for name in HUB_SPLIT_NAMES[split]:
        if name in dataset:
            if "text" not in dataset[name].column_names:
                raise ConfigError(f"hub corpus '{spec}' has no 'text' column (columns: "
                                  f"{', '.join(dataset[name].column_names)})")
            return list(dataset[name]["text"])
    raise ConfigError(f"hub corpus '{spec}' has no {split} split (splits: {', '.join(dataset)})")


def _corpus(spec: str, source: str, splits: dict[str, list[str]], hit: bool) -> Corpus:
    for split, lines in splits.items():
        if not any(line.strip() for line in lines):
            raise ConfigError(f"corpus '{spec}': the {split} split has no text")
    digest = hashlib.sha256("\n".join(splits["train"]).encode("utf-8")).hexdigest()
    return Corpus(spec, source, splits, digest, hit)
