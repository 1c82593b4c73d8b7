"""The report as Markdown: REPORT.md (claims and checks first, on one screen), one page per section, and the
provenance read from the records themselves, so that a report rebuilt on another machine from the same
records differs from the original only in its "rendered" line."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from suite.judge.claims import CALIBRATION, SANITY, Check, Claim
from suite.judge.preregistration import CONFIRMATORY, registered_part, rule_hash
from suite.judge.tables import to_markdown
from suite.judge.task_report import TaskReport
from suite.judge.verdicts import MARKS, distance_to_flip

CHECK_MARKS = {True: "✅ holds", False: "❌ fails", None: "– not run"}
RENDERED = "- rendered: "  # the one line a rebuild from the same records may change


@dataclass
class Section:
    report: TaskReport
    tables: dict[str, pd.DataFrame]
    plots: list[Path]
    claims: list[Claim] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # claim id -> pre-registration status
    notes: list[str] = field(default_factory=list)  # paragraphs under the title (TaskReport.notes)

    @property
    def page(self) -> str:
        return f"report/{self.report.name}.md"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_text(claim: Claim, status: str) -> str:
    text = MARKS.get(claim.verdict, claim.verdict) + (f": {claim.why}" if claim.why else "")
    return text if status == CONFIRMATORY else f"{text} — {status}"


def claims_overview(sections: list[Section]) -> str:
    rows = [(c, s) for s in sections for c in s.claims]
    if not rows:
        return "_No claim could be judged: the sweep ran none of the tasks that test claims._"
    lines = ["| claim | verdict | effect | source | detail |", "|---|---|---|---|---|"]
    for c, s in rows:
        lines.append(f"| {_cell(c.statement)} | {_cell(verdict_text(c, s.statuses.get(c.id, '')))} "
                     f"| {_cell(c.effect or '–')} | {_cell(c.source)} "
                     f"| [{s.report.name}]({s.page}#{c.id.replace('.', '')}) |")
    return "\n".join(lines)


CHECK_KINDS = (  # (kind, heading, what it is): sanity checks apart from calibration targets
    (SANITY, "Sanity checks", "consequences of a definition, an inequality or a construction: they catch bugs, "
                              "they are not findings"),
    (CALIBRATION, "Calibration targets", "difficulties the designs were tuned to reach: they catch a mis-sized "
                                         "design, they are not findings"),
)


def checks_overview(sections: list[Section], kind: str = SANITY) -> str:
    rows = [(c, s) for s in sections for c in s.checks if c.kind == kind]
    if not rows:
        return f"_No {kind} check ran in this sweep._"
    lines = ["| check | result | evidence | detail |", "|---|---|---|---|"]
    lines += [f"| {_cell(c.statement)} | {CHECK_MARKS[c.passed]} | {_cell(c.evidence)} | [{s.report.name}]({s.page}) |"
              for c, s in rows]
    return "\n".join(lines)


def checks_block(checks: list[Check]) -> list[str]:
    """A page's checks, one table per kind."""
    lines = []
    for kind, heading, what in CHECK_KINDS:
        mine = [c for c in checks if c.kind == kind]
        if mine:
            lines += [f"## {heading}", "", what[0].upper() + what[1:] + ".", "",
                      "| check | result | evidence | rule |", "|---|---|---|---|"]
            lines += [f"| {_cell(c.statement)} | {CHECK_MARKS[c.passed]} | {_cell(c.evidence)} | {_cell(c.rule)} |"
                      for c in mine]
            lines.append("")
    return lines


def parts_table(claim: Claim, registration: dict[str, Any] | None) -> list[str]:
    if not claim.parts:
        return []
    lines = ["| part | effect [95 % CI] | p | units | seeds needed here | registered plan | distance to flip | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for p in claim.parts:
        plan = registered_part(claim, p, registration)
        planned = "–" if plan is None else (str(plan["seeds_needed"]) if plan["feasible"] else f"> {registration['cap']}")
        units = str(len(p.values)) + (f" vs {len(p.reference)}" if p.reference else "") + f" {p.rule.unit}s"
        needed = "–" if p.seeds_needed is None else str(p.seeds_needed)
        p_text = "–" if p.p_value != p.p_value else f"{p.p_value:.2g}"
        lines.append(f"| {_cell(p.name)} | {p.effect.format()} | {p_text} | {units} | {needed} | {planned} "
                     f"| {_cell(distance_to_flip(p))} | {MARKS.get(p.verdict, p.verdict)} |")
    return ["", *lines]


def render_page(section: Section, out_dir: Path, registration: dict[str, Any] | None) -> str:
    """One section's page: each claim in full (rule and its hash, parts, evidence), checks, tables, plots."""
    rep = section.report
    lines = [f"# {rep.title or rep.name}", "", "[← back to the report](../REPORT.md)", ""]
    for note in section.notes:
        lines += [note, ""]
    for c in section.claims:
        status = section.statuses.get(c.id, "")
        lines += [f"## {c.id}", "", f"**Claim.** {c.statement} ({c.source})", "",
                  f"**Rule** (hash `{rule_hash(c)}`; {status}). {c.rule}", "",
                  f"**Verdict.** {verdict_text(c, status)}", "", f"**Effect.** {c.effect or '–'}",
                  *parts_table(c, registration), "", f"**Evidence.** {c.evidence}", ""]
    lines += checks_block(section.checks)
    for table_name, table in section.tables.items():
        lines += [f"## {table_name.replace('_', ' ')}", "", f"`tables/{table_name}.csv`", "", to_markdown(table), ""]
    for plot in section.plots:
        lines += [f"![{Path(plot).stem}](../{Path(plot).relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


def seeds_by_task(records: list[dict]) -> str:
    """The most common seed list, then each other list with its tasks: '0, 1, 2 (agreement: 0, 1, 2, 3)'."""
    per_task: dict[str, set[int]] = {}
    for r in records:
        per_task.setdefault(r["config"]["task"], set()).add(r["config"]["seed"])
    lists = {task: _seed_list(sorted(s)) for task, s in per_task.items()}
    common = Counter(lists.values()).most_common(1)[0][0] if lists else ""
    others: dict[str, list[str]] = {}
    for task, seeds in sorted(lists.items()):
        if seeds != common:
            others.setdefault(seeds, []).append(task)
    return common + "".join(f" ({', '.join(tasks)}: {seeds})" for seeds, tasks in others.items())


def _seed_list(seeds: list[int]) -> str:
    """'0, 1, 2' or, for a block of five or more consecutive seeds, '2000…2011'."""
    if len(seeds) >= 5 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}…{seeds[-1]}"
    return ", ".join(map(str, seeds))


def provenance_facts(records: list[dict]) -> dict[str, Any]:
    """What made the records, read from the records: versions, commits, code versions per task, machines."""
    def distinct(values):
        return sorted({v for v in values if v}, key=str)

    return {"runs": len(records), "statuses": dict(sorted(Counter(r.get("status") for r in records).items())),
            "versions": distinct(", ".join(f"{k} {v}" for k, v in sorted(r.get("versions", {}).items())
                                           if k != "commit") for r in records),
            "commits": distinct(r.get("versions", {}).get("commit") for r in records),
            "code_versions": {task: distinct(r["config"].get("identity", {}).get("code") for r in records
                                             if r["config"]["task"] == task)
                              for task in sorted({r["config"]["task"] for r in records})},
            "machines": distinct(_machine_text(r.get("machine")) for r in records),
            "devices": distinct(r["config"].get("device", "cpu") for r in records),
            "threads": distinct(r.get("threads") for r in records),
            "run_wall_minutes": round(sum(r.get("wall_seconds") or 0 for r in records) / 60, 1)}


def _machine_text(machine: dict | None) -> str:
    if not machine:
        return "not recorded"
    return f"{machine.get('platform')}, {machine.get('processor')}, {machine.get('cores')} cores"


def provenance(records: list[dict], command: str, preset: str) -> str:
    facts = provenance_facts(records)
    code = "; ".join(f"{task} {', '.join(v)}" for task, v in facts["code_versions"].items())
    lines = [
        f"- command: `{command}`",
        f"- preset: `{preset}`; seeds: {seeds_by_task(records)}",
        f"- runs: {facts['runs']} ({', '.join(f'{n} {s}' for s, n in facts['statuses'].items())})",
        f"- compute: {facts['run_wall_minutes']:.1f} min of run wall time in total, device "
        f"{', '.join(facts['devices'])}, torch threads per run {', '.join(map(str, facts['threads']))}",
        "- versions: " + "; ".join(facts["versions"]),
        "- commit that made the records: " + (", ".join(facts["commits"]) or "not recorded"),
        "- code version per task (suite/run/code_version.py): " + code,
        "- machine that ran the records: " + "; ".join(facts["machines"]),
    ]
    lines += [f"- failed: {r['config']['task']} {r.get('label')} seed {r['config']['seed']}: {r.get('error')}"
              for r in records if r.get("status") == "failed"]
    return "\n".join([*lines, RENDERED + time.strftime("%Y-%m-%d %H:%M %Z")])


def render_report(summary: pd.DataFrame, sections: list[Section], records: list[dict], command: str,
                  preset: str, family_policy: str) -> str:
    counts = Counter(c.verdict for s in sections for c in s.claims)
    tally = ", ".join(f"{counts[v]} {v}" for v in ("reproduced", "not reproduced", "inconclusive") if counts[v])
    pages = [f"- [{s.report.title or s.report.name}]({s.page})" for s in sections]
    return "\n".join([
        "# recency-bench report", "",
        f"Regenerate with `{command}`; rebuild tables, plots and this report from the cached runs "
        f"(no training) with `{command.replace('run_suite.py', 'run_suite.py report', 1)}`.", "",
        "## Claims", "",
        f"What the literature asserts and this sweep could contradict ({tally or 'none judged'}); each verdict "
        "follows the rule on its section's page, whose hash is compared with the pre-registered one "
        "(`preregistration/confirm.json`). Machine-readable: `claims.json`.", "", claims_overview(sections), "",
        f"**Family of claims.** {family_policy}", "",
        "## Sanity checks", "", checks_overview(sections, SANITY), "",
        "## Calibration targets", "", checks_overview(sections, CALIBRATION), "",
        "## Sections", "", *pages, "",
        "## Summary", "", "Headline metric of each task per model: mean [95 % CI over seeds; for proportions, a "
        "binomial interval pooled over seeds].", "",
        to_markdown(summary) if not summary.empty else "_No task in this sweep has headline metrics._", "",
        "## Provenance", "", provenance(records, command, preset), "",
    ])
