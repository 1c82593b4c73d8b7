"""Tables of evaluation results (the `eval` command's cache): error per model and test set, by attractors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from suite.core.items import from_compact
from suite.judge.stats import wilson_ci
from suite.run.evals_cache import load_evals


def eval_tables(out_dir: Path, labels: dict[str, str] | None = None, chosen: set[str] | None = None
                ) -> dict[str, pd.DataFrame]:
    """Error per model and test set (per condition where a set has them: Gulordava's original / nonce), and
    error by attractors (by distance for sets without attractors, such as the recall probes) per model and seed,
    with Wilson 95 % intervals over items. Each row says the unknown-word policy, how many items were set aside
    or had unknown words, and — given `labels` / `chosen` — the settings telling sibling runs apart and whether
    the task's tuning chose the run on validation."""
    overall: list[dict] = []
    grouped: dict[str, list[dict]] = {"attractors": [], "distance": []}
    for r in load_evals(out_dir):
        model = who(r["model"])
        if model["run_id"] is not None:
            model.update(settings=(labels or {}).get(model["run_id"], ""),
                         chosen=None if chosen is None else model["run_id"] in chosen)
        s = r["summary"]
        frame = from_compact(r["item_rows"])
        counts = {"items": s["items"], "scored": s["scored"], "unscorable": s["unscorable"],
                  "set_aside": s.get("set_aside", 0), "with_unknown": s.get("with_unknown", 0),
                  "case_folded": s.get("case_folded", 0), "oov": s.get("oov")}
        overall.append({**model, "testset": Path(r["testset"]).name, "condition": "all", **counts,
                        "error_rate": s["error_rate"], "error_rate_low": s["error_low"],
                        "error_rate_high": s["error_high"]})
        if "condition" in frame.columns:  # kept apart: original sentences vs nonce ones
            for condition, group in frame.dropna(subset=["condition"]).groupby("condition"):
                errors = int((~group["correct"].astype(bool)).sum())
                ci = wilson_ci(errors, len(group))
                overall.append({**model, "testset": Path(r["testset"]).name, "condition": condition,
                                "items": len(group), "scored": len(group), "oov": s.get("oov"), "error_rate": ci.mean,
                                "error_rate_low": ci.low, "error_rate_high": ci.high})
        by = "attractors" if frame["attractors"].notna().any() else "distance"  # recall probes: distance
        for k, group in frame.dropna(subset=[by]).groupby(by):
            errors = int((~group["correct"].astype(bool)).sum())
            ci = wilson_ci(errors, len(group))
            grouped[by].append({**model, "testset": Path(r["testset"]).name, by: int(k), "n": len(group),
                                "error_rate": ci.mean, "error_rate_low": ci.low, "error_rate_high": ci.high})
    tables = {"eval_testsets": pd.DataFrame(overall)} if overall else {}
    for by, rows in grouped.items():
        if rows:
            tables[f"eval_{by}"] = pd.DataFrame(rows)
    return tables


def who(info: dict) -> dict[str, Any]:
    if info.get("kind") == "run":
        return {"model": info["model"], "seed": info["seed"], "task": info["task"], "run_id": info["run_id"]}
    return {"model": info.get("name", "?"), "seed": None, "task": info.get("kind"), "run_id": None}
