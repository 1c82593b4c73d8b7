#!/usr/bin/env python
"""GPU check (issue 13): what a maintainer with a CUDA device runs, in one go.

1. every task's smoke config on the GPU, with every zoo architecture (rnn_tanh, rnn_relu, lstm, gru and,
   where a task takes it, the Transformer): each run must finish, and its record must name the GPU;
2. the WikiText-2 recipe (2×200 LSTM, dropout 0.2, SGD lr 20, BPTT 35, batch 20) for one epoch: tokens/s
   and validation perplexity with the full and the adaptive softmax, in fp32 and bf16;
3. with --parity, benchmarks/wikitext_recipe.py's 6-epoch parity (suite against a bare loop) on the GPU.

    python benchmarks/gpu_check.py                      # 1 and 2: a few minutes on one GPU
    python benchmarks/gpu_check.py --parity             # and 3

On a machine where torch sees no CUDA device it prints one line saying so and exits 0.
Exit status 1 when a smoke run fails or does not run on the GPU.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ARCHS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
RECIPE_VARIANTS = (("full", "fp32"), ("adaptive", "fp32"), ("full", "bf16"), ("adaptive", "bf16"))


def parse_args(argv=None) -> argparse.Namespace:
    import wikitext_recipe

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=wikitext_recipe.DEFAULT_DATA, help="WikiText-2 folder")
    p.add_argument("--device", default="cuda")
    p.add_argument("--parity", action="store_true", help="also run the 6-epoch parity check")
    p.add_argument("--skip-recipe", action="store_true", help="only the smoke runs")
    return p.parse_args(argv)


def smoke_configs(task: str, device: str, corpus: Path):
    """The task's smoke runs for every zoo architecture, plus the Transformer where the task takes it."""
    from suite.core.config import ConfigError
    from suite.run.sweep import PRESETS, Overrides, expand

    options = {"corpus": str(corpus)} if task == "text_lm" else {}
    for archs in (ARCHS + ("transformer",), ARCHS):
        try:
            return expand(PRESETS["smoke"], Overrides(tasks=(task,), archs=archs, device=device, options=options))
        except ConfigError as exc:
            last = exc
    raise last


def check_smoke(device: str, corpus: Path) -> bool:
    from suite.run.runner import Execution, run_sweep
    from suite.task import all_tasks

    ok = True
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as out:
        for task in sorted(all_tasks()):
            if task == "text_lm" and not corpus.is_dir():
                print(f"  {task:<16} skipped: no corpus at {corpus} (--data)")
                continue
            started = time.perf_counter()
            records = run_sweep(smoke_configs(task, device, corpus), Path(out), Execution(1, 1), log=lambda *a: None)
            bad = [r for r in records if r["status"] == "failed" or "cuda" not in str(r.get("device"))]
            ok &= not bad
            print(f"  {task:<16} {len(records) - len(bad)}/{len(records)} runs ok on "
                  f"{records[0].get('device') if records else '?'} in {time.perf_counter() - started:.0f} s"
                  + "".join(f"\n    FAILED {r['label']}: {r.get('error') or 'ran on ' + str(r.get('device'))}"
                            for r in bad), flush=True)
    return ok


def check_recipe(args) -> None:
    import wikitext_recipe

    for softmax, precision in RECIPE_VARIANTS:
        with tempfile.TemporaryDirectory(prefix="gpu-recipe-") as out:
            recipe_args = wikitext_recipe.parse_args(["--data", str(args.data), "--epochs", "1", "--device",
                                                      args.device, "--precision", precision, "--out", out])
            run = wikitext_recipe.run_suite_path(recipe_args, softmax)
        print(f"  {softmax:<8} softmax, {precision}: {run['tokens_per_second']:,.0f} tokens/s, one epoch in "
              f"{run['train_seconds']:.0f} s, valid ppl {run['valid_ppl']:.2f}, test ppl {run['test_ppl']:.2f}",
              flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device (torch sees none); nothing to check on this machine")
        return 0
    from suite.run.runner import plan_execution

    print(f"torch {torch.__version__}, {torch.cuda.device_count()} × {torch.cuda.get_device_name(0)}; "
          f"--device cuda runs {plan_execution(None, 'cuda').workers} worker process(es) by default")
    print("1. every task's smoke config on the GPU")
    ok = check_smoke(args.device, args.data)
    if not args.skip_recipe and args.data.is_dir():
        print("2. the WikiText-2 recipe, one epoch")
        check_recipe(args)
    if args.parity:
        import wikitext_recipe

        print("3. the 6-epoch parity, suite against the bare loop")
        wikitext_recipe.main(["--data", str(args.data), "--device", args.device, "--out", "/tmp/gpu_check_parity"])
    print("gpu_check: " + ("all smoke runs ok on the GPU" if ok else "SOME SMOKE RUNS FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
