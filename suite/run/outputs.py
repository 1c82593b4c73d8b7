"""Result files with the modes the umask gives: run records, tables and REPORT.md, saved models.

suite/core/files.py writes atomically through temp files, which are 0600 whatever the umask; that module is
measuring code (text_lm caches its tokenizers with it), so the writers of shared results live here and give
each file the mode open() would (0644 under the usual umask 022), set before the rename makes it visible.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from suite.core.files import _json_default


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only be read by
    setting it, which would briefly give a file another thread creates meanwhile the wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The mode open() and mkdir() give under the umask: 0644/0755 under 022, 0600/0700 under 077."""
    return (0o777 if directory else 0o666) & ~current_umask()


def _write_atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, usual_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """JSON (compact: records carry item tables) to a temp file in the same folder, then renamed: readers
    never see half a file."""
    _write_atomic(path, lambda f: json.dump(obj, f, separators=(",", ":"), default=_json_default))


def write_text_atomic(path: Path, text: str) -> None:
    _write_atomic(path, lambda f: f.write(text))
