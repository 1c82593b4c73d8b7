#!/usr/bin/env python
"""Parity check: pytorch/examples word_language_model's default recipe, through the suite and bare.

The recipe: word-level WikiText-2, 2-layer LSTM with embed = hidden = 200, dropout 0.2, SGD lr 20
divided by 4 when validation stalls, gradient-norm clip 0.25, BPTT 35, batch 20, eval batch 10,
6 epochs, encoder/decoder weights ~ U(−0.1, 0.1) and decoder bias 0. It runs (a) as a `text_lm` run
through the suite's runner, trainer and task, and (b) as a bare torch loop written the way the
example is, then prints both test perplexities and their ratio (issue 6 asks for ≤ 3 % apart).

    python benchmarks/wikitext_recipe.py                      # the full thing (≈ 1.6 h per path on 2 cores)
    python benchmarks/wikitext_recipe.py --epochs 1 --max-batches 300   # a smoke test in minutes

With `--softmax both` the suite path runs twice, with the full and with the adaptive softmax (issue 13):
it prints each run's validation perplexity and training time, and the training time the adaptive run
takes to reach the full run's final validation perplexity; `--budget-seconds S` stops both runs after S
seconds of training, so their validation perplexities compare at equal cost:

    python benchmarks/wikitext_recipe.py --paths suite --softmax both --epochs 1 --eval-every 150
    python benchmarks/wikitext_recipe.py --paths suite --softmax both --budget-seconds 300 --eval-every 100

Known, deliberate differences between the paths (none changes the recipe): the suite's vocabulary
has one extra id (<pad>, never a target); its stream layout scores the last token of each batch
column (the example does not); its hidden state carries over epoch boundaries (the example resets).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "wikitext-2"
EMBED = HIDDEN = 200
LAYERS, DROPOUT, LR, CLIP, BPTT, BATCH, EVAL_BATCH, INIT_RANGE = 2, 0.2, 20.0, 0.25, 35, 20, 10, 0.1


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train.txt/valid.txt/test.txt")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--max-batches", type=int, default=0,
                   help="train on only the first N×batch×bptt words, i.e. about N batches per epoch (0 = all)")
    p.add_argument("--max-eval-words", type=int, default=0, help="evaluate on the first N words of valid/test")
    p.add_argument("--seed", type=int, default=1111, help="the example's default seed")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--paths", default="suite,bare", help="which paths to run: suite, bare or both")
    p.add_argument("--out", type=Path, default=Path("/tmp/wikitext_recipe"), help="records and summary JSON")
    p.add_argument("--softmax", choices=["full", "adaptive", "both"], default="full",
                   help="output layer of the suite path; both: full, then adaptive, compared (default: full)")
    p.add_argument("--budget-seconds", type=float, default=0.0,
                   help="stop each suite run after this many seconds of training (0 = no budget)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="suite path: validate every N steps (0 = once per epoch, as the recipe); needs --epochs 1")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="suite path: autocast dtype")
    args = p.parse_args(argv)
    if args.eval_every and args.epochs != 1:
        p.error("--eval-every needs --epochs 1: more validations would decay the plateau schedule's lr sooner")
    return args


# --------------------------------------------------------------------------- (a) through the suite


def run_suite_path(args, softmax: str = "full", target_ppl: float = 0.0) -> dict:
    from suite.core.config import ModelConfig, RunConfig, TrainConfig
    from suite.run.runner import Execution, execute

    cfg = RunConfig(
        task="text_lm",
        model=ModelConfig(arch="lstm", layers=LAYERS, hidden=HIDDEN, embed=EMBED, dropout=DROPOUT, softmax=softmax),
        # Within one epoch the plateau schedule never decays (it validates once, at the end); with extra
        # validations (--eval-every, one epoch only) a constant lr keeps exactly that schedule.
        train=TrainConfig(optimizer="sgd", lr=LR, clip=CLIP, schedule="constant" if args.eval_every else "plateau",
                          plateau_factor=4.0,
                          bptt=BPTT, batch_size=BATCH, epochs=args.epochs, eval_every=args.eval_every,
                          max_seconds=args.budget_seconds or None, precision=args.precision),
        seed=args.seed, device=args.device,
        options={"corpus": str(args.data), "tokenizer": "word", "vocab_size": 0, "min_count": 1,
                 "max_train_words": args.max_batches * BATCH * BPTT, "max_eval_words": args.max_eval_words,
                 "eval_batch_size": EVAL_BATCH, "init_range": INIT_RANGE, "target_ppl": target_ppl})
    started = time.perf_counter()
    record = execute(cfg, args.out, Execution(threads=args.threads or torch.get_num_threads()))
    if record["status"] != "ok":
        raise SystemExit(f"suite path {record['status']}: {record.get('error')}")
    curve = [math.exp(p["valid_loss"]) for p in record["training"]["curve"] if "valid_loss" in p]
    metrics = record["metrics"]
    return {"softmax": softmax, "test_ppl": metrics["test_ppl"], "valid_ppl": metrics["valid_ppl"],
            "valid_ppl_per_epoch": curve, "vocab_size": metrics["vocab_size"], "parameters": record["parameters"],
            "train_seconds": record["train_seconds"], "tokens_per_second": record["tokens_per_second"],
            "steps": record["training"]["steps"], "stopped_by": record["training"]["stopped_by"],
            "seconds_to_target": metrics.get("seconds_to_target"), "device": record["device"],
            "seconds": time.perf_counter() - started, "run_id": record["run_id"]}


def run_suite_paths(args, results: dict) -> None:
    """The suite path with each requested softmax; an adaptive run after a full one aims at its perplexity."""
    target = 0.0
    for softmax in (["full", "adaptive"] if args.softmax == "both" else [args.softmax]):
        key = "suite" if softmax == "full" else "suite_adaptive"
        results[key] = run = run_suite_path(args, softmax, target)
        print(f"(a) suite, {softmax} softmax: valid ppl {run['valid_ppl']:.2f}, test ppl {run['test_ppl']:.2f}, "
              f"valid ppl per evaluation {[round(v, 2) for v in run['valid_ppl_per_epoch']]}, "
              f"{run['train_seconds']:.0f} s training ({run['stopped_by']}), {run['tokens_per_second']:,.0f} tokens/s, "
              f"{run['seconds']:.0f} s in all", flush=True)
        target = target or run["valid_ppl"]
    if args.softmax == "both":
        full, adaptive = results["suite"], results["suite_adaptive"]
        reached = adaptive["seconds_to_target"]
        results["adaptive_time_fraction"] = None if reached is None else reached / full["train_seconds"]
        print(f"adaptive softmax reaches the full softmax's valid ppl {full['valid_ppl']:.2f} after "
              + ("— never —" if reached is None else
                 f"{reached:.0f} s of training = {reached / full['train_seconds']:.2f} × the full run's "
                 f"{full['train_seconds']:.0f} s (issue 13 asks ≤ 0.5)"), flush=True)


# --------------------------------------------------------------------------- (b) the bare loop


def read_words(path: Path) -> list[list[str]]:
    """Each line's words plus <eos>, as the example's data.Corpus reads a file."""
    with open(path, encoding="utf-8") as f:
        return [line.split() + ["<eos>"] for line in f]


def first_lines(lines: list[list[str]], limit: int) -> list[list[str]]:
    """Whole lines until at least `limit` words (0 = all): the same slice as the suite's option."""
    taken, count = [], 0
    for words in lines:
        if limit and count >= limit:
            break
        taken.append(words)
        count += len(words)
    return taken


def batchify(ids: torch.Tensor, columns: int) -> torch.Tensor:
    """[steps, columns]: the stream cut into `columns` contiguous pieces, remainder dropped."""
    steps = ids.size(0) // columns
    return ids[:steps * columns].view(columns, -1).t().contiguous()


class RecipeLSTM(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.drop = nn.Dropout(DROPOUT)
        self.encoder = nn.Embedding(vocab_size, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, LAYERS, dropout=DROPOUT)
        self.decoder = nn.Linear(HIDDEN, vocab_size)
        nn.init.uniform_(self.encoder.weight, -INIT_RANGE, INIT_RANGE)
        nn.init.uniform_(self.decoder.weight, -INIT_RANGE, INIT_RANGE)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden

    def zero_state(self, columns: int, device):
        shape = (LAYERS, columns, HIDDEN)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)


def stream_windows(data: torch.Tensor):
    for i in range(0, data.size(0) - 1, BPTT):
        n = min(BPTT, data.size(0) - 1 - i)
        yield data[i:i + n], data[i + 1:i + 1 + n]


@torch.no_grad()
def bare_evaluate(model: RecipeLSTM, data: torch.Tensor, vocab_size: int) -> float:
    model.eval()
    hidden, total = model.zero_state(EVAL_BATCH, data.device), 0.0
    for x, y in stream_windows(data):
        out, hidden = model(x, hidden)
        total += len(x) * nn.functional.cross_entropy(out.view(-1, vocab_size), y.reshape(-1)).item()
    return total / (data.size(0) - 1)


def run_bare_path(args) -> dict:
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    splits = {split: read_words(args.data / f"{split}.txt") for split in ("train", "valid", "test")}
    index: dict[str, int] = {}
    for split in ("train", "valid", "test"):  # the example's dictionary spans all three whole files
        for line in splits[split]:
            for w in line:
                index.setdefault(w, len(index))
    limits = {"train": args.max_batches * BATCH * BPTT, "valid": args.max_eval_words, "test": args.max_eval_words}
    streams = {k: torch.tensor([index[w] for line in first_lines(v, limits[k]) for w in line])
               for k, v in splits.items()}
    train = batchify(streams["train"], BATCH).to(args.device)
    valid = batchify(streams["valid"], EVAL_BATCH).to(args.device)
    test = batchify(streams["test"], EVAL_BATCH).to(args.device)
    vocab_size = len(index)
    model = RecipeLSTM(vocab_size).to(args.device)
    lr, best_loss, best_state, curve = LR, None, None, []
    for epoch in range(args.epochs):
        model.train()
        hidden = model.zero_state(BATCH, args.device)
        for x, y in stream_windows(train):
            hidden = tuple(h.detach() for h in hidden)
            model.zero_grad()
            out, hidden = model(x, hidden)
            loss = nn.functional.cross_entropy(out.view(-1, vocab_size), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
        valid_loss = bare_evaluate(model, valid, vocab_size)
        curve.append(math.exp(valid_loss))
        print(f"  bare  epoch {epoch + 1}: valid ppl {curve[-1]:.2f} (lr {lr:g})", flush=True)
        if best_loss is None or valid_loss < best_loss:
            best_loss, best_state = valid_loss, copy.deepcopy(model.state_dict())
        else:
            lr /= 4.0
    model.load_state_dict(best_state)
    return {"test_ppl": math.exp(bare_evaluate(model, test, vocab_size)), "valid_ppl_per_epoch": curve,
            "vocab_size": vocab_size, "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": time.perf_counter() - started}


def main(argv=None) -> int:
    args = parse_args(argv)
    from suite.run.runner import keep_freed_memory
    keep_freed_memory()  # the suite's runs do this; the bare loop gets the same allocator, for fair timings
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = {p.strip() for p in args.paths.split(",")}
    results = {}
    if "suite" in paths:
        run_suite_paths(args, results)
    if "bare" in paths:
        results["bare"] = run_bare_path(args)
        print(f"(b) bare:  test ppl {results['bare']['test_ppl']:.2f}, valid ppl per epoch "
              f"{[round(v, 2) for v in results['bare']['valid_ppl_per_epoch']]}, "
              f"{results['bare']['seconds']:.0f} s", flush=True)
    if "suite" in results and "bare" in results:
        ratio = results["suite"]["test_ppl"] / results["bare"]["test_ppl"]
        results["ratio_suite_over_bare"] = ratio
        results["within_3_percent"] = abs(ratio - 1) <= 0.03
        print(f"test ppl ratio suite/bare = {ratio:.4f} ({'within' if results['within_3_percent'] else 'NOT within'}"
              " 3 %)")
    results["settings"] = {k: str(v) for k, v in vars(args).items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
