"""Subject–verb agreement (Linzen, Dupoux & Goldberg 2016): syntactic vs sequential recency.

`agreement` trains a language model on the seeded grammar and compares log P(correct verb | prefix)
with log P(wrong verb | prefix) on held-out minimal pairs with 0–4 attractors; `agreement_number`
trains each architecture as a classifier of the upcoming verb's number on the same prefixes.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from suite import plots
from suite.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, combine_verdicts, less_than
from suite.config import ConfigError, RunConfig, TrainConfig
from suite.data import EOS, Example, SentenceBatcher, Vocab, collate, lm_example
from suite.grammar import (ADJECTIVES, ADVERBS, DETERMINERS, LEXICON, PREPOSITIONS, SENTENCE_ADVERBS,
                           Lexicon, Sentence, heldout_pairs, nonce_variant, split_grammars)
from suite.stats import Interval, mean_ci, wilson_ci
from suite.tasks import Task, TaskData, TaskSettings, register_task
from suite.testsets import MinimalPair, load_testset, score_pairs

MAX_ATTRACTORS = 4
ATTRACTORS = range(MAX_ATTRACTORS + 1)
DISTANCE_BUCKETS = ((1, 2), (3, 5), (6, 9), (10, 14), (15, 10**6))
HEURISTICS = ("majority", "nearest_noun", "first_noun")
SPLIT_OFFSETS = {"train": 0, "valid": 1, "test": 2}
LM_TASK, NUMBER_TASK = "agreement", "agreement_number"
VANILLA, GATED = "rnn_tanh", ("lstm", "gru")


def distance_bucket(distance: int) -> str:
    for low, high in DISTANCE_BUCKETS:
        if low <= distance <= high:
            return f"{low}+" if high >= 10**6 else f"{low}-{high}"
    raise ValueError(f"distance must be ≥ 1 (got {distance})")


# --------------------------------------------------------------------------- data


def make_corpus(seed: int, opts: dict[str, Any], lexicon: Lexicon = LEXICON) -> dict[str, Any]:
    """Training/validation sentences and held-out test items for one seed (deterministic)."""
    held = heldout_pairs(seed, opts["heldout_fraction"], lexicon)
    train_grammar, test_grammar = split_grammars(seed * 1000, held, lexicon, opts["max_modifiers"],
                                                 opts.get("modifier_prob"))
    train = [train_grammar.sentence() for _ in range(opts["train_sentences"])]
    valid = [train_grammar.sentence() for _ in range(opts["valid_sentences"])]
    seen = {tuple(s.tokens[:s.verb_index + 1]) for s in train}
    test: list[Sentence] = []
    for k in ATTRACTORS:  # the same number of items at every attractor count
        count = 0
        while count < opts["items_per_attractor"]:
            s = test_grammar.sentence(attractors=k)
            if tuple(s.tokens[:s.verb_index + 1]) not in seen:
                test.append(s)
                count += 1
    if opts["nonce"]:
        rng = random.Random(seed * 1000 + SPLIT_OFFSETS["test"])
        test = [nonce_variant(s, rng, lexicon) for s in test]
    return {"train": train, "valid": valid, "test": test, "held": held}


def lexicon_words(lexicon: Lexicon = LEXICON) -> set[str]:
    """Every word the grammar can emit, so every generated item is representable."""
    words = {f for n in lexicon.nouns for f in (n.singular, n.plural)}
    words |= {f for v in lexicon.verbs for f in (v.singular, v.plural)}
    words |= {*ADJECTIVES, *ADVERBS, *PREPOSITIONS, *SENTENCE_ADVERBS, "that", ",", "."}
    return words | {d for ds in DETERMINERS.values() for d in ds}


def to_item(s: Sentence) -> MinimalPair:
    """The probe of a sentence: prefix up to the main verb, correct and wrong verb forms."""
    return MinimalPair((EOS, *s.tokens[:s.verb_index]), (s.correct_form,), (s.wrong_form,),
                       "grammar", s.attractors, s.construction, s.distance, s.subject_plural,
                       s.nearest_noun_plural)


def lm_examples(sentences: Sequence[Sentence], vocab: Vocab) -> list[Example]:
    return [lm_example(vocab.encode([EOS, *s.tokens, EOS])) for s in sentences]


def number_examples(sentences: Sequence[Sentence], vocab: Vocab) -> list[Example]:
    """Linzen's number prediction: the prefix up to the verb, labelled 1 when the subject is plural."""
    return [Example(vocab.encode([EOS, *s.tokens[:s.verb_index]]), int(s.subject_plural)) for s in sentences]


# --------------------------------------------------------------------------- heuristics and metrics


def heuristic_choice(name: str, item: MinimalPair, lexicon: Lexicon, form_counts: Counter) -> bool | None:
    """Does the heuristic pick the correct form? None when it cannot decide (no noun, unknown form)."""
    if name == "majority":  # the form seen more often in training; ties go to the singular form
        c, w = form_counts[item.correct[0]], form_counts[item.wrong[0]]
        if c != w:
            return c > w
        return lexicon.verb_number.get(item.correct[0]) is False
    nouns = [lexicon.noun_number[t] for t in item.prefix if t in lexicon.noun_number]
    correct_plural = lexicon.verb_number.get(item.correct[0])
    if not nouns or correct_plural is None:
        return None
    cue = nouns[-1] if name == "nearest_noun" else nouns[0]
    return cue == correct_plural


def outcome_metrics(items: Sequence[MinimalPair], correct: Sequence[bool]) -> dict[str, Any]:
    """Error rates by attractors / construction / distance and the sequential-recency taxonomy.

    An error is a sequential-recency error when the chosen form agrees with the nearest preceding
    noun and that noun differs in number from the subject.
    """
    groups: dict[str, dict[str, list[int]]] = {"attractors": {}, "construction": {}, "distance": {}}
    errors = seq = attr_errors = attr_seq = attr_items = attr_mismatch = 0
    for item, ok in zip(items, correct):
        mismatch = item.nearest_noun_plural != item.subject_plural
        is_seq = (not ok) and mismatch
        errors += not ok
        seq += is_seq
        if item.attractors:
            attr_items += 1
            attr_errors += not ok
            attr_seq += is_seq
            attr_mismatch += mismatch
        keys = {"attractors": str(item.attractors), "construction": item.construction,
                "distance": distance_bucket(item.distance)}
        for group, key in keys.items():
            cell = groups[group].setdefault(key, [0, 0, 0])  # errors, items, sequential-recency errors
            cell[0] += not ok
            cell[1] += 1
            cell[2] += is_seq
    n = len(items)
    out: dict[str, Any] = {
        "n_items": n, "error_rate": errors / n if n else math.nan,
        "seq_recency_share": seq / errors if errors else math.nan,
        "seq_recency_share_attractors": attr_seq / attr_errors if attr_errors else math.nan,
        # the share an error blind to the nearest noun would reach: a baseline for the share above
        "chance_seq_share_attractors": attr_mismatch / attr_items if attr_items else math.nan,
        "error_attractors_1plus": attr_errors / attr_items if attr_items else math.nan,
        "counts": groups}
    for k in ATTRACTORS:
        e, m, _ = groups["attractors"].get(str(k), [0, 0, 0])
        out[f"error_attractors_{k}"] = e / m if m else math.nan
    return out


def heuristic_metrics(items: Sequence[MinimalPair], lexicon: Lexicon, form_counts: Counter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in HEURISTICS:
        picks = [(it, heuristic_choice(name, it, lexicon, form_counts)) for it in items]
        picks = [(it, p) for it, p in picks if p is not None]
        m = outcome_metrics([it for it, _ in picks], [p for _, p in picks])
        out[f"heuristic_{name}_error"] = m["error_rate"]
        out[f"heuristic_{name}_error_attractors_1plus"] = m["error_attractors_1plus"]
        for k in ATTRACTORS:
            out[f"heuristic_{name}_error_attractors_{k}"] = m[f"error_attractors_{k}"]
    return out


# --------------------------------------------------------------------------- the tasks


class _Agreement(Task):
    default_options = {"train_sentences": 20000, "valid_sentences": 500, "items_per_attractor": 200,
                       "max_modifiers": 4, "modifier_prob": 0.35, "heldout_fraction": 0.2, "nonce": False}

    def settings(self, size: str) -> TaskSettings:
        steps = {"smoke": 30, "quick": 800, "standard": 1500, "paper": 8000}[size]
        hidden = {"smoke": 32, "quick": 64, "standard": 128, "paper": 256}[size]
        sentences = {"smoke": 1500, "quick": 10000, "standard": 20000, "paper": 100000}[size]
        items = {"smoke": 20, "quick": 100, "standard": 200, "paper": 500}[size]
        return TaskSettings(
            train=TrainConfig(steps=steps, batch_size=64, lr=3e-3, clip=1.0, schedule="cosine"),
            model={"hidden": hidden},
            options={"train_sentences": sentences, "items_per_attractor": items})

    def validate(self, cfg: RunConfig) -> None:
        opts = {**self.default_options, **cfg.options}
        for key in ("train_sentences", "valid_sentences", "items_per_attractor"):
            if not isinstance(opts[key], int) or opts[key] < 1:
                raise ConfigError(f"option {key} must be a positive integer (got {opts[key]!r})")
        if not isinstance(opts["max_modifiers"], int) or not MAX_ATTRACTORS <= opts["max_modifiers"] <= 8:
            raise ConfigError(f"option max_modifiers must be an integer in {MAX_ATTRACTORS}–8 "
                              f"(test items need up to {MAX_ATTRACTORS} attractors; got {opts['max_modifiers']!r})")
        if not isinstance(opts["modifier_prob"], (int, float)) or not 0 <= opts["modifier_prob"] < 1:
            raise ConfigError(f"option modifier_prob must be in [0, 1) (got {opts['modifier_prob']!r})")
        if not 0 < opts["heldout_fraction"] < 0.5:
            raise ConfigError(f"option heldout_fraction must be in (0, 0.5) (got {opts['heldout_fraction']!r})")
        if opts.get("testset"):
            load_testset(opts["testset"])  # a malformed file fails here, before any training

    def corpus(self, cfg: RunConfig) -> tuple[dict[str, Any], Vocab, Counter]:
        opts = {**self.default_options, **cfg.options}
        corpus = make_corpus(cfg.seed, opts)
        vocab = Vocab.from_corpus([EOS, *s.tokens] for s in corpus["train"])
        for word in sorted(lexicon_words()):  # rare forms a small corpus missed still get an id
            vocab.add(word)
        form_counts = Counter(t for s in corpus["train"] for t in s.tokens)
        return corpus, vocab, form_counts

    def common_metrics(self, data: TaskData, correct: Sequence[bool]) -> dict[str, Any]:
        items = data.extra["items"]
        metrics = outcome_metrics(items, correct)
        metrics.update(heuristic_metrics(items, LEXICON, data.extra["form_counts"]))
        metrics["item_correct"] = "".join("1" if c else "0" for c in correct)  # ~1 byte per item
        metrics["nonce"] = bool(data.extra["nonce"])
        return metrics


@register_task
class Agreement(_Agreement):
    name = LM_TASK
    description = "subject–verb agreement probes of a language model: attractors, sequential recency"
    objective = "lm"
    headline = ("error_rate", "error_attractors_1plus", "seq_recency_share")
    default_options = {**_Agreement.default_options, "testset": ""}

    def prepare(self, cfg: RunConfig) -> TaskData:
        corpus, vocab, form_counts = self.corpus(cfg)
        bs = cfg.train.batch_size
        items = [to_item(s) for s in corpus["test"]]
        testset = cfg.options.get("testset") or ""
        return TaskData(
            train=SentenceBatcher(lm_examples(corpus["train"], vocab), bs, vocab.pad_id),
            valid=SentenceBatcher(lm_examples(corpus["valid"], vocab), bs, vocab.pad_id, shuffle=False),
            vocab=vocab,
            extra={"items": items, "form_counts": form_counts, "nonce": cfg.options.get("nonce", False),
                   "testset": load_testset(testset) if testset else None})

    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        scored = score_pairs(model, data.extra["items"], data.vocab, cfg.device)
        if scored.unrepresentable:  # the vocabulary holds the whole lexicon: this would be a bug
            raise RuntimeError(f"{len(scored.unrepresentable)} generated items use words outside the vocabulary")
        metrics = self.common_metrics(data, scored.correct)
        if data.extra["testset"] is not None:
            metrics.update(testset_metrics(model, data.extra["testset"], data.vocab, cfg.device))
        return metrics

    def tables(self, records: list[dict]) -> dict[str, pd.DataFrame]:
        return agreement_tables(records)

    def plots(self, records: list[dict], out_dir: Path) -> list[Path]:
        return agreement_plots(records, Path(out_dir))

    def claims(self, records: list[dict]) -> list[Claim]:
        return agreement_claims(records)


@register_task
class AgreementNumber(_Agreement):
    name = NUMBER_TASK
    description = "number prediction (Linzen et al. 2016): classify the upcoming verb's number from its prefix"
    objective = "classify"
    headline = ("error_rate", "error_attractors_1plus")

    def prepare(self, cfg: RunConfig) -> TaskData:
        corpus, vocab, form_counts = self.corpus(cfg)
        bs = cfg.train.batch_size
        return TaskData(
            train=SentenceBatcher(number_examples(corpus["train"], vocab), bs, vocab.pad_id),
            valid=SentenceBatcher(number_examples(corpus["valid"], vocab), bs, vocab.pad_id, shuffle=False),
            vocab=vocab, num_outputs=2,
            extra={"items": [to_item(s) for s in corpus["test"]], "form_counts": form_counts,
                   "nonce": cfg.options.get("nonce", False),
                   "examples": number_examples(corpus["test"], vocab)})

    @torch.no_grad()
    def evaluate(self, model, data: TaskData, cfg: RunConfig) -> dict:
        model.eval()
        predicted: list[bool] = []
        examples = data.extra["examples"]
        for start in range(0, len(examples), 256):
            batch = collate(examples[start:start + 256], data.vocab.pad_id).to(cfg.device)
            logits, _ = model(batch.inputs, None, batch.lengths)
            predicted.extend(bool(p) for p in logits.argmax(-1).tolist())
        correct = [p == bool(e.target) for p, e in zip(predicted, examples)]
        return self.common_metrics(data, correct)


def testset_metrics(model, items: Sequence[MinimalPair], vocab: Vocab, device: str) -> dict[str, Any]:
    """A published test set scored like the generated items; unrepresentable items are counted."""
    scored = score_pairs(model, items, vocab, device)
    out: dict[str, Any] = {"testset_items": len(items), "testset_unrepresentable": len(scored.unrepresentable),
                           "testset_error_rate": scored.error_rate}
    by: dict[str, list[int]] = {}
    for item, ok in zip(scored.items, scored.correct):
        if item.attractors is not None:
            cell = by.setdefault(str(item.attractors), [0, 0])
            cell[0] += not ok
            cell[1] += 1
    out["testset_counts_attractors"] = by
    return out


# --------------------------------------------------------------------------- report: tables


def _ok(records: Sequence[dict], task: str, nonce: bool | None = False) -> list[dict]:
    return [r for r in records if r["config"]["task"] == task and r.get("status") == "ok"
            and (nonce is None or bool(r["config"]["options"].get("nonce", False)) == nonce)]


def _by_label(records: Sequence[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["label"], []).append(r)
    return out


def rate_interval(runs: Sequence[dict], metric: str, counts: Callable[[dict], tuple[int, int]] | None = None) -> Interval:
    """Mean and 95 % t-interval over seeds; with one run, a Wilson interval over its items
    (method 'wilson') when `counts` gives (errors, items)."""
    values = [r["metrics"].get(metric) for r in runs]
    if len(runs) == 1 and counts is not None:
        errors, n = counts(runs[0])
        if n:
            ci = wilson_ci(errors, n)  # clamp float noise at the ends of [0, 1]
            return Interval(ci.mean, max(0.0, ci.low), min(1.0, ci.high), ci.n, ci.method)
    return mean_ci([math.nan if v is None else v for v in values])


def _attractor_counts(k: int | str) -> Callable[[dict], tuple[int, int]]:
    def get(r: dict) -> tuple[int, int]:
        cells = r["metrics"]["counts"]["attractors"]
        keys = [str(k)] if k != "1plus" else [str(i) for i in ATTRACTORS if i > 0]
        return (sum(cells.get(x, [0, 0, 0])[0] for x in keys), sum(cells.get(x, [0, 0, 0])[1] for x in keys))
    return get


def _share_counts(r: dict) -> tuple[int, int]:
    """(sequential-recency errors, errors) on attractor items."""
    cells = [c for k, c in r["metrics"]["counts"]["attractors"].items() if k != "0"]
    return sum(c[2] for c in cells), sum(c[0] for c in cells)


def _overall_counts(r: dict) -> tuple[int, int]:
    cells = r["metrics"]["counts"]["attractors"].values()
    return sum(c[0] for c in cells), sum(c[1] for c in cells)


def _ci_label(runs: Sequence[dict]) -> str:
    return f"t over {len(runs)} seeds" if len(runs) > 1 else "Wilson over items (1 seed)"


def _put(row: dict, name: str, interval: Interval) -> None:
    row[name], row[f"{name}_low"], row[f"{name}_high"] = interval.mean, interval.low, interval.high


def _heuristic_counts(r: dict, name: str, k) -> tuple[int, int]:
    """Heuristic error counts from rates × the run's item counts (heuristics are exact per item)."""
    n = _attractor_counts(k)(r)[1] if k is not None else r["metrics"]["n_items"]
    key = f"heuristic_{name}_error" + ("" if k is None else f"_attractors_{k}")
    rate = r["metrics"].get(key)
    return (round(rate * n), n) if rate is not None and not math.isnan(rate) else (0, 0)


def attractor_table(records: Sequence[dict]) -> pd.DataFrame:
    """Architecture × attractor count error rates (95 % CIs), sequential-recency share, heuristics."""
    rows = []
    for task, objective in ((LM_TASK, "language model"), (NUMBER_TASK, "number prediction")):
        for nonce in (False, True):
            for label, runs in _by_label(_ok(records, task, nonce)).items():
                row = {"objective": objective, "items": "nonce" if nonce else "original", "model": label,
                       "runs": len(runs), "ci": _ci_label(runs)}
                _put(row, "error", rate_interval(runs, "error_rate", _overall_counts))
                for k in ATTRACTORS:
                    _put(row, f"err_{k}_attr", rate_interval(runs, f"error_attractors_{k}", _attractor_counts(k)))
                _put(row, "seq_recency_share", rate_interval(runs, "seq_recency_share_attractors", _share_counts))
                _put(row, "chance_share", rate_interval(runs, "chance_seq_share_attractors"))
                rows.append(row)
    lm_runs = _ok(records, LM_TASK, False)
    for name in HEURISTICS:  # same items for every model of a seed: pool one run per seed
        per_seed = list({r["config"]["seed"]: r for r in lm_runs}.values())
        if not per_seed:
            break
        row = {"objective": "heuristic", "items": "original", "model": name.replace("_", " "),
               "runs": len(per_seed), "ci": _ci_label(per_seed)}
        _put(row, "error", rate_interval(per_seed, f"heuristic_{name}_error",
                                         lambda r, n=name: _heuristic_counts(r, n, None)))
        for k in ATTRACTORS:
            _put(row, f"err_{k}_attr", rate_interval(per_seed, f"heuristic_{name}_error_attractors_{k}",
                                                     lambda r, n=name, k=k: _heuristic_counts(r, n, k)))
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(records: Sequence[dict], group: str) -> pd.DataFrame:
    """Error rate (and sequential-recency errors per item) by construction or distance bucket."""
    rows = []
    for task, objective in ((LM_TASK, "language model"), (NUMBER_TASK, "number prediction")):
        for label, runs in _by_label(_ok(records, task)).items():
            keys = sorted({k for r in runs for k in r["metrics"]["counts"][group]},
                          key=lambda k: (k[0].isdigit(), int(k.split("-")[0].rstrip("+")) if k[0].isdigit() else k))
            for key in keys:
                cells = [r["metrics"]["counts"][group].get(key, [0, 0, 0]) for r in runs]
                rates = [c[0] / c[1] for c in cells if c[1]]
                ci = (wilson_ci(cells[0][0], cells[0][1]) if len(runs) == 1 else mean_ci(rates))
                row = {"objective": objective, "model": label, group: key,
                       "items": sum(c[1] for c in cells), "ci": _ci_label(runs)}
                _put(row, "error", ci)
                rows.append(row)
    return pd.DataFrame(rows)


def objective_table(records: Sequence[dict]) -> pd.DataFrame:
    """LM vs number prediction, per architecture, on the same held-out prefixes."""
    lm, number = _by_label(_ok(records, LM_TASK)), _by_label(_ok(records, NUMBER_TASK))
    rows = []
    for label in sorted(set(lm) | set(number)):
        row = {"model": label}
        for prefix, runs in (("lm", lm.get(label, [])), ("number", number.get(label, []))):
            row[f"{prefix}_runs"] = len(runs)
            _put(row, f"{prefix}_error", rate_interval(runs, "error_rate", _overall_counts)
                 if runs else mean_ci([]))
            _put(row, f"{prefix}_error_1plus_attr", rate_interval(runs, "error_attractors_1plus",
                                                                  _attractor_counts("1plus"))
                 if runs else mean_ci([]))
        rows.append(row)
    return pd.DataFrame(rows)


def agreement_tables(records: list[dict]) -> dict[str, pd.DataFrame]:
    if not _ok(records, LM_TASK, None) and not _ok(records, NUMBER_TASK, None):
        return {}
    tables = {"agreement_attractors": attractor_table(records),
              "agreement_construction": group_table(records, "construction"),
              "agreement_distance": group_table(records, "distance"),
              "agreement_lm_vs_number": objective_table(records)}
    with_testset = [r for r in _ok(records, LM_TASK, None) if "testset_error_rate" in r["metrics"]]
    if with_testset:
        rows = []
        for label, runs in _by_label(with_testset).items():
            row = {"model": label, "runs": len(runs), "testset": runs[0]["config"]["options"].get("testset"),
                   "items": runs[0]["metrics"]["testset_items"],
                   "unrepresentable": runs[0]["metrics"]["testset_unrepresentable"]}
            _put(row, "error", mean_ci([r["metrics"]["testset_error_rate"] for r in runs]))
            rows.append(row)
        tables["agreement_testset"] = pd.DataFrame(rows)
    return tables


# --------------------------------------------------------------------------- report: plots


def agreement_plots(records: list[dict], out_dir: Path) -> list[Path]:
    """Error rate against number of attractors, one line per architecture, CI bands."""
    paths = []
    folder = out_dir  # the report passes its plots folder
    for task, title in ((LM_TASK, "language model"), (NUMBER_TASK, "number prediction")):
        groups = _by_label(_ok(records, task))
        if not groups:
            continue
        fig, ax = plots.new_figure()
        for label, runs in sorted(groups.items()):
            cis = [rate_interval(runs, f"error_attractors_{k}", _attractor_counts(k)) for k in ATTRACTORS]
            xs = list(ATTRACTORS)
            ax.plot(xs, [c.mean for c in cis], marker="o", color=plots.colour(label),
                    linestyle=plots.line_style(label), label=f"{label} ({_ci_label(runs)})")
            if all(not math.isnan(c.low) for c in cis):
                ax.fill_between(xs, [c.low for c in cis], [c.high for c in cis], color=plots.colour(label),
                                alpha=0.15)
        lm_runs = list({r["config"]["seed"]: r for r in _ok(records, LM_TASK)}.values())
        if lm_runs:  # the nearest-noun heuristic: the error a pure sequential-recency strategy makes
            ys = [mean_ci([r["metrics"][f"heuristic_nearest_noun_error_attractors_{k}"] for r in lm_runs]).mean
                  for k in ATTRACTORS]
            ax.plot(list(ATTRACTORS), ys, color="#7f7f7f", linestyle=":", label="nearest-noun heuristic")
        ax.set_xlabel("attractors (intervening nouns of the other number)")
        ax.set_ylabel("agreement error rate (fraction of items)")
        ax.set_title(f"Agreement errors vs attractors: {title} (95 % CI bands)")
        ax.set_xticks(list(ATTRACTORS))
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{task}_attractors.png"
        plots.save(fig, path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- report: claims

SOURCE = "Linzen, Dupoux & Goldberg (2016), TACL 4"


def majority_verdict(verdicts: Sequence[str]) -> str:
    """Reproduced when most per-architecture verdicts are and none goes the other way; not reproduced
    when most go the other way; otherwise inconclusive."""
    if not verdicts:
        return INCONCLUSIVE
    r, n = verdicts.count(REPRODUCED), verdicts.count(NOT_REPRODUCED)
    if r > len(verdicts) / 2 and n == 0:
        return REPRODUCED
    if n > len(verdicts) / 2:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def share_verdict(share: Interval, chance: Interval, min_n: int = 2) -> str:
    """'Errors are mostly sequential-recency errors': the share's CI lies above 1/2 and its mean
    above the chance share; not reproduced when the CI lies below 1/2."""
    if share.n < min_n or math.isnan(share.low):
        return INCONCLUSIVE
    if share.low > 0.5 and share.mean > chance.mean:
        return REPRODUCED
    if share.high < 0.5:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def _seed_ci(runs: Sequence[dict], metric: str) -> Interval:
    return mean_ci([r["metrics"].get(metric, math.nan) for r in runs])


def attractor_claim(records: Sequence[dict]) -> Claim:
    groups = _by_label(_ok(records, LM_TASK))
    rise, share, evidence = [], [], []
    reasons: dict[str, list[str]] = {}
    for label, runs in sorted(groups.items()):
        zero, most = _seed_ci(runs, "error_attractors_0"), _seed_ci(runs, f"error_attractors_{MAX_ATTRACTORS}")
        s, c = _seed_ci(runs, "seq_recency_share_attractors"), _seed_ci(runs, "chance_seq_share_attractors")
        verdict, reason = less_than(zero, most)
        rise.append(verdict)
        if reason:
            reasons.setdefault(reason, []).append(label)
        share.append(share_verdict(s, c))
        evidence.append(f"{label}: error 0 attr {zero.format()}, {MAX_ATTRACTORS} attr {most.format()}, "
                        f"seq-recency share {s.format()} (chance {c.format()})")
    verdict = combine_verdicts([majority_verdict(rise), majority_verdict(share)])
    why = ""
    if not groups:
        why = "no language-model agreement runs"
    elif verdict != REPRODUCED:
        why = (f"error rise per architecture: {rise.count(REPRODUCED)}/{len(rise)} reproduced; "
               f"sequential-recency share: {share.count(REPRODUCED)}/{len(share)} reproduced"
               + "".join(f"; {', '.join(labels)}: {reason}" for reason, labels in reasons.items()))
    return Claim("agreement.attractors",
                 "agreement error rises with the number of attractors, and errors on attractor items "
                 "are mostly sequential-recency (attraction) errors",
                 SOURCE,
                 "per architecture: error at 0 attractors < error at 4 (95 % CIs over seeds disjoint), and "
                 "the share of attractor-item errors that agree with the nearest noun has its CI above 1/2 "
                 "and its mean above chance; each part holds for a majority of architectures with none "
                 "going the other way",
                 verdict if groups else INCONCLUSIVE, "; ".join(evidence), why,
                 {"rise": dict(zip(sorted(groups), rise)), "share": dict(zip(sorted(groups), share))})


def gated_claim(records: Sequence[dict]) -> Claim:
    groups = _by_label(_ok(records, LM_TASK))
    metric = "error_attractors_1plus"
    if VANILLA not in groups or not any(g in groups for g in GATED):
        return Claim("agreement.gated_fewer_attraction_errors",
                     "LSTM and GRU make fewer agreement-attraction errors than a vanilla RNN", SOURCE,
                     "error on items with ≥ 1 attractor: lstm < rnn_tanh and gru < rnn_tanh (disjoint 95 % CIs)",
                     INCONCLUSIVE, "", f"missing runs: need {VANILLA} and {' / '.join(GATED)} language models")
    vanilla = _seed_ci(groups[VANILLA], metric)
    verdicts, evidence, reasons = [], [f"{VANILLA}: {vanilla.format()}"], []
    for g in GATED:
        if g not in groups:
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"no {g} runs")
            continue
        ci = _seed_ci(groups[g], metric)
        v, why = less_than(ci, vanilla)
        verdicts.append(v)
        evidence.append(f"{g}: {ci.format()}")
        if why:
            reasons.append(f"{g}: {why}")
    return Claim("agreement.gated_fewer_attraction_errors",
                 "LSTM and GRU make fewer agreement-attraction errors than a vanilla RNN", SOURCE,
                 "error on items with ≥ 1 attractor: lstm < rnn_tanh and gru < rnn_tanh (disjoint 95 % CIs "
                 "over seeds); not reproduced if either goes the other way",
                 combine_verdicts(verdicts), "; ".join(evidence), "; ".join(reasons))


def objective_claim(records: Sequence[dict]) -> Claim:
    lm, number = _by_label(_ok(records, LM_TASK)), _by_label(_ok(records, NUMBER_TASK))
    labels = sorted(set(lm) & set(number))
    verdicts, evidence, reasons = [], [], {}
    for label in labels:
        a, b = _seed_ci(number[label], "error_rate"), _seed_ci(lm[label], "error_rate")
        verdict, reason = less_than(a, b)
        verdicts.append(verdict)
        if reason:
            reasons.setdefault(reason, []).append(label)
        evidence.append(f"{label}: number {a.format()} vs LM {b.format()}")
    verdict = majority_verdict(verdicts)
    why = ("no architecture has both objectives" if not labels else
           "" if verdict == REPRODUCED else
           f"{verdicts.count(REPRODUCED)}/{len(verdicts)} architectures reproduced, "
           f"{verdicts.count(NOT_REPRODUCED)} went the other way"
           + "".join(f"; {', '.join(ls)}: {reason}" for reason, ls in reasons.items()))
    return Claim("agreement.number_prediction_beats_lm",
                 "a supervised number-prediction objective errs less than the language-modelling objective",
                 SOURCE,
                 "per architecture: number-prediction error < LM error on the same held-out prefixes "
                 "(disjoint 95 % CIs over seeds), for a majority of architectures with none going the other way",
                 verdict, "; ".join(evidence), why, {"per_architecture": dict(zip(labels, verdicts))})


def agreement_claims(records: list[dict]) -> list[Claim]:
    return [attractor_claim(records), gated_claim(records), objective_claim(records)]
