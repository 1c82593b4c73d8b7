"""The multi-layer claim's statistic and verdict on natural text, fixed before the confirmatory data.

`layers.two_beat_one` (lecture notes, Multi-layer RNNs: "high-performing RNNs are usually multi-layer, 2 to 4
layers"; no paper in the lecture measures it for LMs at this size): a two-layer LSTM language model reaches a
lower test loss than a one-layer LSTM of the same hidden size. One part per (corpus, tokenizer, vocabulary,
training slice): Welch over seeds of log test perplexity (one layer − two layers), each seed's run the one its
learning-rate grid chose on validation (suite.judge.analysis.chosen_runs). The stacks compared have no skips:
the lecture's 2–4 layers are plain stacks (skips are its remedy for 8).
"""
from __future__ import annotations

import math

from suite.judge.analysis import arch, chosen_runs, group_by, metric, model_field, option
from suite.judge.claims import WELCH, Claim, Part, Rule
from suite.judge.parts import claim_from_parts, judge_part

TASK = "text_lm"
CELL = "lstm"
RULE = Rule(
    test=WELCH, min_effect=math.log(1.05), design_effect=0.1,
    basis=("the lecture gives no size ('2 to 4 layers' for high-performing RNNs): the design must detect a 10 % "
           "lower perplexity (0.1 nats), the minimum is 5 % (log 1.05), as for the depth claims; contrast: log "
           "test perplexity of the one-layer lstm − that of the two-layer lstm without skips, same hidden size"),
    scale="Δ test loss (1 layer − 2 layers), nats per token", unit="seed")
STATEMENT = "a two-layer LSTM language model beats a one-layer one of the same hidden size on natural text"
SOURCE = ("lecture notes, Multi-layer RNNs ('high-performing RNNs are usually multi-layer', 2 to 4 layers; Britz et "
          "al. 2017 for NMT encoders and decoders)")
TEXT = (f"on {TASK}, per (corpus, tokenizer, vocabulary, training slice) that ran both: Δ = mean over seeds of ln "
        f"test perplexity of the one-layer {CELL} − that of the two-layer {CELL} without skips (each seed's learning "
        f"rate chosen on validation), 95 % Welch interval; reproduced when above 0 and Δ ≥ {RULE.min_effect:.3f} "
        f"(≥ 5 % lower perplexity), not reproduced when below {RULE.min_effect:.3f}; inconclusive otherwise or with "
        f"under 80 % power at Δ = {RULE.design_effect:g} at the measured SDs. The two-layer model has more weights "
        f"(the lecture's claim is about stacking, not about a matched budget). Every part reproduced → reproduced; "
        f"any not reproduced → not reproduced")


def corpus_key(r: dict) -> tuple:
    return (str(option(r, "corpus")), option(r, "tokenizer"), option(r, "vocab_size"), option(r, "max_train_words"))


def stack(r: dict) -> int | None:
    """1 or 2 for the compared lstm models (a two-layer stack only without skips), else None."""
    layers = model_field(r, "layers") or 1
    if arch(r) != CELL or layers > 2 or (layers == 2 and (model_field(r, "skip") or "none") != "none"):
        return None
    return layers


def log_ppl(r: dict) -> float:
    return math.log(metric(r, "test_ppl"))


def layers_part(key: tuple, runs: list[dict]) -> Part:
    name = f"{key[0]} ({key[1]})"
    one = [log_ppl(r) for r in runs if stack(r) == 1]
    two = [log_ppl(r) for r in runs if stack(r) == 2]
    because = ""
    if not one or not two:
        because = f"not measured: no {'one' if not one else 'two'}-layer {CELL} runs"
    elif min(len(one), len(two)) < 2:
        because = f"too few seeds: {len(one)} one-layer, {len(two)} two-layer"
    return judge_part(name, RULE, one, two, (TASK,), because)


def layers_claim(records: list[dict]) -> Claim:
    runs = [r for r in chosen_runs(r for r in records if r.get("status") == "ok" and r["config"]["task"] == TASK)
            if stack(r) is not None]
    claim = Claim("layers.two_beat_one", STATEMENT, SOURCE, TEXT, "", "", code=(__name__,))
    return claim_from_parts(claim, [layers_part(key, group) for key, group in group_by(runs, corpus_key).items()],
                            missing=f"not measured: no {TASK} runs of a one- or two-layer {CELL}")
