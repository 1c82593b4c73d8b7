"""Language modelling on natural text (a local folder or a hub dataset), word-level or SentencePiece.

Perplexity is reported per token (the tokenizer's unit) and per word (whitespace words plus one
end-of-line per line), so results compare across tokenizers; for the word-level tokenizer the two
are equal by construction. With no corpus configured the task is skipped with a one-line notice:
there is no natural text the suite could honestly invent.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from suite.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from suite.corpora import check_local_corpus, load_corpus
from suite.data import EOS, StreamBatcher
from suite.models import ARCHITECTURES, build_model, count_parameters
from suite.plots import colour, line_style, new_figure, save
from suite.probes import continuation_logprobs
from suite.results import summarise
from suite.tasks import RunOutcome, Task, TaskData, TaskSettings, register_task
from suite.tokenizers import Tokenizer, TokenizerSpec, get_tokenizer
from suite.train import evaluate_loss, fit

# pytorch/examples word_language_model: SGD lr 20, ÷4 when validation stalls, clip 0.25, BPTT 35, batch 20.
RECIPE = dict(optimizer="sgd", lr=20.0, clip=0.25, schedule="plateau", plateau_factor=4.0, bptt=35,
              batch_size=20)
VANILLA_RNNS, VANILLA_LR = ("rnn_tanh", "rnn_relu"), 5.0
TRANSFORMER_RECIPE = dict(optimizer="adamw", lr=1e-3, clip=1.0, schedule="cosine", warmup_steps=20)
NO_CORPUS = ("text_lm needs a corpus and none is configured; give one with --corpus FOLDER (train/valid/test "
             "files, e.g. --corpus ../shared/data/wikitext-2) or --corpus wikitext:wikitext-2-raw-v1")
TABLE_METRICS = ("valid_ppl", "test_ppl", "valid_ppl_word", "test_ppl_word", "parameters",
                 "tokens_per_second", "wall_seconds", "seconds_to_common_target", "unigram_ppl")


@register_task
class TextLM(Task):
    name = "text_lm"
    description = "language modelling on natural text via `datasets` (perplexity per token and per word)"
    objective = "lm"
    headline = ("test_ppl_word",)
    default_options = {
        "corpus": "",  # folder with train/valid/test files, or hub name e.g. wikitext:wikitext-2-raw-v1
        "tokenizer": "word",  # word | unigram | bpe
        "vocab_size": 0,  # ids incl. specials; word: 0 keeps every training word
        "min_count": 1,  # word-level: rarer training words become <unk>
        "max_train_words": 0,  # use only the first N words of the train split (0 = all)
        "max_eval_words": 0,  # same for valid and test
        "eval_batch_size": 10,  # columns of the valid/test streams (the recipe's eval batch)
        "init_range": 0.1,  # embedding and output weights ~ U(−r, r), output bias 0 (0 = zoo default)
        "target_ppl": 0.0,  # report steps/seconds until validation perplexity ≤ this (0 = off)
        "agreement_testset": "",  # minimal-pair file scored after training (suite.testsets formats)
    }

    def settings(self, size: str) -> TaskSettings:
        # One pass over the first 140k (quick) / 420k (standard) words; the softmax over the vocabulary
        # dominates the cost, hence capped vocabularies: quick ≤ ~50 s, standard ≤ ~2.5 min a run on 1 thread.
        steps = {"smoke": 20, "quick": 200, "standard": 600, "paper": 0}[size]
        hidden = {"smoke": 32, "quick": 128, "standard": 128, "paper": 200}[size]
        vocab = {"smoke": 1000, "quick": 5000, "standard": 10000, "paper": 0}[size]
        train_words = {"smoke": 20_000, "quick": 150_000, "standard": 430_000, "paper": 0}[size]
        eval_words = {"smoke": 4_000, "quick": 16_000, "standard": 40_000, "paper": 0}[size]
        if size == "paper":  # the full pytorch/examples recipe: 6 epochs over the whole corpus
            train = TrainConfig(**RECIPE, epochs=6)
            model = {"hidden": 200, "embed": 200, "dropout": 0.2}
        else:  # a budget of steps; validation on a slice so that it does not dominate the run
            train = TrainConfig(**RECIPE, steps=steps, eval_every=max(1, steps // 5), eval_batches=10)
            model = {"hidden": hidden}
        return TaskSettings(train=train, model=model,
                            options={"vocab_size": vocab, "max_train_words": train_words,
                                     "max_eval_words": eval_words})

    def variants(self, model: ModelConfig, size: str) -> list[dict]:
        # SGD at lr 20 is an LSTM recipe. Under it a vanilla RNN diverges (relu) or ends worse than a
        # unigram model (tanh: 790 vs 295 on quick); a 4× smaller step trains both (342 and 267).
        if model.arch in VANILLA_RNNS:
            return [{"train": {"lr": VANILLA_LR}}]
        if ARCHITECTURES[model.arch].recurrent:
            return [{}]
        # A Transformer reference gets its usual AdamW recipe instead.
        return [{"train": TRANSFORMER_RECIPE}]

    def skip_reason(self, cfg: RunConfig) -> str | None:
        # Natural text cannot be invented: with no corpus a preset sweep leaves the task out.
        return None if self.options(cfg)["corpus"] else NO_CORPUS

    def validate(self, cfg: RunConfig) -> None:
        opts = self.options(cfg)
        if not opts["corpus"]:
            raise ConfigError(NO_CORPUS)
        check_local_corpus(opts["corpus"])  # a bad file stops the sweep before any training
        self.tokenizer_spec(cfg).validate()
        for key in ("max_train_words", "max_eval_words", "target_ppl", "init_range"):
            if opts[key] < 0:
                raise ConfigError(f"text_lm option {key} must be ≥ 0 (got {opts[key]})")
        if opts["eval_batch_size"] < 1:
            raise ConfigError(f"text_lm option eval_batch_size must be ≥ 1 (got {opts['eval_batch_size']})")

    def options(self, cfg: RunConfig) -> dict:
        return {**self.default_options, **cfg.options}

    def tokenizer_spec(self, cfg: RunConfig) -> TokenizerSpec:
        opts = self.options(cfg)
        return TokenizerSpec(str(opts["tokenizer"]), int(opts["vocab_size"]), int(opts["min_count"]))

    def prepare(self, cfg: RunConfig) -> TaskData:
        opts = self.options(cfg)
        corpus = load_corpus(opts["corpus"])
        tokenizer = get_tokenizer(corpus, self.tokenizer_spec(cfg))
        caps = {"train": opts["max_train_words"], "valid": opts["max_eval_words"], "test": opts["max_eval_words"]}
        encoded = {split: tokenizer.encode_lines(first_words(corpus.splits[split], caps[split]))
                   for split in caps}
        batchers = {}
        for split, text in encoded.items():
            columns = cfg.train.batch_size if split == "train" else opts["eval_batch_size"]
            if len(text.ids) <= columns:
                raise ConfigError(f"corpus '{opts['corpus']}': the {split} split has {len(text.ids)} tokens, "
                                  f"too few for {columns} stream columns")
            batchers[split] = StreamBatcher(text.ids, columns, cfg.train.bptt)
        extra = {"test": batchers["test"], "encoded": encoded, "tokenizer": tokenizer,
                 "unigram_ppl": unigram_perplexity(encoded["train"].ids, encoded["test"].ids, len(tokenizer.vocab)),
                 "provenance": {"corpus_sha256": corpus.train_sha256, "corpus_source": corpus.source,
                                "corpus_cache_hit": corpus.cache_hit, "tokenizer_cache_hit": tokenizer.cache_hit,
                                "train_tokens": len(encoded["train"].ids), "train_words": encoded["train"].words}}
        return TaskData(train=batchers["train"], valid=batchers["valid"], vocab=tokenizer.vocab, extra=extra)

    def run(self, cfg: RunConfig, progress: bool = False) -> RunOutcome:
        opts = self.options(cfg)
        data = self.prepare(cfg)
        torch.manual_seed(cfg.seed)  # init and dropout follow the run's seed, with or without the runner
        model = build_model(cfg.model, len(data.vocab), self.objective).to(cfg.device)
        if ARCHITECTURES[cfg.model.arch].recurrent:  # the Transformer reference keeps its own init
            init_output_layers(model, float(opts["init_range"]))
        training = fit(model, data.train, data.valid, cfg.train, seed=cfg.seed, device=cfg.device,
                       progress=progress)
        metrics = self.evaluate(model, data, cfg) if training.status == "ok" else {}
        if training.status == "ok" and opts["target_ppl"]:
            steps, seconds = time_to_target(training.curve, opts["target_ppl"], training.train_seconds,
                                            training.steps)
            metrics.update(target_ppl=opts["target_ppl"], steps_to_target=steps, seconds_to_target=seconds)
        # Provenance, not results: a cache hit must not make the same run's metrics differ.
        return RunOutcome(training, metrics, count_parameters(model), extra={"corpus": data.extra["provenance"]},
                          model=model, vocab=data.extra["tokenizer"])

    def evaluate(self, model: nn.Module, data: TaskData, cfg: RunConfig) -> dict:
        metrics = {}
        for split, batcher in (("valid", data.valid), ("test", data.extra["test"])):
            loss = evaluate_loss(model, batcher, cfg.device)
            word_loss = per_word_loss(loss, batcher, data.extra["encoded"][split].word_ends)
            metrics.update({f"{split}_loss": loss, f"{split}_ppl": math.exp(loss),
                            f"{split}_ppl_word": math.exp(word_loss)})
        test = data.extra["encoded"]["test"]
        metrics.update(vocab_size=len(data.vocab), unigram_ppl=data.extra["unigram_ppl"],
                       tokens_per_word=len(test.ids) / test.words)
        testset = self.options(cfg)["agreement_testset"]
        if testset:
            metrics["agreement"] = score_testset(model, data.extra["tokenizer"], testset, cfg.device)
        return metrics

    # ----- report hooks

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        frames = []
        for key, group in corpus_groups(self.mine(records)).items():
            table = summarise(with_common_target(group), list(TABLE_METRICS))
            if table.empty:
                continue
            table.insert(0, "corpus", key[0])
            table.insert(1, "tokenizer", f"{key[1]} ({key[2] or 'all'})")
            frames.append(table)
        tables = {"text_lm_perplexity": pd.concat(frames, ignore_index=True)} if frames else {}
        agreement = agreement_table(self.mine(records))
        if not agreement.empty:
            tables["text_lm_agreement"] = agreement
        return tables

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        paths = []
        for n, (key, group) in enumerate(corpus_groups(self.mine(records)).items()):
            fig, ax = new_figure()
            for r in group:
                curve = validation_curve(r)
                if curve:
                    ax.plot(*zip(*curve), color=colour(r["label"]), linestyle=line_style(r["label"]),
                            label=f"{r['label']} (seed {r['config']['seed']})")
            if not ax.lines:
                continue
            ax.set_yscale("log")
            ax.set_xlabel("training time (s, excluding validation)")
            ax.set_ylabel("validation perplexity per token (in training)")
            ax.set_title(f"{Path(key[0]).name or key[0]}, {key[1]} tokens", fontsize=9)
            ax.legend(fontsize=7)
            path = Path(out_dir) / f"text_lm_curves_{n}.png"
            save(fig, path)
            paths.append(path)
        return paths

    def mine(self, records: list[dict]) -> list[dict]:
        return [r for r in records if r["config"]["task"] == self.name]


# --------------------------------------------------------------------------- helpers


def first_words(lines: Sequence[str], limit: int) -> list[str]:
    """The shortest prefix of lines holding at least `limit` words (+1 per line for <eos>); 0 = all."""
    if not limit:
        return list(lines)
    taken, count = [], 0
    for line in lines:
        if count >= limit:
            break
        taken.append(line)
        count += len(line.split()) + 1
    return taken


def per_word_loss(loss_per_token: float, batcher: StreamBatcher, word_ends: torch.Tensor) -> float:
    """Total NLL over the targets `batcher` scores, divided by the words those targets complete."""
    targets = batcher.targets.numel()
    words = int(word_ends[1:targets + 1].sum())  # StreamBatcher scores ids[1 : targets + 1]
    return loss_per_token * targets / max(words, 1)


def init_output_layers(model: nn.Module, init_range: float) -> None:
    """pytorch/examples' init: embedding and output weights ~ U(−r, r), output bias 0 (r = 0: leave)."""
    if not init_range:
        return
    with torch.no_grad():
        model.embedding.weight.uniform_(-init_range, init_range)
        if model.head.weight is not model.embedding.weight:
            model.head.weight.uniform_(-init_range, init_range)
        model.head.bias.zero_()


def time_to_target(curve: list[dict], target_ppl: float, train_seconds: float,
                   steps: int) -> tuple[int | None, float | None]:
    """First validation point with perplexity ≤ target: (step, training seconds), None if never.

    Seconds are step × mean step time: stream batches all have the same shape, so steps cost alike.
    """
    for point in curve:
        if "valid_loss" in point and math.exp(point["valid_loss"]) <= target_ppl:
            return point["step"], point["step"] * train_seconds / max(steps, 1)
    return None, None


def validation_curve(record: dict) -> list[tuple[float, float]]:
    """(training seconds, validation perplexity per token) points of a run."""
    training = record.get("training") or {}
    steps, seconds = training.get("steps") or 0, training.get("train_seconds") or 0.0
    return [(p["step"] * seconds / max(steps, 1), math.exp(p["valid_loss"]))
            for p in training.get("curve", []) if "valid_loss" in p and math.isfinite(p["valid_loss"])]


def corpus_groups(records: list[dict]) -> dict[tuple, list[dict]]:
    """Records split by (corpus, tokenizer, vocab size, train slice): only these compare."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        o = r["config"]["options"]
        key = (str(o.get("corpus")), o.get("tokenizer"), o.get("vocab_size"), o.get("max_train_words"))
        groups.setdefault(key, []).append(r)
    return groups


def with_common_target(group: list[dict]) -> list[dict]:
    """Copies of the records with `seconds_to_common_target`: time until the validation perplexity
    that the weakest finished run ends at (its best), so every finished run reaches it."""
    best = [min(ppl for _, ppl in validation_curve(r)) for r in group
            if r.get("status") == "ok" and validation_curve(r)]
    if not best:
        return group
    target = max(best)
    out = []
    for r in group:
        reached = next((t for t, ppl in validation_curve(r) if ppl <= target), None)
        metrics = {**(r.get("metrics") or {}), "common_target_ppl": target, "seconds_to_common_target": reached}
        out.append({**r, "metrics": metrics})
    return out


def unigram_perplexity(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Perplexity per token of an add-one unigram model fitted on train: the floor any LM should beat."""
    counts = Counter(train.tolist())
    total = len(train) + vocab_size
    log_prob = sum(math.log((counts.get(t, 0) + 1) / total) for t in test.tolist())
    return math.exp(-log_prob / len(test))


# --------------------------------------------------------------------------- agreement test sets


def encode_phrase(tokenizer: Tokenizer, words: Sequence[str]) -> list[int]:
    """Ids of test-set words: <eos> stays the sentence boundary, other words go through the tokenizer."""
    ids: list[int] = []
    for w in words:
        ids.extend([tokenizer.vocab.eos_id] if w == EOS else tokenizer.encode_words([w])[0])
    return ids


def score_testset(model: nn.Module, tokenizer: Tokenizer, path: str, device: str = "cpu") -> dict:
    """Error rate on a published minimal-pair set (suite.testsets formats), scored with suite.probes.

    Word-level models skip items with a word outside their vocabulary (counted, never silent);
    SentencePiece models can spell every word, and a word's score sums its pieces.
    """
    from suite.stats import wilson_ci
    from suite.testsets import load_testset

    items = load_testset(path)
    unk = tokenizer.vocab.unk_id
    scorable, skipped = [], 0
    for item in items:
        prefix, good, bad = (encode_phrase(tokenizer, p) for p in (item.prefix, item.correct, item.wrong))
        if tokenizer.spec.kind == "word" and unk in (*prefix, *good, *bad):
            skipped += 1
            continue
        scorable.append((item, prefix, good, bad))
    result = {"testset": str(path), "items": len(items), "skipped_out_of_vocabulary": skipped}
    if not scorable:
        return {**result, "scored": 0}
    prefixes = [s[1] for s in scorable]
    scores = continuation_logprobs(model, prefixes + prefixes, [s[2] for s in scorable] + [s[3] for s in scorable],
                                   device)
    n = len(scorable)
    errors = [scores[i] <= scores[n + i] for i in range(n)]  # a tie is not a preference: an error
    ci = wilson_ci(sum(errors), n)
    by_attractors: dict[int, list[bool]] = {}
    for (item, *_), err in zip(scorable, errors):
        if item.attractors is not None:
            by_attractors.setdefault(item.attractors, []).append(err)
    return {**result, "scored": n, "error_rate": ci.mean, "error_low": ci.low, "error_high": ci.high,
            "by_attractors": {str(k): {"n": len(v), "error_rate": sum(v) / len(v)}
                              for k, v in sorted(by_attractors.items())}}


def agreement_table(records: list[dict]) -> pd.DataFrame:
    """Agreement error per run on the configured test set, with its Wilson 95 % interval over items."""
    rows = []
    for r in records:
        a = (r.get("metrics") or {}).get("agreement")
        if not a or not a.get("scored"):
            continue
        rows.append({"model": r["label"], "seed": r["config"]["seed"], "corpus": r["config"]["options"]["corpus"],
                     "tokenizer": r["config"]["options"]["tokenizer"], "testset": Path(a["testset"]).name,
                     "scored": a["scored"], "skipped_oov": a["skipped_out_of_vocabulary"],
                     "error_rate": a["error_rate"], "error_rate_low": a["error_low"],
                     "error_rate_high": a["error_high"], "interval": "Wilson over items"})
    return pd.DataFrame(rows)
