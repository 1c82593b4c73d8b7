"""Rules frozen before the confirmatory data: each claim's rule hash, the pre-registration file, and what a
report makes of a claim whose rule, seeds or power differ from what was registered.

Exploration and confirmation use separate seed blocks (suite/run/seed_blocks.py); the confirmatory block is
run only after `run_suite.py preregister` has written, from a pilot on exploratory seeds, every claim's rule
hash, the between-seed SD each claim part showed and the seeds its power needs. A claim judged with a rule
whose hash differs from the registered one, or on seeds outside the confirmatory block, is exploratory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from suite.judge.claims import MEAN, Claim, Part
from suite.judge.power import CAP, PLANNING_MARGIN, measured_spread, units_needed
from suite.run.code_version import source_file
from suite.run.seed_blocks import CONFIRMATORY_START, EXPLORATORY_BELOW, MIN_SEEDS, load_registration  # noqa: F401

# The judging core every claim's verdict runs through: part of every rule hash.
JUDGING_CORE = ("suite.judge.claims", "suite.judge.parts", "suite.judge.power", "suite.judge.stats")
CONFIRMATORY, NOT_REGISTERED = "confirmatory", "exploratory: not pre-registered"
CHANGED = "exploratory: rule changed after pre-registration"
EXPLORATORY_SEEDS = "exploratory: judged on exploratory seeds"
UNPLANNED = "exploratory: parts the pilot could not plan"
AFTER_DATA = "exploratory: registered after its data"
ON_SEEN_SEEDS = "exploratory: added after its tasks' confirmatory seeds were registered"


# --------------------------------------------------------------------------- rule hashes


def rule_hash(claim: Claim, part_rules: list[dict[str, Any]] | None = None) -> str:
    """Hash of everything that decides a claim's verdict from its records: statement and rule in words, every
    distinct part rule (test, thresholds, design effect, unit), and the source of the modules that compute its
    statistic and verdict (the claim's own and the judging core). `part_rules` replaces the claim's own parts'
    rules (as dicts), to recompute a registered hash from the parts the registration lists."""
    part_rules = [dataclasses.asdict(p.rule) for p in claim.parts] if part_rules is None else part_rules
    rules = sorted({json.dumps(r, sort_keys=True) for r in part_rules})
    code = {name: _source_digest(name) for name in sorted({*claim.code, *JUDGING_CORE})}
    payload = {"id": claim.id, "statement": claim.statement, "rule": claim.rule, "part_rules": rules, "code": code}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _source_digest(module: str) -> str:
    path = source_file(module)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else "missing"


# --------------------------------------------------------------------------- planning from a pilot


def part_plan(part: Part) -> dict[str, Any]:
    """What the pilot says about one part: its measured spread and the units its power needs."""
    spread = measured_spread(part.rule, part.values, part.reference)
    needed = units_needed(part.rule, part.values, part.reference, margin=PLANNING_MARGIN)
    pilot_units = len(part.values) if part.rule.test == MEAN else min(len(part.values), len(part.reference))
    return {"name": part.name, "rule": dataclasses.asdict(part.rule), "tasks": list(part.tasks),
            "pilot_units": pilot_units, "measured_spread": [_finite(s) for s in spread],
            "seeds_needed": needed, "feasible": needed is not None}


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


BUDGET_MINUTES = 80  # the confirmatory run's wall-clock budget on 2 cores (issue: ≤ 90 min, 10 min kept spare)


def plan(claims: list[Claim], tasks_run: list[str], pilot: dict[str, Any],
         seconds_per_seed: dict[str, float] | None = None, budget_minutes: float = BUDGET_MINUTES) -> dict[str, Any]:
    """The pre-registration: per claim its rule hash and part plans; per task the confirmatory seed count —
    the most any of its feasible parts needs (at least MIN_SEEDS; a part that would need more than CAP seeds
    is registered as such and reads "inconclusive: would need more seeds" rather than inflating the run).

    With the pilot's wall time per seed of each task, the seeds are also fitted to `budget_minutes`: when the
    tasks' needs exceed it, one cap K on seeds per task is lowered until the run fits (the tasks that need
    the most give up seeds first; none goes below MIN_SEEDS), and the parts that needed more than their task
    got are marked `within_budget: false` — their verdict's power guard then reads "too few seeds"."""
    needed = {task: MIN_SEEDS for task in tasks_run}
    registered = []
    for claim in claims:
        parts = [part_plan(p) for p in claim.parts]
        for p in parts:
            for task in p["tasks"]:
                if p["feasible"] and task in needed:
                    needed[task] = max(needed[task], p["seeds_needed"])
        registered.append({"id": claim.id, "statement": claim.statement, "rule_hash": rule_hash(claim),
                           "parts": parts})
    seeds, cap = fit_to_budget(needed, seconds_per_seed, budget_minutes)
    for claim in registered:
        for p in claim["parts"]:
            p["within_budget"] = p["feasible"] and all(seeds.get(t, p["seeds_needed"]) >= p["seeds_needed"]
                                                       for t in p["tasks"])
    cost = seconds_per_seed or {}
    return {"format": 1, "confirmatory_start": CONFIRMATORY_START, "cap": CAP, "planning_margin": PLANNING_MARGIN,
            "budget_minutes": budget_minutes, "budget_seed_cap": cap,
            "estimated_minutes": round(sum(seeds[t] * cost.get(t, 0.0) for t in seeds) / 60, 1),
            "pilot": pilot, "claims": registered,
            "tasks": {task: {"seeds": seeds[task], "seeds_needed": needed[task], "first_seed": CONFIRMATORY_START,
                             "minutes_per_seed": round(cost.get(task, 0.0) / 60, 2)}
                      for task in sorted(seeds)}}


def fit_to_budget(needed: dict[str, int], seconds_per_seed: dict[str, float] | None,
                  budget_minutes: float) -> tuple[dict[str, int], int | None]:
    """Each task's seeds under one cap K on seeds per task, the largest K whose run fits the budget (None:
    no cap was needed, or no timings to fit with)."""
    if not seconds_per_seed:
        return dict(needed), None

    def minutes(cap: int) -> float:
        return sum(min(n, cap) * seconds_per_seed.get(t, 0.0) for t, n in needed.items()) / 60

    top = max(needed.values(), default=MIN_SEEDS)
    if minutes(top) <= budget_minutes:
        return dict(needed), None
    cap = next((k for k in range(top - 1, MIN_SEEDS - 1, -1) if minutes(k) <= budget_minutes), MIN_SEEDS)
    return {t: min(n, cap) for t, n in needed.items()}, cap


def load(path: Path | None = None) -> dict[str, Any] | None:
    """The pre-registration, or None when there is none (every claim then reads exploratory)."""
    return load_registration(path)


# --------------------------------------------------------------------------- judging against it


def status(claim: Claim, seeds: set[int], registration: dict[str, Any] | None,
           started: Iterable[tuple[str, str]] = ()) -> str:
    """Confirmatory, or why the claim is exploratory: not registered, registered only after the first of its
    records had started (`started`: each record's task and start time), rule changed, exploratory seeds."""
    entry = next((c for c in (registration or {}).get("claims", []) if c["id"] == claim.id), None)
    if entry is None:
        return NOT_REGISTERED
    if entry.get("tasks_registered_before"):
        return f"{ON_SEEN_SEEDS} ({', '.join(entry['tasks_registered_before'])})"
    early = _first_early_record(entry, registration, started)
    if early:
        registered, first = early
        return f"{AFTER_DATA} (registered {registered:%Y-%m-%d %H:%M}, first record {first:%Y-%m-%d %H:%M} UTC)"
    if entry["rule_hash"] != rule_hash(claim):
        # Which parts a claim has depends on the data (a task the pilot did not run, a positive control passed or
        # failed), so the hash over the parts present can differ with no rule changed. The rule is unchanged
        # when the registered hash comes back from the registered parts' rules with today's statement and code.
        if entry["rule_hash"] != rule_hash(claim, [p["rule"] for p in entry["parts"]]):
            return f"{CHANGED} (registered {entry['rule_hash']}, now {rule_hash(claim)})"
        planned = {p["name"]: json.dumps(p["rule"], sort_keys=True) for p in entry["parts"]}
        drifted = [p.name for p in claim.parts
                   if p.name in planned and json.dumps(dataclasses.asdict(p.rule), sort_keys=True) != planned[p.name]]
        if drifted:  # the same code gave a registered part another rule: a threshold drawn from the data
            return f"{CHANGED} (part rules differ from the registered ones: {'; '.join(drifted)})"
        unplanned = [p.name for p in claim.parts if p.name not in planned]
        if unplanned:
            return f"{UNPLANNED} ({'; '.join(unplanned)})"
    if seeds and min(seeds) < registration["confirmatory_start"]:
        return EXPLORATORY_SEEDS
    return CONFIRMATORY


def _first_early_record(entry: dict[str, Any], registration: dict[str, Any], started: Iterable[tuple[str, str]]
                        ) -> tuple[datetime, datetime] | None:
    """(when the claim was registered for its task, the start) of the earliest record that started before that,
    or None. A task redesigned after the claim's registration (`redesign`) counts from its redesign."""
    registered = _moment(entry.get("registered") or registration.get("registered"))
    redesigned = {task: _moment(when) for task, when in entry.get("redesigned", {}).items()}
    early = []
    for task, start in started:
        limit, moment = redesigned.get(task, registered), _moment(start)
        if limit and moment and moment < limit:
            early.append((moment, limit))
    return (min(early)[1], min(early)[0]) if early else None


def _moment(text: str | None) -> datetime | None:
    """A record's start ("2026-12-03T09:26:06+0000") or a registration's time ("2026-12-03 00:51 UTC") as a
    naive UTC time, or None."""
    for form in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M %Z"):
        try:
            moment = datetime.strptime(text or "", form)
        except ValueError:
            continue
        offset = moment.utcoffset()
        return moment.replace(tzinfo=None) - offset if offset else moment.replace(tzinfo=None)
    return None


def amend(registration: dict[str, Any], new: dict[str, Any], when: str) -> dict[str, Any]:
    """`registration` with the claims and tasks of `new` (a plan from a later pilot) that it does not have,
    each new claim stamped with `when`; what was registered before stays as it was, so no earlier claim's
    rule, seeds or plan can change under the cover of an amendment. A claim added this way reads exploratory
    (`status`) when one of its tasks was registered before it — that task's confirmatory seeds may have been
    run and seen, and a rerun of the same seeds would give the same numbers under a later start time — or,
    failing that, when its records started before `when`. Such a claim is confirmed only by a registration
    that gives its tasks a fresh seed block."""
    known = {c["id"] for c in registration["claims"]}
    tasks = {t: e for t, e in new["tasks"].items() if t not in registration["tasks"]}
    seeds = {t: e["seeds"] for t, e in {**registration["tasks"], **tasks}.items()}
    added = []
    for claim in (c for c in new["claims"] if c["id"] not in known):
        claim = {**claim, "registered": when}
        seen = sorted({t for p in claim["parts"] for t in p["tasks"] if t in registration["tasks"]})
        if seen:
            claim["tasks_registered_before"] = seen
        for p in claim["parts"]:  # its power against the seeds its tasks are registered with
            p["within_budget"] = p["feasible"] and all(seeds.get(t, 0) >= p["seeds_needed"] for t in p["tasks"])
        added.append(claim)
    amendment = {"registered": when, "pilot": new["pilot"], "claims": [c["id"] for c in added], "tasks": sorted(tasks)}
    return {**registration, "claims": registration["claims"] + added, "tasks": {**registration["tasks"], **tasks},
            "amendments": registration.get("amendments", []) + [amendment]}


def registered_part(claim: Claim, part: Part, registration: dict[str, Any] | None) -> dict[str, Any] | None:
    entry = next((c for c in (registration or {}).get("claims", []) if c["id"] == claim.id), None)
    return next((p for p in entry["parts"] if p["name"] == part.name), None) if entry else None


def redesign(registration: dict[str, Any], new: dict[str, Any], tasks: list[str], when: str,
             claims: list[Claim]) -> dict[str, Any]:
    """`registration` with `tasks` registered afresh after a change of their design (their data or probes), from
    `new`, a plan from a pilot of the new design on exploratory seeds. Each task gets a seed block no
    registration has used (its old confirmatory seeds were run and seen under the old design) and the seeds
    its claims now need, under the seed cap the whole run was fitted to. Each claim with a part on one of them
    is re-planned (`replanned`). What was replaced stays in the amendment (`superseded`), so the file shows what
    was registered first and why it changed. Claims without power-planned parts keep their entries: the fresh
    seed block is what confirms them again."""
    missing = [t for t in tasks if t not in new["tasks"] or t not in registration["tasks"]]
    if missing:
        raise ValueError(f"cannot redesign {', '.join(missing)}: a redesign needs a task that is registered and "
                         f"in the pilot; registered: {', '.join(sorted(registration['tasks']))}")
    cap, start = registration.get("budget_seed_cap"), unused_seed_block(registration)
    task_entries = {t: {**new["tasks"][t], "first_seed": start,
                        "seeds": min(new["tasks"][t]["seeds_needed"], cap) if cap else new["tasks"][t]["seeds"]}
                    for t in tasks}
    all_tasks = {**registration["tasks"], **task_entries}
    seeds = {t: e["seeds"] for t, e in all_tasks.items()}
    planned, by_id = {c["id"]: c for c in new["claims"]}, {c.id: c for c in claims}
    replaced, entries = [], []
    for old in registration["claims"]:
        fresh = planned.get(old["id"])
        if fresh is None or not _reads(old, tasks) | _reads(fresh, tasks):
            entries.append(old)
            continue
        entries.append(replanned(old, fresh, by_id[old["id"]], tasks, seeds, when, registration))
        replaced.append(old)
    amendment = {"registered": when, "pilot": new["pilot"], "redesign": True, "tasks": sorted(tasks),
                 "claims": [c["id"] for c in replaced],
                 "superseded": {"tasks": {t: registration["tasks"][t] for t in tasks}, "claims": replaced}}
    minutes = round(sum(e["seeds"] * e.get("minutes_per_seed", 0.0) for e in all_tasks.values()), 1)
    return {**registration, "claims": entries, "tasks": all_tasks, "estimated_minutes": minutes,
            "amendments": registration.get("amendments", []) + [amendment]}


def unused_seed_block(registration: dict[str, Any]) -> int:
    """The first seed of a block of 1000 past every block any registration of this file has used."""
    superseded = [entry for change in registration.get("amendments", [])
                  for entry in change.get("superseded", {}).get("tasks", {}).values()]
    return max(e["first_seed"] for e in [*registration["tasks"].values(), *superseded]) + 1000


def replanned(old: dict[str, Any], fresh: dict[str, Any], claim: Claim, tasks: list[str], seeds: dict[str, int],
              when: str, registration: dict[str, Any]) -> dict[str, Any]:
    """A claim's entry after a redesign of `tasks`: its parts on them from the new pilot (`fresh`), its other
    parts as registered (`old`), each part's power against the seeds now registered; the rule hash recomputed
    over the merged parts; its registration time kept, and each redesigned task's time (`redesigned`) added —
    the one its records on that task must start after."""
    parts = [p for p in fresh["parts"] if set(p["tasks"]) <= set(tasks)]
    parts += [p for p in old["parts"] if not set(p["tasks"]) & set(tasks)]
    for p in parts:
        p["within_budget"] = p["feasible"] and all(seeds.get(t, 0) >= p["seeds_needed"] for t in p["tasks"])
    entry = {**fresh, "parts": parts, "registered": old.get("registered") or registration["registered"],
             "redesigned": {**old.get("redesigned", {}), **{t: when for t in tasks}},
             "rule_hash": rule_hash(claim, [p["rule"] for p in parts])}
    before = [t for t in old.get("tasks_registered_before", []) if t not in tasks]
    if before:
        entry["tasks_registered_before"] = before
    return entry


def _reads(entry: dict[str, Any], tasks: list[str]) -> set[str]:
    """The tasks among `tasks` that a registered claim's parts read."""
    return {t for p in entry["parts"] for t in p["tasks"] if t in tasks}
