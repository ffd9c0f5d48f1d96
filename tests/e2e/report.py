"""The e2e report: one record per scenario, written as JSON and Markdown after each run.

Times are seconds from the fault (the start of the injection):
- detect: the first notification of a scenario alert at any receiver (human or remediator);
- remediate: each executed job, from its start to its end (the remediator's own clock);
- streaming: the broken standby streams again (the primary's pg_stat_replication);
- healthy: the lab is healthy again (lab status: roles, replication, VIP, no failures);
- recover: healthy again and every alert resolved, whichever comes last;
- diagnosed: the target's expected cause first seen (cfha_pg_standby_cause through Prometheus,
  which scrapes every second in the lab), from the end of the injection (the fault is complete
  then; the injection of wal-removed takes seconds); the decision: what the remediators did.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.pglayout import LabPostgres
from tests.e2e import checks
from tests.e2e.matrix import BASELINE, REQUEST, Scenario
from tests.e2e.observe import Timeline

STANDBY_GOAL_SECONDS = 60.0


@dataclass
class ScenarioRecord:
    name: str
    target: str = ""
    primary_before: str = ""
    primary_after: str = ""
    marker: str = ""
    fault_at: float = 0.0
    inject_seconds: float | None = None
    first_notification: str = ""
    detect_seconds: float | None = None
    remediate_seconds: float | None = None
    streaming_seconds: float | None = None
    healthy_seconds: float | None = None
    resolved_at: float | None = None
    resolved_seconds: float | None = None
    recover_seconds: float | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_direct: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    forbidden: list[str] = field(default_factory=list)
    postgres_programs: list[str] = field(default_factory=list)  # run by executed steps
    standby_goal_met: bool | None = None
    cause: str = ""
    """The cause the matrix expects; `causes`: what the target was diagnosed with, in order."""
    causes: list[str] = field(default_factory=list)
    diagnosed_seconds: float | None = None
    decision: str = ""
    stopped_running_standbys: int = 0
    """Executed holds (the step that stops a standby) in a scenario whose cause no re-sync cures."""
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _since(at: float | None, fault_at: float) -> float | None:
    return None if at is None else round(at - fault_at, 1)


def _job_entry(job: Mapping[str, Any], direct: bool) -> dict[str, Any]:
    started, finished = job.get("started_at"), job.get("finished_at")
    seconds = round(finished - started, 1) if started and finished else None
    return {
        "hub": job.get("hub"),
        "action": job.get("action"),
        "target": job.get("target"),
        "alert": job.get("alertname"),
        "state": job.get("state"),
        "refused_by": job.get("refused_by"),
        "direct_request": direct,
        "seconds": seconds,
        "steps": [
            f"{s['name']} {s.get('outcome')} {s.get('duration') or 0:.1f}s"
            for s in checks.executed_steps(job)
        ],
    }


def summarise(
    r: ScenarioRecord,
    *,
    scenario: Scenario,
    roles: Mapping[str, str],
    t: Timeline,
    got: Mapping[checks.Delivery, float],
    jobs: Iterable[Mapping[str, Any]],
    direct_ids: set[str],
) -> None:
    """Fill the record's timings, actions and alerts from what was observed."""
    fault = r.fault_at
    jobs = list(jobs)
    r.postgres_programs = checks.postgres_programs(jobs)
    firsts = sorted((at, d) for d, at in got.items() if d[4] == "firing" and d[1:4] not in BASELINE)
    if firsts:
        at, first = firsts[0]
        r.detect_seconds = _since(at, fault)
        r.first_notification = f"{checks.describe(first[1:4])} -> {first[0]}"
    for job in sorted(jobs, key=lambda j: j.get("created_at") or 0):
        entry = _job_entry(job, job["id"] in direct_ids)
        (r.actions if checks.executed_steps(job) else r.refused).append(entry)
    executed = [a["seconds"] for a in r.actions if a["seconds"] is not None]
    r.remediate_seconds = max(executed) if executed else None
    if scenario.standby_goal:  # elsewhere the standby stops streaming only for a repair by hand
        r.streaming_seconds = _since(t.streaming_again(roles["T"], fault), fault)
    r.healthy_seconds = _since(t.healthy_again(fault), fault)
    r.resolved_seconds = _since(r.resolved_at, fault)
    if r.healthy_seconds is not None and r.resolved_seconds is not None:
        r.recover_seconds = max(r.healthy_seconds, r.resolved_seconds)
    if scenario.standby_goal:
        r.standby_goal_met = (
            r.streaming_seconds is not None and r.streaming_seconds <= STANDBY_GOAL_SECONDS
        )
    _diagnosis(r, scenario, roles, t)
    keys = sorted({d[1:4] for d in got} | set(t.firing) | set(t.in_alertmanager))
    for key in keys:
        if key in BASELINE:
            continue
        fired = t.firing.get(key)
        r.alerts.append(
            {
                "alert": key[0],
                "node": key[1],
                "request": key[2] == REQUEST,
                "fired": _since(fired.first if fired else None, fault),
                "muted": key in t.suppressed,
                "delivered": {
                    d[0]: _since(at, fault)
                    for d, at in sorted(got.items(), key=lambda kv: kv[1])
                    if d[1:4] == key and d[4] == "firing"
                },
                "resolved": {
                    d[0]: _since(at, fault)
                    for d, at in got.items()
                    if d[1:4] == key and d[4] == "resolved"
                },
            }
        )


def _diagnosis(
    r: ScenarioRecord, scenario: Scenario, roles: Mapping[str, str], t: Timeline
) -> None:
    """The target's diagnosis against the matrix; the remediators' decision."""
    target = roles["T"]
    complete = r.fault_at + (r.inject_seconds or 0.0)
    r.cause, r.causes = scenario.cause, t.causes_of(target, r.fault_at)
    if scenario.cause:
        r.diagnosed_seconds = _since(t.diagnosed(target, scenario.cause, complete), complete)
        if r.diagnosed_seconds is None:
            r.problems.append(f"{target} never diagnosed {scenario.cause} (saw {r.causes})")
    done = [f"{a['action']} {a['state']}" for a in r.actions]
    refused = [f"{a['action']} refused by {a['refused_by']}" for a in r.refused]
    r.decision = "; ".join(done + refused) or "no job"
    holds = [a for a in r.actions if any(s.startswith("hold ") for s in a["steps"])]
    if scenario.cause and scenario.cause not in ("wal_removed", "timeline_diverged",
                                                 "data_missing_or_corrupt"):  # fmt: skip
        r.stopped_running_standbys = len(holds)
        r.problems += [f"a standby was stopped for {scenario.cause}: {h}" for h in holds]


# -- files -----------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _actions(r: ScenarioRecord) -> str:
    done = [f"{a['hub']} {a['action']} {a['target']} {a['state']}" for a in r.actions]
    return "; ".join(done) or "none"


def _refusals(r: ScenarioRecord) -> str:
    out = [
        f"{a['hub']} {a['action']} {a['target']}: {a['refused_by']}"
        + (" (sent past the gate)" if a["direct_request"] else "")
        for a in r.refused
    ]
    return "; ".join(out) or "none"


def markdown(records: list[ScenarioRecord], meta: Mapping[str, Any]) -> str:
    lines = [
        "# cfha end-to-end report",
        "",
        f"Run {meta['started']} on {meta['machine']}; {meta['runtime_seconds']:.0f} s in all.",
        f"The lab's hubs ran {meta['postgres']}.",
        "Seconds from the fault. detect: first notification at any receiver; remediate: the "
        "executed job, start to end; streaming: the target streams again; recover: healthy "
        "and every alert resolved.",
        "",
        "| scenario | target | detect | remediate | streaming | healthy | recover | rows kept "
        "| forbidden | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        rows = ", ".join(f"{n} {c}" for n, c in sorted(r.rows.items())) or "-"
        lines.append(
            f"| {r.name} | {r.target} | {_fmt(r.detect_seconds)} | {_fmt(r.remediate_seconds)} "
            f"| {_fmt(r.streaming_seconds)} | {_fmt(r.healthy_seconds)} "
            f"| {_fmt(r.recover_seconds)} | {rows} | {len(r.forbidden)} "
            f"| {'pass' if r.passed else 'FAIL'} |"
        )
    diagnosed = [r for r in records if r.cause]
    if diagnosed:
        lines += [
            "",
            "## Diagnosis (docs/diagnosis.md)",
            "",
            "diagnosed: seconds from the end of the injection to the expected cause in "
            "Prometheus (1 s scrapes); stopped: running standbys stopped for a cause a re-sync "
            "cannot cure (goal: 0).",
            "",
            "| scenario | expected cause | diagnosed as | diagnosed | decision | stopped "
            "| result |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in diagnosed:
            lines.append(
                f"| {r.name} | {r.cause} | {', '.join(r.causes) or '-'} "
                f"| {_fmt(r.diagnosed_seconds)} | {r.decision} | {r.stopped_running_standbys} "
                f"| {'pass' if r.passed else 'FAIL'} |"
            )
    lines += ["", "## Actions and refusals", ""]
    for r in records:
        lines.append(f"- **{r.name}**: first notification {r.first_notification or '-'}.")
        lines.append(f"  Actions: {_actions(r)}. Refused: {_refusals(r)}.")
        if r.postgres_programs:
            lines.append(f"  PostgreSQL programs run: {', '.join(r.postgres_programs)}.")
        for problem in r.problems:
            lines.append(f"  - problem: {problem}")
    lines += ["", "## Alerts (seconds from the fault)", ""]
    for r in records:
        for a in r.alerts:
            delivered = ", ".join(f"{k} {v}" for k, v in a["delivered"].items()) or "none"
            state = "muted" if a["muted"] else "fired"
            what = " ".join(p for p in (a["alert"], a["node"], "(request)" * a["request"]) if p)
            lines.append(f"- {r.name}: {what} {state} {_fmt(a['fired'])}; delivered: {delivered}")
    return "\n".join(lines) + "\n"


def write(
    records: list[ScenarioRecord], directory: Path, started: float, pg: LabPostgres
) -> tuple[Path, Path]:
    """artifacts/e2e-report-pg<major>.json and .md (one pair per PostgreSQL major the lab ran, so
    `make test` keeps both); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "postgres": f"PostgreSQL {pg.version or pg.major} ({pg.layout}'s layout, {pg.bin_dir})",
        "postgres_major": pg.major,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "machine": f"{platform.node()} ({platform.system()} {platform.release()}, "
        f"{platform.machine()})",
        "runtime_seconds": time.time() - started,
        "standby_goal_seconds": STANDBY_GOAL_SECONDS,
    }
    data = {"meta": meta, "scenarios": [asdict(r) | {"passed": r.passed} for r in records]}
    stem = directory / f"e2e-report-pg{pg.major}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(data, indent=1) + "\n")
    md_path.write_text(markdown(records, meta))
    return json_path, md_path
