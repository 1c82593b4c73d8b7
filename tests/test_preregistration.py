"""Rules frozen before the confirmatory data: rule hashes, the plan a pilot writes, the confirm preset's seeds,
and a claim marked exploratory when its rule changed after pre-registration or ran on exploratory seeds."""
import json
import sys

import numpy as np
import pytest

from suite.core.config import ConfigError
from suite.judge import preregistration as prereg
from suite.judge.claims import MEAN, WELCH, Claim, Rule
from suite.judge.parts import claim_from_parts, judge_part
from suite.run import seed_blocks, sweep

RULE = Rule(MEAN, min_effect=0.02, design_effect=0.07, basis="test")


@pytest.fixture
def rule_module(tmp_path, monkeypatch):
    """A rule module of the claim's own, importable by name, that a test can edit."""
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "rule_for_prereg_test.py"
    path.write_text("MIN_EFFECT = 0.02\n")
    yield path
    sys.modules.pop("rule_for_prereg_test", None)


def claim(values, rule=RULE, code=("rule_for_prereg_test",)):
    c = Claim("test.claim", "an effect exists", "a paper", "per seed, t-interval", "inconclusive", "", code=code)
    return claim_from_parts(c, [judge_part("lstm", rule, values, tasks=("task_a",))])


def test_the_rule_hash_follows_the_rule_and_its_code_but_not_the_data(rule_module):
    first = prereg.rule_hash(claim([0.1, 0.2, 0.15]))
    assert prereg.rule_hash(claim([0.5, 0.4, 0.45, 0.3])) == first  # other data, same rule
    assert prereg.rule_hash(claim([0.1, 0.2], rule=Rule(MEAN, 0.03, 0.07, "test"))) != first  # a threshold
    rule_module.write_text("MIN_EFFECT = 0.03\n")
    assert prereg.rule_hash(claim([0.1, 0.2, 0.15])) != first  # the code that computes it


def test_a_rule_edited_after_preregistration_reads_exploratory(rule_module):
    pilot = claim(list(np.random.default_rng(0).normal(0.1, 0.05, 8)))
    registration = prereg.plan([pilot], ["task_a"], {"seeds": list(range(8))})
    confirm_seeds = set(range(2000, 2010))
    same = claim([0.1, 0.12, 0.09])
    assert prereg.status(same, confirm_seeds, registration) == prereg.CONFIRMATORY
    assert prereg.status(same, {0, 1, 2}, registration) == prereg.EXPLORATORY_SEEDS
    rule_module.write_text("MIN_EFFECT = 0.01  # loosened after seeing the data\n")
    assert prereg.status(claim([0.1, 0.12, 0.09]), confirm_seeds, registration).startswith(prereg.CHANGED)
    other = Claim("test.other", "s", "p", "r", "inconclusive", "")
    assert prereg.status(other, confirm_seeds, registration) == prereg.NOT_REGISTERED


def test_a_part_the_pilot_did_not_produce_reads_unplanned_not_changed(rule_module):
    pilot = claim(list(np.random.default_rng(0).normal(0.1, 0.05, 8)))  # one part, on task_a
    registration = prereg.plan([pilot], ["task_a"], {"seeds": list(range(8))})
    c = Claim("test.claim", "an effect exists", "a paper", "per seed, t-interval", "inconclusive", "",
              code=("rule_for_prereg_test",))
    wider = claim_from_parts(c, [judge_part("lstm", RULE, [0.1, 0.12, 0.09], tasks=("task_a",)),
                                 judge_part("gru", Rule(MEAN, 0.05, 0.07, "test"), [0.1, 0.12], tasks=("task_b",))])
    assert prereg.status(wider, set(range(2000, 2010)), registration) == f"{prereg.UNPLANNED} (gru)"
    rule_module.write_text("MIN_EFFECT = 0.01\n")  # with the code changed too, the rule did change
    assert prereg.status(wider, set(range(2000, 2010)), registration).startswith(prereg.CHANGED)


def test_a_claim_with_fewer_parts_than_registered_is_not_read_as_a_changed_rule(rule_module):
    # a quick run where no task passes a positive control has no parts at all: its rule did not change
    registration = prereg.plan([claim(list(np.random.default_rng(0).normal(0.1, 0.05, 8)))], ["task_a"],
                               {"seeds": list(range(8))})
    none = Claim("test.claim", "an effect exists", "a paper", "per seed, t-interval", "inconclusive", "",
                 code=("rule_for_prereg_test",))
    assert prereg.status(none, {0}, registration) == prereg.EXPLORATORY_SEEDS
    assert prereg.status(none, {2000}, registration) == prereg.CONFIRMATORY


def test_a_registered_part_whose_rule_drifted_with_the_data_reads_changed(rule_module):
    registration = prereg.plan([claim(list(np.random.default_rng(0).normal(0.1, 0.05, 8)))], ["task_a"],
                               {"seeds": list(range(8))})
    c = Claim("test.claim", "an effect exists", "a paper", "per seed, t-interval", "inconclusive", "",
              code=("rule_for_prereg_test",))
    drifted = claim_from_parts(c, [judge_part("lstm", Rule(MEAN, 0.01, 0.07, "from the data"), [0.1, 0.12],
                                              tasks=("task_a",))])
    assert prereg.status(drifted, {2000}, registration).startswith(prereg.CHANGED + " (part rules differ")


def test_the_plan_gives_each_task_the_seeds_its_parts_need_and_never_more_than_the_cap(rule_module):
    rng = np.random.default_rng(1)
    quiet = claim(list(rng.normal(0.10, 0.02, 10)))
    noisy = Claim("test.noisy", "s", "p", "r", "inconclusive", "", code=("rule_for_prereg_test",))
    noisy = claim_from_parts(noisy, [judge_part("rnn_tanh − lstm", Rule(WELCH, 0.03, 0.07, "test"),
                                                rng.normal(0.2, 0.5, 10), rng.normal(0.1, 0.5, 10), tasks=("task_b",))])
    registration = prereg.plan([quiet, noisy], ["task_a", "task_b", "task_c"], {"seeds": list(range(10))})
    parts = {p["name"]: p for c in registration["claims"] for p in c["parts"]}
    assert parts["lstm"]["feasible"] and parts["lstm"]["seeds_needed"] == registration["tasks"]["task_a"]["seeds"]
    assert not parts["rnn_tanh − lstm"]["feasible"]  # would need more than CAP: registered as such
    assert registration["tasks"]["task_b"]["seeds"] == seed_blocks.MIN_SEEDS  # and does not inflate the run
    assert registration["tasks"]["task_c"]["seeds"] == seed_blocks.MIN_SEEDS  # a task without claims


def test_the_confirm_preset_runs_each_task_on_its_registered_fresh_seeds(tmp_path, monkeypatch):
    path = tmp_path / "confirm.json"
    path.write_text(json.dumps({"confirmatory_start": 2000, "claims": [],
                                "tasks": {"grammar_lm": {"seeds": 4, "first_seed": 2000}}}))
    monkeypatch.setattr(sweep, "load_registration", lambda: seed_blocks.load_registration(path))
    configs = sweep.expand(sweep.PRESETS["confirm"], sweep.Overrides(tasks=("grammar_lm",), archs=("lstm",)))
    assert sorted({c.seed for c in configs}) == [2000, 2001, 2002, 2003]
    monkeypatch.setattr(sweep, "load_registration", lambda: None)
    with pytest.raises(ConfigError, match="needs a pre-registration"):
        sweep.expand(sweep.PRESETS["confirm"], sweep.Overrides(tasks=("grammar_lm",), archs=("lstm",)))


def test_a_plan_over_budget_caps_seeds_per_task_and_marks_the_parts_that_lose_power():
    # one minute per seed for each task; needs 10 + 20 + 3 = 33 minutes, 20 available: the largest cap that
    # fits is 8 (8 + 8 + 3 = 19 minutes; 9 would give 21)
    seeds, cap = prereg.fit_to_budget({"a": 10, "b": 20, "c": 3}, {"a": 60.0, "b": 60.0, "c": 60.0}, 20)
    assert cap == 8 and seeds == {"a": 8, "b": 8, "c": 3}
    assert prereg.fit_to_budget({"a": 10}, {"a": 60.0}, 20) == ({"a": 10}, None)  # fits: untouched
    assert prereg.fit_to_budget({"a": 10}, None, 1) == ({"a": 10}, None)  # no timings: nothing to fit with


def test_an_amendment_adds_only_what_the_registration_lacks_and_stamps_it(rule_module):
    rng = np.random.default_rng(2)
    first = prereg.plan([claim(list(rng.normal(0.1, 0.05, 8)))], ["task_a"], {"seeds": list(range(8))})
    first["registered"] = "2026-12-01 09:00 UTC"
    later = Claim("test.later", "a second effect", "a paper", "per seed", "inconclusive", "",
                  code=("rule_for_prereg_test",))
    later = claim_from_parts(later, [judge_part("gru", RULE, list(rng.normal(0.1, 0.05, 8)), tasks=("task_b",))])
    # the later pilot would plan the first claim differently (other data): the amendment must not touch it
    replan = prereg.plan([claim(list(rng.normal(0.1, 0.5, 8))), later], ["task_a", "task_b"], {"seeds": [0]})
    amended = prereg.amend(first, replan, "2026-12-03 11:38 UTC")
    assert amended["claims"][0] == first["claims"][0] and amended["tasks"]["task_a"] == first["tasks"]["task_a"]
    assert [c["id"] for c in amended["claims"]] == ["test.claim", "test.later"]
    assert amended["claims"][1]["registered"] == "2026-12-03 11:38 UTC"
    assert amended["tasks"]["task_b"] == replan["tasks"]["task_b"] and amended["registered"] == first["registered"]
    assert amended["amendments"] == [{"registered": "2026-12-03 11:38 UTC", "pilot": {"seeds": [0]},
                                      "claims": ["test.later"], "tasks": ["task_b"]}]
    assert prereg.status(later, {2000, 2001}, amended, [("task_b", "2026-12-03T12:00:00+0000")]) == \
        prereg.CONFIRMATORY


def two_task_claim(rng, sd_a, sd_b):
    c = Claim("test.claim", "an effect exists", "a paper", "per seed, t-interval", "inconclusive", "",
              code=("rule_for_prereg_test",))
    return claim_from_parts(c, [judge_part("lstm", RULE, list(rng.normal(0.1, sd_a, 8)), tasks=("task_a",)),
                                judge_part("gru", RULE, list(rng.normal(0.1, sd_b, 8)), tasks=("task_b",))])


def test_a_redesigned_task_is_registered_afresh_on_an_unused_seed_block_and_keeps_what_it_replaced(rule_module):
    rng = np.random.default_rng(5)
    first = prereg.plan([two_task_claim(rng, 0.05, 0.05)], ["task_a", "task_b"], {"seeds": list(range(8))})
    first["registered"], first["budget_seed_cap"] = "2026-12-01 09:00 UTC", 6
    # the new design of task_a is noisier: its part needs more seeds; the pilot ran task_a only
    pilot = two_task_claim(rng, 0.2, 0.05)
    pilot = claim_from_parts(Claim(pilot.id, pilot.statement, pilot.source, pilot.rule, "inconclusive", "",
                                   code=pilot.code), [pilot.parts[0]])
    new = prereg.plan([pilot], ["task_a"], {"seeds": [0, 1]})
    redone = prereg.redesign(first, new, ["task_a"], "2026-12-03 18:00 UTC", [pilot])
    assert redone["tasks"]["task_a"]["first_seed"] == 3000 and redone["tasks"]["task_b"] == first["tasks"]["task_b"]
    assert redone["tasks"]["task_a"]["seeds"] == min(new["tasks"]["task_a"]["seeds_needed"], 6)
    entry = redone["claims"][0]
    assert entry["registered"] == "2026-12-01 09:00 UTC" and entry["redesigned"] == {"task_a": "2026-12-03 18:00 UTC"}
    assert [p["name"] for p in entry["parts"]] == ["lstm", "gru"]  # task_b's part as registered
    assert entry["parts"][0] == {**new["claims"][0]["parts"][0], "within_budget": entry["parts"][0]["within_budget"]}
    assert entry["parts"][1]["measured_spread"] == first["claims"][0]["parts"][1]["measured_spread"]
    assert entry["rule_hash"] == first["claims"][0]["rule_hash"]  # same rule over the merged parts
    change = redone["amendments"][-1]
    assert change["superseded"] == {"tasks": {"task_a": first["tasks"]["task_a"]}, "claims": [first["claims"][0]]}
    # judged on the new block, after the redesign: confirmatory; a record from before it is not
    whole = two_task_claim(rng, 0.2, 0.05)
    # task_b's records ran before the redesign, under its first registration: they may; task_a's may not
    earlier_b = ("task_b", "2026-12-02T10:00:00+0000")
    assert prereg.status(whole, {3000}, redone, [("task_a", "2026-12-03T18:30:00+0000"), earlier_b]) == \
        prereg.CONFIRMATORY
    assert prereg.status(whole, {3000}, redone, [("task_a", "2026-12-03T17:30:00+0000"), earlier_b]).startswith(
        prereg.AFTER_DATA + " (registered 2026-12-03 18:00")
    assert prereg.status(whole, {3000}, redone, [("task_b", "2026-12-01T08:00:00+0000")]).startswith(
        prereg.AFTER_DATA + " (registered 2026-12-01 09:00")
    # a second redesign takes the next block, past every block used before; redesigning task_b later leaves
    # task_a's records counted from task_a's own redesign
    again = prereg.redesign(redone, new, ["task_a"], "2026-12-04 09:00 UTC", [pilot])
    assert again["tasks"]["task_a"]["first_seed"] == 4000
    b_pilot = claim_from_parts(Claim(pilot.id, pilot.statement, pilot.source, pilot.rule, "inconclusive", "",
                                     code=pilot.code), [whole.parts[1]])
    b_new = prereg.plan([b_pilot], ["task_b"], {"seeds": [0, 1]})
    both = prereg.redesign(redone, b_new, ["task_b"], "2026-12-05 09:00 UTC", [b_pilot])
    assert both["tasks"]["task_b"]["first_seed"] == 4000 and both["tasks"]["task_a"]["first_seed"] == 3000
    assert both["claims"][0]["redesigned"] == {"task_a": "2026-12-03 18:00 UTC", "task_b": "2026-12-05 09:00 UTC"}
    assert prereg.status(whole, {3000, 4000}, both, [("task_a", "2026-12-04T10:00:00+0000"),
                                                     ("task_b", "2026-12-05T10:00:00+0000")]) == prereg.CONFIRMATORY
    with pytest.raises(ValueError, match="cannot redesign task_c: a redesign needs a task that is registered"):
        prereg.redesign(first, new, ["task_c"], "2026-12-03 18:00 UTC", [pilot])


def test_a_claim_added_on_a_task_registered_before_it_reads_exploratory_whenever_its_records_ran(rule_module):
    # Its task's confirmatory seeds may already have been run and looked at; rerun, the same seeds give the
    # same numbers with fresh start times, so no start time can make such a claim confirmatory.
    rng = np.random.default_rng(4)
    first = prereg.plan([claim(list(rng.normal(0.1, 0.05, 8)))], ["task_a"], {"seeds": list(range(8))})
    on_a = Claim("test.on_a", "another effect on task_a", "a paper", "per seed", "inconclusive", "",
                 code=("rule_for_prereg_test",))
    on_a = claim_from_parts(on_a, [judge_part("lstm", RULE, list(rng.normal(0.1, 0.05, 8)), tasks=("task_a",))])
    amended = prereg.amend(first, prereg.plan([on_a], ["task_a"], {"seeds": [0]}), "2026-12-03 11:38 UTC")
    assert amended["claims"][1]["tasks_registered_before"] == ["task_a"]
    assert prereg.status(on_a, {2000, 2001}, amended, [("task_a", "2026-12-03T13:00:00+0000")]) == (
        f"{prereg.ON_SEEN_SEEDS} (task_a)")


def test_a_claim_registered_after_its_first_record_started_reads_exploratory(rule_module):
    rng = np.random.default_rng(3)
    registration = prereg.plan([claim(list(rng.normal(0.1, 0.05, 8)))], ["task_a"], {"seeds": list(range(8))})
    registration["claims"][0]["registered"] = "2026-12-03 11:38 UTC"
    same, seeds = claim([0.1, 0.12, 0.09]), {2000, 2001, 2002}
    after = [("task_a", "2026-12-03T12:05:00+0000"), ("task_a", "2026-12-03T12:01:10+0000")]
    assert prereg.status(same, seeds, registration, after) == prereg.CONFIRMATORY
    before = after + [("task_a", "2026-12-03T09:26:06+0000")]
    assert prereg.status(same, seeds, registration, before) == (
        f"{prereg.AFTER_DATA} (registered 2026-12-03 11:38, first record 2026-12-03 09:26 UTC)")
    # a record stamped in another zone is compared in UTC: 12:30+0100 is 11:30 UTC, before the registration
    assert prereg.status(same, seeds, registration, [("task_a", "2026-12-03T12:30:00+0100")]).startswith(
        prereg.AFTER_DATA)
    # without a claim's own stamp the registration's is used
    del registration["claims"][0]["registered"]
    registration["registered"] = "2026-12-03 00:51 UTC"
    assert prereg.status(same, seeds, registration, before) == prereg.CONFIRMATORY
