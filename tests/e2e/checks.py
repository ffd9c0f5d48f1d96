"""The verdicts of one scenario, as pure functions over what was observed.

Each returns a list of problems (empty = as designed). Inputs are plain data: the scenario's
row of the matrix, the roles (`{"T": node, "O": node}`), the alert keys seen, the deliveries,
and the remediators' jobs with their steps (`GET /api/jobs/<id>`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.e2e.matrix import (
    ANY_SCENARIO,
    BASELINE,
    HEARTBEAT,
    REQUEST,
    AlertSpec,
    JobSpec,
    Key,
    Scenario,
)

Delivery = tuple[str, str, str, str, str]  # (receiver, alertname, node, route, status)
Roles = Mapping[str, str]
_NODE_ARG = re.compile(r"^node=(?P<node>.+)$")


def named_nodes(argv: list[str]) -> set[str]:
    """The nodes a command is told to act on: `--node X` (crm_resource) or `node=X` (pcs)."""
    named = {m.group("node") for a in argv if (m := _NODE_ARG.match(a))}
    named.update(after for before, after in itertools.pairwise(argv) if before == "--node")
    return named


def resolve(about: str, roles: Roles) -> str:
    return roles[about] if about else ""


def spec_key(spec: AlertSpec, roles: Roles) -> Key:
    return (spec.alertname, resolve(spec.about, roles), spec.route)


def describe(key: Key) -> str:
    name, node, route = key
    return " ".join(p for p in (name, node, "(request)" if route == REQUEST else "") if p)


def allowed_keys(scenario: Scenario, roles: Roles) -> set[Key]:
    specs = scenario.alerts + scenario.tolerated
    return {spec_key(s, roles) for s in specs} | BASELINE | ANY_SCENARIO


def unexpected_alerts(seen: Iterable[Key], scenario: Scenario, roles: Roles) -> list[str]:
    """Alerts that fired in Prometheus or reached Alertmanager and the matrix does not allow."""
    extra = set(seen) - allowed_keys(scenario, roles)
    return [f"unexpected alert {describe(key)}" for key in sorted(extra)]


def missing_alerts(
    in_alertmanager: Iterable[Key], suppressed: Iterable[Key], scenario: Scenario, roles: Roles
) -> list[str]:
    """Expected alerts that never reached Alertmanager, or were not muted there as designed."""
    reached, muted = set(in_alertmanager), set(suppressed)
    problems = []
    for spec in scenario.alerts:
        key = spec_key(spec, roles)
        if key not in reached:
            problems.append(f"{describe(key)} never reached Alertmanager")
        elif spec.muted and key not in muted:
            problems.append(f"{describe(key)} was not muted in Alertmanager")
    return problems


def missing_deliveries(
    got: Mapping[Delivery, float], scenario: Scenario, roles: Roles
) -> list[Delivery]:
    """(receiver, alert, node, route, "firing") that each expected alert owes and did not
    deliver."""
    wanted = {
        (receiver, *spec_key(spec, roles), "firing")
        for spec in scenario.alerts
        for receiver in spec.receivers
    }
    return sorted(wanted - set(got))


def delivery_problems(
    got: Mapping[Delivery, float], scenario: Scenario, roles: Roles, fault_end: float
) -> list[str]:
    """Firing deliveries the matrix does not allow, and muted alerts delivered before the fault
    ended. (A resolution only tells a receiver that something ended: an alert of the previous
    scenario may resolve again when its group flushes.)"""
    allowed: dict[Key, set[str]] = {}
    for spec in scenario.alerts + scenario.tolerated:
        allowed.setdefault(spec_key(spec, roles), set()).update(spec.receivers)
    muted = {spec_key(s, roles) for s in scenario.alerts if s.muted}
    problems = []
    for (receiver, name, node, route, status), at in sorted(got.items(), key=lambda kv: kv[1]):
        key = (name, node, route)
        if key in BASELINE or status != "firing":
            continue
        if receiver not in allowed.get(key, set()):
            problems.append(f"{describe(key)} delivered to {receiver}, not allowed")
        elif key in muted and at < fault_end:
            problems.append(f"{describe(key)} reached {receiver} while it was to be muted")
    return problems


def unresolved(got: Mapping[Delivery, float]) -> list[Delivery]:
    """Firing deliveries without a later resolution (the heartbeat never resolves)."""
    return sorted(
        d
        for d in got
        if d[4] == "firing"
        and d[0] != HEARTBEAT
        and d[1:4] not in BASELINE
        and (*d[:4], "resolved") not in got
    )


# -- remediator jobs -------------------------------------------------------------------------


def job_matches(spec: JobSpec, job: Mapping[str, Any], roles: Roles) -> bool:
    hub_ok = spec.hub == "any" or job.get("hub") == roles[spec.hub]
    state = job.get("state")
    cancelled_ok = spec.may_be_cancelled and state == "cancelled"
    refused_ok = state != "refused" or job.get("refused_by") in spec.refused_by
    return (
        hub_ok
        and (state == spec.state or cancelled_ok)
        and refused_ok
        and job.get("action") == spec.action
        and job.get("target") == spec.target.format(**roles)
    )


def job_label(job: Mapping[str, Any]) -> str:
    reason = f" ({job.get('refused_by')})" if job.get("refused_by") else ""
    return f"{job.get('hub')}: {job.get('action')} {job.get('target')} {job.get('state')}{reason}"


def job_problems(jobs: Iterable[Mapping[str, Any]], scenario: Scenario, roles: Roles) -> list[str]:
    """Every job must be one the matrix names; every required one must exist."""
    jobs = list(jobs)
    specs = scenario.jobs + scenario.tolerated_jobs
    problems = [
        f"job not in the design: {job_label(j)}"
        for j in jobs
        if not any(job_matches(s, j, roles) for s in specs)
    ]
    for spec in scenario.jobs:
        if spec.required and not any(job_matches(spec, j, roles) for j in jobs):
            target = spec.target.format(**roles)
            problems.append(f"missing job: {spec.action} {target} {spec.state}")
    return problems


def executed_steps(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in job.get("steps") or [] if s.get("started_at") is not None]


# PostgreSQL's own programs, as the remediator runs them: by path, behind setpriv and env (a bare
# word such as `-U postgres` is a user, not a program).
POSTGRES_PROGRAMS = frozenset(
    ("postgres", "pg_ctl", "initdb", "psql", "pg_controldata", "pg_rewind", "pg_basebackup")
)


def postgres_programs(jobs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every PostgreSQL program (its path) that an executed step of `jobs` ran, sorted."""
    return sorted(
        {
            str(arg)
            for job in jobs
            for step in executed_steps(job)
            for arg in step.get("argv") or []
            if "/" in str(arg) and str(arg).rsplit("/", 1)[-1] in POSTGRES_PROGRAMS
        }
    )


def foreign_postgres_programs(programs: Iterable[str], bin_dir: Path) -> list[str]:
    """A program run from elsewhere than the lab's PostgreSQL (another major, or the host's
    Debian programs on a lab laid out as CFEngine does) is a problem."""
    return [
        f"ran {program}, not the lab's PostgreSQL ({bin_dir})"
        for program in programs
        if Path(program).parent != bin_dir
    ]


def forbidden_actions(
    jobs: Iterable[Mapping[str, Any]],
    *,
    primary: str,
    gated_until: float | None,
    destructive_allowed: bool,
) -> list[str]:
    """Actions the design says must not happen, read from every executed step's argv.

    - nothing destructive runs on the primary's hub for a re-sync (its data), and no step
      names the primary as the node to act on (`--node <primary>`, or pcs' `node=<primary>`);
    - a re-sync never targets the primary;
    - while a gate holds (`gated_until`: maintenance, two primaries, a node gone), nothing
      executes at all; with `destructive_allowed` false, no destructive step ever runs.
    """
    problems = []
    for job in jobs:
        label = job_label(job)
        steps = executed_steps(job)
        if steps and job.get("action") == "resync_standby" and job.get("target") == primary:
            problems.append(f"{label}: a re-sync of the primary")
        for step in steps:
            argv = [str(a) for a in step.get("argv") or []]
            what = f"{label}: step {step.get('name')} {' '.join(argv)}"
            if gated_until is not None and float(step["started_at"]) < gated_until:
                problems.append(f"{what}: executed while the gate was closed")
            if step.get("destructive") and not destructive_allowed:
                problems.append(f"{what}: destructive")
            if (
                step.get("destructive")
                and job.get("action") == "resync_standby"
                and step.get("runs_on") == primary
            ):
                problems.append(f"{what}: runs on the primary's hub")
            if primary in named_nodes(argv):
                problems.append(f"{what}: acts on the primary")
    return problems
