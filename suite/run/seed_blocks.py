"""Seed blocks: exploration apart from confirmation.

Seeds below `EXPLORATORY_BELOW` are for calibration, pilots and rule design (the presets' own seeds). The
confirmatory block starts at `CONFIRMATORY_START` and is run by the `confirm` preset only after the rules are
frozen: `run_suite.py preregister` writes, from a pilot on exploratory seeds, each claim's rule hash and the
seeds each task needs for its claims' power, into the committed preregistration/confirm.json read here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXPLORATORY_BELOW = 1000
CONFIRMATORY_START = 2000
MIN_SEEDS = 3  # a task whose claims need fewer (or that has none) still gets an interval over seeds


def registration_path() -> Path:
    """The committed pre-registration of the reference run."""
    return Path(__file__).resolve().parents[2] / "preregistration" / "confirm.json"


def load_registration(path: Path | None = None) -> dict[str, Any] | None:
    """The pre-registration, or None when there is none."""
    path = registration_path() if path is None else Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def confirmatory_seeds(task: str, registration: dict[str, Any]) -> tuple[int, ...]:
    """A task's confirmatory seeds: a fresh block, as many as its claims' power needs."""
    entry = registration.get("tasks", {}).get(task, {})
    first = entry.get("first_seed", registration.get("confirmatory_start", CONFIRMATORY_START))
    return tuple(range(first, first + entry.get("seeds", MIN_SEEDS)))
