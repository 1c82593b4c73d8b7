"""The multi-layer claim (tasks/text_lm/rules.py) on simulated text_lm records: which runs it compares, and
the controls — 200 simulated sweeps at the standard seeds: present → "reproduced" ≥ 80 %, absent → ≤ 10 %,
reversed → "not reproduced" ≥ 80 %."""
import math

import numpy as np
import pytest

from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from tasks.text_lm.rules import RULE, layers_claim


def record(seed, ppl, layers=1, skip="none", arch="lstm", lr=20.0, valid=None, corpus="wt2", status="ok"):
    label = arch + (f"×{layers}" if layers > 1 else "") + ("+res" if skip == "residual" else "")
    return {"run_id": f"{label}-{seed}-{lr}-{corpus}", "label": label, "status": status,
            "config": {"task": "text_lm", "seed": seed, "train": {"lr": lr},
                       "model": {"arch": arch, "layers": layers, "hidden": 128, "skip": skip},
                       "options": {"corpus": corpus, "tokenizer": "word", "vocab_size": 10000, "max_train_words": 0}},
            "metrics": {"valid_ppl": ppl if valid is None else valid, "test_ppl": ppl}}


def sweep(one, two, corpus="wt2"):
    return [record(s, p, corpus=corpus) for s, p in enumerate(one)] + \
           [record(s, p, layers=2, corpus=corpus) for s, p in enumerate(two)]


def test_two_layers_beating_one_reads_reproduced_and_the_committed_pattern_not():
    assert layers_claim(sweep([216, 217, 215], [180, 181, 179])).verdict == REPRODUCED
    committed = layers_claim(sweep([216, 213, 218], [255, 243, 267]))  # standard: lstm 216, lstm×2 255
    assert committed.verdict == NOT_REPRODUCED and "reversed" in committed.why


def test_compares_the_plain_two_layer_stack_on_the_learning_rate_validation_chose():
    runs = sweep([216, 217, 215], [255, 243, 267])
    runs += [record(s, 150, layers=2, skip="residual") for s in range(3)]  # not the plain stack: left out
    runs += [record(s, 100, lr=5.0, valid=900) for s in range(3)]  # worse on validation: not chosen
    runs += [record(s, 100, arch="gru") for s in range(3)]
    claim = layers_claim(runs)
    assert claim.parts[0].values == pytest.approx(tuple(math.log(p) for p in (216, 217, 215)))
    assert claim.parts[0].reference == pytest.approx(tuple(math.log(p) for p in (255, 243, 267)))


def test_missing_and_too_few_say_so():
    assert "not measured" in layers_claim([]).why
    assert "not measured: no two-layer lstm runs" in layers_claim(sweep([216, 217], [])).why
    few = layers_claim(sweep([216], [200]))
    assert few.verdict == INCONCLUSIVE and "too few seeds" in few.why


# The standard preset runs 3 text_lm seeds (suite/run/seed_blocks.py MIN_SEEDS); at the SDs below the design
# effect is reproduced in ~70 % of sweeps there (the guard often asks for 4), in ~96 % at 4 — the seeds the
# pre-registration plans from a pilot with these SDs.
SWEEPS, SEEDS = 200, 4
SD = (0.005, 0.03)  # between-seed SD of ln test perplexity on the standard run: lstm ≈ 0.005, lstm×2 ≈ 0.03


@pytest.mark.parametrize("delta, which, bound", [(RULE.design_effect, REPRODUCED, 0.80), (0.0, REPRODUCED, -0.10),
                                                 (-RULE.design_effect, NOT_REPRODUCED, 0.80)])
def test_layers_rule_controls(delta, which, bound):
    rng = np.random.default_rng(6)
    verdicts = []
    for _ in range(SWEEPS):
        one = np.exp(math.log(200) + SD[0] * rng.standard_normal(SEEDS))
        two = np.exp(math.log(200) - delta + SD[1] * rng.standard_normal(SEEDS))
        verdicts.append(layers_claim(sweep(one, two)).verdict)
    got = float(np.mean(np.array(verdicts) == which))
    assert got >= bound if bound > 0 else got <= -bound
