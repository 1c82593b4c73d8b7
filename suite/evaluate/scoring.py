"""Score a model that already exists on minimal-pair sets and on the suite's own probes, with no training.

Every model is seen through `WordLM`: a network that maps ids [B, T] to logits, and a way to turn
words into its ids. A word's score sums its pieces (suite.models.scoring.continuation_logprobs); the suite's
sentence boundary `<eos>` becomes the model's start id when it opens a sequence and its end id
elsewhere. Results are cached apart from the run records, as `evals/<model key>/<test-set hash>.json`
(model key: run id, or a hash naming an external model), so adding a test set never changes a run id.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import nn

from suite.run.checkpoints import SavedModel
from suite.core.config import ConfigError, RunConfig
from suite.data.batches import EOS
from suite.models.scoring import continuation_logprobs
from suite.run.outputs import write_json_atomic
from suite.run.evals_cache import EVAL_FORMAT, cached_eval, eval_path, load_evals  # noqa: F401
from suite.evaluate.probes import Choice, ProbeProvider
from suite.evaluate.testsets import MinimalPair, load_testset

PROBES_KEY = "task-probes"  # the cache name of a saved run's own task probes


@dataclass
class WordLM:
    """A language model seen as words: what every evaluation here scores."""

    key: str  # names the model in the cache: a run id, or e.g. hf-<hash>
    model: nn.Module  # ids [B, T] → (logits [B, T, V], anything); right padding must not matter
    encode_word: Callable[[str, bool], list[int] | None]  # (word, first of its sequence) → ids, None if it cannot
    start_id: int | None  # the id a leading <eos> becomes; None drops it (no start token)
    end_id: int | None  # the id any other <eos> becomes (a sentence's end); None: such items are skipped
    device: str = "cpu"
    info: dict[str, Any] = field(default_factory=dict)  # who the model is, stored with every result
    unk_id: int | None = None  # the id unknown words map to under --oov unk (word-level suite models)
    oov: str | None = None  # "unk" or "skip" for word-level suite models; None where it does not apply

    def encode(self, words: Sequence[str]) -> list[int] | None:
        """Ids of a whole sequence (a leading <eos> opens it); None when some word cannot be spelt."""
        ids: list[int] = []
        seen_word = False
        for position, word in enumerate(words):
            if word == EOS:
                token = self.start_id if position == 0 else self.end_id
                if token is None and position > 0:
                    return None
                ids.extend([] if token is None else [token])
                continue
            pieces = self.encode_word(word, not seen_word)
            if not pieces:
                return None
            ids.extend(pieces)
            seen_word = True
        return ids


OOV_POLICIES = ("unk", "skip")
_SPLIT_INSIDE = ((re.compile(r"(?<=\w)-(?=\w)"), " @-@ "), (re.compile(r"(?<=\d),(?=\d)"), " @,@ "),
                 (re.compile(r"(?<=\d)\.(?=\d)"), " @.@ "))
_WIKITEXT_TOKEN = re.compile(r"@[-,.]@|'\w+|\w+|[^\w\s]")


def wikitext_spelling(word: str) -> list[str]:
    """A word as WikiText writes it: clitics apart (don 't, Carla 's), in-word hyphens as @-@."""
    for pattern, token in _SPLIT_INSIDE:
        word = pattern.sub(token, word)
    return _WIKITEXT_TOKEN.findall(word)


def vocab_spelling(word: str, stoi: dict[str, int]) -> tuple[list[str], bool]:
    """(pieces, all known): the word as this vocabulary's corpus wrote it — as is, lower-cased (a lower-case
    corpus), or split the WikiText way (`haven't` → `haven 't`); else the spelling with most known pieces."""
    split = wikitext_spelling(word)
    candidates = [[word], [word.lower()], split, [w.lower() for w in split]]
    for pieces in candidates:
        if pieces and all(p in stoi for p in pieces):
            return pieces, True
    return max(candidates, key=lambda ps: sum(p in stoi for p in ps) / max(len(ps), 1)), False


def suite_word_lm(saved: SavedModel, device: str = "cpu", oov: str | None = None) -> WordLM:
    """A saved suite run as a WordLM. A word-level vocabulary spells a word the way its corpus did
    (vocab_spelling); an unknown word becomes <unk> under oov "unk" (the default, as in Gulordava et al.)
    and makes its item unscorable under "skip". SentencePiece spells every word (oov does not apply)."""
    vocab, tokenizer = saved.vocab, saved.tokenizer
    word_level = tokenizer is None or tokenizer.spec.kind == "word"
    if oov is not None and oov not in OOV_POLICIES:
        raise ConfigError(f"unknown --oov policy '{oov}'; valid: {', '.join(OOV_POLICIES)}")
    if oov is not None and not word_level:
        raise ConfigError(f"run {saved.run_id}: --oov {oov} does not apply to a {tokenizer.spec.kind} model "
                          "(subwords spell every word); leave --oov out for it")
    policy = (oov or "unk") if word_level else None

    def encode_word(word: str, first: bool) -> list[int] | None:
        if not word_level:
            return tokenizer.encode_words([word])[0]
        pieces, known = vocab_spelling(word, vocab.stoi)
        if not known and policy == "skip":
            return None
        return [vocab.stoi.get(p, vocab.unk_id) for p in pieces]

    cfg = saved.cfg
    info = {"kind": "run", "run_id": saved.run_id, "task": cfg.task, "model": cfg.model.label,
            "arch": cfg.model.arch, "seed": cfg.seed}
    return WordLM(saved.run_id, saved.model.to(device), encode_word, vocab.eos_id, vocab.eos_id, device, info,
                  vocab.unk_id if word_level else None, policy)


# --------------------------------------------------------------------------- minimal pairs


@dataclass
class PairScores:
    rows: list[dict[str, Any]]  # item rows (suite.items), scored items only
    total: int
    unscorable: int  # items with a word the model cannot spell (or no context): counted, never dropped silently
    oov_words: list[tuple[str, int]]  # the commonest such words, with counts
    set_aside: int = 0  # both forms spell the same ids (e.g. both <unk>): nothing to compare, not an error
    with_unknown: int = 0  # items with an unknown word (mapped to <unk>, or unscorable under --oov skip)
    oov: str | None = None  # the unknown-word policy, where one applies

    def summary(self) -> dict[str, Any]:
        from suite.judge.stats import wilson_ci  # the judging stack (scipy, statsmodels) only once scoring

        errors = sum(not r["correct"] for r in self.rows)
        ci = wilson_ci(errors, len(self.rows))
        return {"items": self.total, "scored": len(self.rows), "unscorable": self.unscorable,
                "set_aside": self.set_aside, "with_unknown": self.with_unknown, "oov": self.oov,
                "oov_words": [list(w) for w in self.oov_words], "errors": errors,
                "error_rate": ci.mean, "error_low": ci.low, "error_high": ci.high,
                "by_attractors": self.errors_by("attractors"), "by_distance": self.errors_by("distance")}

    def errors_by(self, key: str) -> dict[str, dict[str, int]]:
        """{value: {"n", "errors"}} over the scored items annotated with `key`."""
        by: dict[int, list[bool]] = {}
        for r in self.rows:
            if r[key] is not None:
                by.setdefault(int(r[key]), []).append(not r["correct"])
        return {str(k): {"n": len(v), "errors": sum(v)} for k, v in sorted(by.items())}


def unspellable(lm: WordLM, words: Sequence[str]) -> list[str]:
    """Why an item cannot be scored: the words `lm` cannot spell (or spells as <unk>), or "<no context>" (no
    start token and no word before the continuation, or a sentence end the model has no token for)."""
    return [w for w in words if w != EOS and (not (ids := lm.encode_word(w, False)) or
                                              (lm.unk_id is not None and lm.unk_id in ids))] or ["<no context>"]


def score_items(lm: WordLM, items: Sequence[MinimalPair], batch_size: int = 64) -> PairScores:
    """Score each pair from a fresh state; a tie counts as an error (no preference for the correct form)."""
    encoded, missing, set_aside, unknown = [], Counter(), 0, 0
    for index, item in enumerate(items):
        # Each continuation is encoded after its prefix, so a word opening the text is spelt as such.
        prefix = lm.encode(item.prefix)
        good, bad = (lm.encode((*item.prefix, *cont)) for cont in (item.correct, item.wrong))
        if not prefix or good is None or bad is None:
            why = unspellable(lm, (*item.prefix, *item.correct, *item.wrong))
            missing.update(why)
            unknown += why != ["<no context>"]  # counted either way: under --oov skip these are unscorable
            continue
        if good == bad:  # both forms spell the same ids (both <unk>): no preference to measure
            missing.update(unspellable(lm, (*item.correct, *item.wrong)))
            set_aside += 1
            unknown += 1
            continue
        if lm.unk_id is not None and lm.unk_id in good + bad[len(prefix):]:
            missing.update(unspellable(lm, (*item.prefix, *item.correct, *item.wrong)))
            unknown += 1
        encoded.append((index, item, prefix, good[len(prefix):], bad[len(prefix):]))
    prefixes = [e[2] for e in encoded]
    scores = (continuation_logprobs(lm.model, prefixes + prefixes, [e[3] for e in encoded] + [e[4] for e in encoded],
                                    lm.device, batch_size) if encoded else [])
    n = len(encoded)
    rows = [_row(index, item, scores[i] - scores[n + i]) for i, (index, item, *_) in enumerate(encoded)]
    return PairScores(rows, len(items), len(items) - n - set_aside, missing.most_common(20), set_aside, unknown,
                      lm.oov)


def _row(index: int, item: Any, margin: float) -> dict[str, Any]:
    """An item row, with the condition (Gulordava's original / nonce) where the test set gives one."""
    from suite.core.items import item_row  # pandas: only once scoring (the command line imports this module)

    row = item_row(index, item, margin)
    condition = (getattr(item, "meta", None) or {}).get("condition")
    if condition is not None:
        row["condition"] = condition
    return row


def score_choices(lm: WordLM, choices: Sequence[Choice], batch_size: int = 64) -> PairScores:
    """Rows in the minimal-pair form: margin = log P(answer) − the best other option's log P, so an
    item is correct when the answer strictly wins (a tie is an error)."""
    pairs, spans, missing = [], [], Counter()
    for index, choice in enumerate(choices):
        prefix = lm.encode(choice.prefix)
        full = [lm.encode((*choice.prefix, option)) for option in choice.options]
        if not prefix or any(f is None for f in full):
            missing.update(unspellable(lm, (*choice.prefix, *choice.options)))
            continue
        spans.append((index, len(pairs)))
        pairs.extend((prefix, f[len(prefix):]) for f in full)
    scores = (continuation_logprobs(lm.model, [p for p, _ in pairs], [c for _, c in pairs], lm.device, batch_size)
              if pairs else [])
    rows = []
    for index, start in spans:
        choice = choices[index]
        mine = scores[start:start + len(choice.options)]
        rest = [v for k, v in enumerate(mine) if k != choice.answer]
        rows.append(_row(index, choice, mine[choice.answer] - max(rest)))
    return PairScores(rows, len(choices), len(choices) - len(rows), missing.most_common(20))


def digest_of_testset(path: str | Path, items: Sequence[MinimalPair] | None = None) -> str:
    """Hash of a test set's content (both files of a Linzen .text/.gold pair; a hub set's loaded items):
    its cache name."""
    digest = hashlib.sha256()
    if str(path).startswith("hf:"):
        for item in items if items is not None else load_testset(path):
            digest.update(json.dumps([item.prefix, item.correct, item.wrong, item.source]).encode())
        return digest.hexdigest()[:16]
    path = Path(path)
    parts = ([path.with_suffix(".text"), path.with_suffix(".gold")] if path.suffix.lower() in (".text", ".gold")
             else [path])
    for part in parts:
        try:
            digest.update(part.read_bytes())
        except OSError as exc:
            raise ConfigError(f"{part}: cannot read test set ({exc.strerror or exc})") from None
    return digest.hexdigest()[:16]


def evaluate_testset(lm: WordLM, path: str | Path, out_dir: Path, items: Sequence[MinimalPair] | None = None
                     ) -> tuple[dict, bool]:
    """(result, cache hit) of `lm` on a minimal-pair file (`items`: the file, already loaded)."""
    return evaluate_items(lm, str(path), digest_of_testset(path, items), lambda: items or load_testset(path), out_dir)


def evaluate_items(lm: WordLM, testset: str, digest: str, items: Callable[[], Sequence], out_dir: Path,
                   scorer: Callable[[WordLM, Sequence], PairScores] | None = None) -> tuple[dict, bool]:
    """(result, cache hit) of `lm` on the items named `testset`, cached under `digest` (and the unknown-word
    policy); `items` is only called on a cache miss; `scorer` defaults to minimal pairs (score_items). A cached
    entry that is not what it claims (shape, model, test-set hash, counts) is set aside and redone."""
    from suite.core.items import to_compact  # pandas only once scoring, as in _row

    target = eval_path(out_dir, lm.key, digest + (f"-oov-{lm.oov}" if lm.oov else ""))
    hit = cached_eval(target)
    if hit is not None:
        problem = cache_problem(hit, lm.key, digest)
        if problem is None:
            return hit, True
        set_aside_cache(target, problem)
    loaded = items()
    scores = (scorer or score_items)(lm, loaded)
    summary = scores.summary()
    aside = len(getattr(loaded, "set_aside", ()))  # set aside by the loader (bad lines), with file:line
    summary.update(items=summary["items"] + aside, set_aside=summary["set_aside"] + aside,
                   case_folded=getattr(loaded, "case_folded", 0))
    result = {"format": EVAL_FORMAT, "model": lm.info, "model_key": lm.key, "testset": testset,
              "testset_sha256": digest, "summary": summary, "item_rows": to_compact(scores.rows)}
    write_json_atomic(target, result)
    return result, False


SUMMARY_NUMBERS = ("items", "scored", "unscorable", "errors", "error_rate", "error_low", "error_high")


def cache_problem(result: dict, model_key: str, digest: str) -> str | None:
    """Why a cached evaluation cannot be trusted, or None: it must name this model and this test set's hash,
    and its summary must be what its item rows say (scored items, errors, error rate)."""
    from suite.core.items import from_compact  # pandas only once reading the cache, as in _row

    if result.get("model_key") != model_key or result.get("testset_sha256") != digest:
        return "it names another model or test-set content"
    summary, rows = result.get("summary"), result.get("item_rows")
    if not isinstance(summary, dict) or any(not isinstance(summary.get(k), (int, float)) or isinstance(summary.get(k), bool)
                                            for k in SUMMARY_NUMBERS):
        return "its summary lacks numbers"
    try:
        frame = from_compact(rows)
        errors = int((~frame["correct"].astype(bool)).sum())
    except (KeyError, TypeError, ValueError, AttributeError):
        return "its item rows are not a table with a 'correct' column"
    scored = len(frame)
    if summary["scored"] != scored or summary["errors"] != errors or \
            (scored and abs(summary["error_rate"] - errors / scored) > 1e-9):
        return "its summary disagrees with its item rows"
    return None


def set_aside_cache(target: Path, problem: str) -> None:
    """Move a bad cache entry out of the way (kept for inspection, never read again) and say so in one line."""
    aside = target.with_name(f"{target.stem}.bad-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        target.replace(aside)
    except OSError:
        aside = target
    print(f"run_suite.py eval: cached result {target} set aside ({problem}); scoring again", file=sys.stderr)


def check_testsets(paths: Sequence[str | Path]) -> dict[str, list[MinimalPair]]:
    """Load every test set up front: a malformed file stops `eval` before anything is scored."""
    return {str(p): load_testset(p) for p in paths}


# --------------------------------------------------------------------------- the suite's own probes


def evaluate_run_probes(saved: SavedModel, out_dir: Path, device: str = "cpu") -> tuple[dict, bool]:
    """A saved run's own task probes (its task's `evaluate` on freshly prepared data), no training."""
    from suite.task import get_task

    target = eval_path(out_dir, saved.run_id, PROBES_KEY)
    hit = cached_eval(target)
    if hit is not None:
        return hit, True
    task = get_task(saved.cfg.task)
    cfg = RunConfig.from_dict({**saved.cfg.to_dict(), "device": device})
    data = task.prepare(cfg)
    if list(data.vocab.itos) != list(saved.vocab.itos):
        raise ConfigError(f"run {saved.run_id}: the task's data now yields a different vocabulary than the "
                          "saved model's (did the corpus or the code change?); its probes cannot be scored")
    metrics = task.evaluate(saved.model.to(device), data, cfg)
    result = {"format": EVAL_FORMAT, "model": suite_word_lm(saved, device).info, "model_key": saved.run_id,
              "testset": f"{saved.cfg.task} probes", "summary": metrics}
    write_json_atomic(target, result)
    return result, False


SCORERS: dict[type, Callable[[WordLM, Sequence], PairScores]] = {MinimalPair: score_items, Choice: score_choices}


def evaluate_task_probes(lm: WordLM, provider: ProbeProvider, seed: int, size: str, out_dir: Path
                         ) -> tuple[dict, bool]:
    """An external model on a task's probes (suite.evaluate.probes: seed, preset size), cached like a test set
    under the provider's name; the items are made only on a cache miss."""
    name = provider.name(seed, size)
    return evaluate_items(lm, name, name, lambda: provider.items(seed, size), out_dir, SCORERS[provider.kind])


def summary_line(result: dict, hit: bool) -> str:
    from suite.judge.eval_tables import who as _who  # the tables' naming of a model: pandas only once printing

    s, who = result["summary"], _who(result["model"])
    name = f"{who['model']}" + (f" seed {who['seed']}" if who["seed"] is not None else "")
    head = f"{name:<28} {Path(result['testset']).name:<24}"
    if "error_rate" not in s or "scored" not in s:
        return f"{head} probes scored{' (cached)' if hit else ''}: {json.dumps(_scalars(s))[:200]}"
    more = "".join(f", {s[k]} {what}" for k, what in (("set_aside", "set aside"), ("with_unknown", "with unknown words"),
                                                      ("case_folded", "case-folded")) if s.get(k))
    policy = f" (oov {s['oov']})" if s.get("oov") else ""
    return (f"{head} error {s['error_rate']:.3f} [{s['error_low']:.3f}, {s['error_high']:.3f}] on {s['scored']} items, "
            f"{s['unscorable']} unscorable{more}{policy}{' (cached)' if hit else ''}")


def _scalars(metrics: dict) -> dict:
    return {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
