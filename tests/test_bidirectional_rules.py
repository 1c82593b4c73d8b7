"""The claim "a bidirectional tagger beats the best delayed forward tagger" (tasks/bidirectional/rules.py) on
simulated records shaped like the runner's: the delay chosen on validation, the parts per built-in cell, the
three controls at the standard size, ceiling / untrained / missing records, and what is left out."""
import numpy as np
import pytest

from suite.core.families import BUILTIN_RECURRENT
from suite.judge.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from tasks.bidirectional.rules import RULE, delayed_forward_claim

DELAYS = (0, 2, 4, 8)  # the standard grid
SEEDS = 4  # the standard size's seeds (BidirectionalTagging.seed_count), from the controls below
# The largest between-seed SD of the paired difference measured on exploratory seeds 0–2 at the standard
# size (lstm; rnn_tanh 0.0020, rnn_relu 0.0029, gru 0.0016); the controls simulate at 1.25× it (the planning
# margin of suite/judge/power.py). At 3 seeds the design effect came out reproduced in only 60 % of sweeps.
PILOT_SD = 0.0053


def record(cell, seed, accuracy, bi=False, delay=0, valid=None, local=1.0, layers=1, status="ok"):
    """A finished bidir_tag run as the runner writes it (only the fields the rule reads, and the ids)."""
    valid = accuracy if valid is None else valid
    label = ("bi-" if bi else "") + cell + (f"×{layers}" if layers > 1 else "")
    return {"run_id": f"{cell}-{layers}-{bi}-{delay}-{seed}", "label": label, "status": status,
            "parameters": 50000,
            "config": {"task": "bidir_tag", "seed": seed,
                       "model": {"arch": cell, "layers": layers, "bidirectional": bi, "hidden": 64 if bi else 100},
                       "train": {}, "options": {"delay": delay}},
            "metrics": {"token_accuracy": accuracy, "valid_token_accuracy": valid,
                        "valid_right_only_accuracy": 0.5, "local_accuracy": local}}


def sweep(bi, forward, cells=BUILTIN_RECURRENT, valid=None):
    """bi: per-seed accuracies; forward: delay → per-seed accuracies (validation = test unless given)."""
    out = []
    for c in cells:
        out += [record(c, s, x, bi=True) for s, x in enumerate(bi)]
        for k, xs in forward.items():
            vs = xs if valid is None else valid[k]
            out += [record(c, s, x, delay=k, valid=v) for s, (x, v) in enumerate(zip(xs, vs))]
    return out


FORWARD = {0: [0.96, 0.962, 0.958], 4: [0.94] * 3, 8: [0.89] * 3}  # as in the pilot: delay 0 best


def verdict(records):
    return delayed_forward_claim(records).verdict


# --------------------------------------------------------------------------- the rule on clear cases


def test_reproduced_when_the_bidirectional_tagger_beats_the_best_delay_in_every_cell():
    c = delayed_forward_claim(sweep([0.999, 1.0, 0.998], FORWARD))
    assert c.verdict == REPRODUCED and [p.name for p in c.parts] == list(BUILTIN_RECURRENT)
    assert c.parts[0].effect.mean == pytest.approx(0.039)
    assert c.code == ("tasks.bidirectional.rules",) and c.parts[0].rule == RULE


def test_the_delay_is_chosen_on_validation_not_on_test():
    # Delay 8 is best on test (0.99) but validation prefers delay 0: the claim compares with delay 0.
    forward = {0: [0.95] * 3, 4: [0.90] * 3, 8: [0.99] * 3}
    valid = {0: [0.96] * 3, 4: [0.91] * 3, 8: [0.93] * 3}
    c = delayed_forward_claim(sweep([1.0, 0.999, 1.0], forward, valid=valid))
    assert c.parts[0].effect.mean == pytest.approx(0.0497, abs=1e-3)
    without_validation_choice = delayed_forward_claim(sweep([1.0, 0.999, 1.0], forward))
    assert without_validation_choice.parts[0].effect.mean == pytest.approx(0.0097, abs=1e-3)


def test_reversed_and_too_small_are_not_reproduced_and_one_cell_decides():
    assert verdict(sweep([0.90, 0.91, 0.9], FORWARD)) == NOT_REPRODUCED
    small = delayed_forward_claim(sweep([0.962, 0.966, 0.962], FORWARD))
    assert small.verdict == NOT_REPRODUCED and "smaller than the claimed effect" in small.why
    good = sweep([0.999, 1.0, 0.998], FORWARD, cells=BUILTIN_RECURRENT[1:])
    worse = sweep([0.90, 0.91, 0.9], FORWARD, cells=BUILTIN_RECURRENT[:1])
    c = delayed_forward_claim(good + worse)
    assert c.verdict == NOT_REPRODUCED and c.why.startswith(f"{BUILTIN_RECURRENT[0]}: the effect is reversed")


def test_a_ceiling_on_both_sides_is_inconclusive_never_a_failure():
    c = delayed_forward_claim(sweep([1.0, 1.0, 1.0], {0: [1.0] * 3, 4: [0.999] * 3, 8: [0.995] * 3}))
    assert c.verdict == INCONCLUSIVE and all("ceiling" in p.why for p in c.parts)
    # …but a bidirectional tagger clearly below a forward one at ceiling lost.
    assert verdict(sweep([0.95, 0.94, 0.95], {0: [1.0] * 3, 4: [0.999] * 3, 8: [0.995] * 3})) == NOT_REPRODUCED


def test_an_untrained_bidirectional_tagger_is_inconclusive():
    records = [dict(r, metrics={**r["metrics"], "local_accuracy": 0.6}) if r["config"]["model"]["bidirectional"]
               else r for r in sweep([0.7, 0.7, 0.7], {0: [0.96] * 3, 4: [0.94] * 3, 8: [0.89] * 3})]
    c = delayed_forward_claim(records)
    assert c.verdict == INCONCLUSIVE and "bidirectional tagger untrained (local accuracy 0.60 < 0.9)" in c.why


def test_missing_or_too_few_records_say_so_and_never_raise():
    assert "not measured" in delayed_forward_claim([]).why
    one_seed = delayed_forward_claim(sweep([1.0], {0: [0.96], 4: [0.94], 8: [0.9]}))
    assert one_seed.verdict == INCONCLUSIVE and "too few replicates" in one_seed.why
    no_twin = [r for r in sweep([1.0] * 3, {0: [0.96] * 3, 4: [0.94] * 3, 8: [0.9] * 3})
               if not (r["config"]["model"]["bidirectional"] and r["config"]["model"]["arch"] == "gru")]
    c = delayed_forward_claim(no_twin)
    assert c.verdict == INCONCLUSIVE and "gru: not measured: no bidirectional runs" in c.why
    failed = [dict(r, status="failed", metrics={}) for r in sweep([1.0] * 3, {0: [0.96] * 3})]
    assert "not measured" in delayed_forward_claim(failed).why


def test_noisy_seeds_are_guarded_by_power():
    # Δ ≈ 0.04 but seeds scatter by ±0.03: 3 seeds are far from 80 % power at the design effect.
    c = delayed_forward_claim(sweep([0.999, 1.0, 0.998], {0: [0.93, 0.99, 0.96], 4: [0.9] * 3, 8: [0.89] * 3}))
    assert c.verdict == INCONCLUSIVE and "too few seeds: 3 of the" in c.why


def test_stacks_and_user_cells_are_not_parts_of_the_literature_claim():
    base = sweep([0.999, 1.0, 0.998], FORWARD)
    stack = [dict(r, config={**r["config"], "model": {**r["config"]["model"], "layers": 2}})
             for r in sweep([0.5] * 3, {0: [0.96] * 3, 4: [0.94] * 3, 8: [0.89] * 3}, cells=("lstm",))]
    plugin = sweep([0.5] * 3, {0: [0.96] * 3, 4: [0.94] * 3, 8: [0.89] * 3}, cells=("mgu",))
    for extra in (stack, plugin):
        c = delayed_forward_claim(base + extra)
        assert c.verdict == REPRODUCED and [p.name for p in c.parts] == list(BUILTIN_RECURRENT)


# --------------------------------------------------------------------------- controls: 200 simulated sweeps


def simulated_verdicts(effect: float, sweeps: int = 200, seeds: int = SEEDS, rng_seed: int = 0) -> list[str]:
    """Each seed fixes the sentences (a shared shift of every reader's accuracy); each run adds its own
    noise, so the per-seed difference has SD ≈ 1.25 × PILOT_SD. The forward taggers' delays are ordered as
    for the pilot's vanilla cells (delay 4 best, delay 2 close behind), 0.04 lower so that the bidirectional
    tagger, `effect` above the best delay, is never clipped at 1; validation sees test plus noise."""
    rng = np.random.default_rng(rng_seed)
    sd = 1.25 * PILOT_SD / np.sqrt(2)
    levels = dict(zip(DELAYS, (0.92, 0.93, 0.935, 0.77)))
    out = []
    for _ in range(sweeps):
        records = []
        for c in BUILTIN_RECURRENT:
            shared = rng.normal(0, 0.01, seeds)
            forward = {k: np.clip(mu + shared + rng.normal(0, sd, seeds), 0, 1) for k, mu in levels.items()}
            valid = {k: np.clip(x + rng.normal(0, 0.002, seeds), 0, 1) for k, x in forward.items()}
            bi = np.clip(max(levels.values()) + effect + shared + rng.normal(0, sd, seeds), 0, 1)
            records += [record(c, s, float(x), bi=True) for s, x in enumerate(bi)]
            records += [record(c, s, float(forward[k][s]), delay=k, valid=float(valid[k][s]))
                        for k in DELAYS for s in range(seeds)]
        out.append(verdict(records))
    return out


def test_control_the_design_effect_is_found():
    verdicts = simulated_verdicts(RULE.design_effect)
    assert verdicts.count(REPRODUCED) >= 0.8 * len(verdicts)


def test_control_no_effect_is_rarely_reproduced():
    verdicts = simulated_verdicts(0.0, rng_seed=1)
    assert verdicts.count(REPRODUCED) <= 0.1 * len(verdicts)


def test_control_a_reversed_effect_is_not_reproduced():
    verdicts = simulated_verdicts(-RULE.design_effect, rng_seed=2)
    assert verdicts.count(NOT_REPRODUCED) >= 0.8 * len(verdicts)
