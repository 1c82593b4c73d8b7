"""Tables of evaluation results (the `eval` command's cache): error per model and test set, by attractors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from suite.core.items import from_compact
from suite.judge.stats import wilson_ci
from suite.run.evals_cache import load_evals


def eval_tables(out_dir: Path) -> dict[str, pd.DataFrame]:
    """Error per model and test set, and error by attractors (by distance for sets without attractors, such
    as the recall probes) per model and seed, with Wilson 95 % intervals over items."""
    overall: list[dict] = []
    grouped: dict[str, list[dict]] = {"attractors": [], "distance": []}
    for r in load_evals(out_dir):
        model = who(r["model"])
        s = r["summary"]
        overall.append({**model, "testset": Path(r["testset"]).name, "items": s["items"], "scored": s["scored"],
                        "unscorable": s["unscorable"], "error_rate": s["error_rate"],
                        "error_rate_low": s["error_low"], "error_rate_high": s["error_high"]})
        frame = from_compact(r["item_rows"])
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
