"""Evaluation results on disk: results/evals/<run id or model hash>/<test-set content hash>.json, kept apart
from the run records so that adding a test set never changes a run id."""
from __future__ import annotations

import json
from pathlib import Path

EVAL_FORMAT = 1


def eval_path(out_dir: Path, model_key: str, name: str) -> Path:
    return Path(out_dir) / "evals" / model_key / f"{name}.json"


def cached_eval(path: Path) -> dict | None:
    """A finished evaluation, or None (absent, or corrupt: then it is redone)."""
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return result if isinstance(result, dict) and result.get("format") == EVAL_FORMAT and "summary" in result else None


def load_evals(out_dir: Path) -> list[dict]:
    return [r for r in (cached_eval(p) for p in sorted((Path(out_dir) / "evals").glob("*/*.json")))
            if r is not None and "item_rows" in r]
