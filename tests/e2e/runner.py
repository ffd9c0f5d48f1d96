"""One scenario of the matrix, end to end, on the product stack: inject, watch, check, record.

    record = run_scenario(stack, SCENARIOS["stop-standby"])
    assert not record.problems

Steps: healthy lab and quiet alerting; fresh remediator journals; marker rows on the primary;
inject; the expected alerts reach Alertmanager and their receivers; for a gated scenario, a
request sent past the gate is refused; the remediator heals (or the fault is ended by hand);
every alert resolves; then the checks (`tests.e2e.checks`) and the record (`tests.e2e.report`).
Every wait has a deadline; a missed one is a problem of the record, and the lab is restored
before the next scenario either way.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from lab.cluster import Lab
from lab.errors import LabError
from lab.polling import poll
from lab.product.stack import ProductStack, StackError
from lab.product.stackconfig import REMEDIATOR_RECEIVER
from tests.e2e import checks
from tests.e2e.matrix import ANY_SCENARIO, BASELINE, REQUEST, Scenario
from tests.e2e.observe import Sampler, Timeline, alert_key, deliveries
from tests.e2e.report import ScenarioRecord, summarise

MARKER_ROWS = 50
QUIET_TIMEOUT = 150.0  # the previous scenario's alerts resolve (keep_firing_for 19 s)
ARRIVE_TIMEOUT = 150.0  # from the fault: the longest `for` in the matrix is 75 s
HEAL_TIMEOUT = 150.0
RESOLVE_TIMEOUT = 150.0
JOB_TIMEOUT = 120.0


class ScenarioFailed(Exception):
    """A wait of the scenario ran out; the message says which."""


def mark_rows(lab: Lab, primary: str) -> str:
    note = f"e2e-before-fault-{uuid.uuid4().hex[:8]}"
    lab.psql(
        primary,
        "INSERT INTO lab_writes (node, note) SELECT %s, %s FROM generate_series(1, %s)",
        (primary, note, MARKER_ROWS),
    )
    return note


def rows_on(lab: Lab, node: str, note: str) -> int:
    try:
        rows = lab.psql(node, "SELECT count(*) FROM lab_writes WHERE note = %s", (note,))
    except (psycopg.Error, LabError):  # an unreachable database has no rows to show
        return -1
    return int(rows[0][0])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return poll(
        check,
        timeout=timeout,
        what=what,
        interval=0.5,
        retry_on=(OSError, ValueError, StackError),
        error=ScenarioFailed,
    )


def quiet(stack: ProductStack) -> bool:
    """Nothing but the baseline fires or is pending, Alertmanager holds nothing else. (Right
    after the stack starts, the baseline itself may still be pending: it is allowed in every
    scenario.)"""
    keys = {alert_key(a["labels"]) for a in stack.prometheus.alerts()}
    am = {alert_key(a["labels"]) for a in stack.alertmanager.alerts()}
    return keys - ANY_SCENARIO <= BASELINE and am - ANY_SCENARIO <= BASELINE


def prepare(stack: ProductStack, name: str) -> None:
    """A healthy lab, quiet alerting, and remediators with fresh journals."""
    lab = stack.lab
    if not lab.status().healthy:
        lab.restore_healthy()
    if stack.lost_hubs():  # a restore that had to rebuild the lab took cfha's processes with it
        stack.bring_back_hubs()
    wait_for(lambda: quiet(stack), QUIET_TIMEOUT, "only the baseline alerts")
    stack.restart_remediators(name)


class Run:
    """The state of one scenario run (roles, times, the sampler)."""

    def __init__(self, stack: ProductStack, scenario: Scenario, sampler: Sampler) -> None:
        self.stack = stack
        self.lab = stack.lab
        self.scenario = scenario
        self.sampler = sampler
        self.roles: dict[str, str] = {}
        self.record = ScenarioRecord(name=scenario.name)
        self.direct_jobs: list[dict[str, Any]] = []
        self.fault_at = 0.0
        self.fault_end = 0.0

    @property
    def timeline(self) -> Timeline:
        return self.sampler.snapshot()

    def got(self) -> dict[checks.Delivery, float]:
        return deliveries(self.stack, self.fault_at)

    def all_jobs(self) -> list[dict[str, Any]]:
        """Every job of both remediators (this scenario's journals), with steps."""
        out = []
        for hub in self.stack.hubs:
            client = self.stack.remediator(hub)
            out += [dict(client.job(j["id"]), hub=hub) for j in client.jobs()]
        return out

    # -- phases ----------------------------------------------------------------------------
    def inject(self) -> None:
        lab, s = self.lab, self.scenario
        primary = lab.primary()
        target = primary if s.target == "primary" else lab.other(primary)
        self.roles = {"T": target, "O": lab.other(target)}
        self.record.target, self.record.primary_before = target, primary
        self.record.marker = mark_rows(lab, primary)
        self.fault_at = self.record.fault_at = time.time()
        for name in s.inject:
            lab.inject(name, node=target if name != "maintenance" else None)
        self.record.inject_seconds = time.time() - self.fault_at

    def wait_alerts(self) -> None:
        s, roles = self.scenario, self.roles

        def arrived() -> bool:
            t = self.timeline
            return not checks.missing_alerts(
                t.in_alertmanager, t.suppressed, s, roles
            ) and not checks.missing_deliveries(self.got(), s, roles)

        remaining = ARRIVE_TIMEOUT - (time.time() - self.fault_at)
        try:
            wait_for(arrived, remaining, "the expected alerts in Alertmanager and at receivers")
        except ScenarioFailed as exc:
            t = self.timeline
            missing = checks.missing_alerts(t.in_alertmanager, t.suppressed, s, roles)
            undelivered = checks.missing_deliveries(self.got(), s, roles)
            raise ScenarioFailed(f"{exc}: {missing} not delivered: {undelivered}") from None

    def direct_request(self) -> None:
        """Send the gated request straight to the target's remediator, as Alertmanager would
        without its gate; the remediator must refuse it and run nothing."""
        s, target = self.scenario, self.roles["T"]
        am_alert = self.timeline.am_alerts[(s.direct_request, target, REQUEST)]
        client = self.stack.remediator(target)
        answer = client.post_webhook(webhook_payload(am_alert))
        [job_id] = answer["accepted"]

        def finished() -> dict[str, Any] | None:
            found = client.job(job_id)
            return found if found["state"] not in ("queued", "running") else None

        job = wait_for(finished, JOB_TIMEOUT, "the remediator's decision on the direct request")
        self.direct_jobs.append(dict(job, hub=target))
        failed = {c["name"] for c in job.get("checks") or [] if not c.get("ok")}
        if job["state"] != "refused" or job["refused_by"] not in s.refused_by:
            self.record.problems.append(f"direct request not refused as designed: {job['state']}")
        elif not s.failed_checks <= failed:
            self.record.problems.append(
                f"direct request: checks {sorted(s.failed_checks - failed)} passed"
            )
        self.record.refused_direct = f"{job['action']} {job['target']}: {job['refused_by']}"

    def end_fault_by_hand(self) -> None:
        self.fault_end = time.time()
        if self.scenario.end_by_hand == "maintenance-off":
            self.lab.run(
                self.lab.primary(),
                [
                    "crm_attribute",
                    "--type",
                    "crm_config",
                    "--name",
                    "maintenance-mode",
                    "--update",
                    "false",
                ],
                check=True,
            )
        else:
            self.lab.restore_healthy()

    def wait_healed(self) -> None:
        def healed() -> bool:
            t = self.timeline
            return t.healthy_again(self.fault_at) is not None and all(
                j["state"] not in ("queued", "running") for j in t.jobs.values()
            )

        wait_for(healed, HEAL_TIMEOUT, "the lab healthy again, every job finished")

    def wait_resolved(self) -> None:
        def resolved() -> bool:
            return quiet(self.stack) and not checks.unresolved(self.got())

        try:
            wait_for(resolved, RESOLVE_TIMEOUT, "every alert resolved")
        except ScenarioFailed as exc:
            raise ScenarioFailed(f"{exc}: unresolved {checks.unresolved(self.got())}") from None
        self.record.resolved_at = time.time()

    # -- verdicts ------------------------------------------------------------------------------
    def check(self) -> None:
        s, roles, t, got = self.scenario, self.roles, self.timeline, self.got()
        r = self.record
        jobs = self.all_jobs()
        direct_ids = {j["id"] for j in self.direct_jobs}
        seen = set(t.firing) | set(t.in_alertmanager)
        r.problems += checks.unexpected_alerts(seen, s, roles)
        r.problems += checks.missing_alerts(t.in_alertmanager, t.suppressed, s, roles)
        r.problems += [f"not delivered: {d}" for d in checks.missing_deliveries(got, s, roles)]
        r.problems += checks.delivery_problems(got, s, roles, self.fault_end or float("inf"))
        r.problems += checks.job_problems([j for j in jobs if j["id"] not in direct_ids], s, roles)
        primary = self.lab.primary()
        r.primary_after = primary
        forbidden = checks.forbidden_actions(
            jobs,
            primary=primary,
            gated_until=self.fault_end if s.gated else None,
            destructive_allowed=s.name != "stop-node",
        )
        r.forbidden = forbidden
        r.problems += forbidden
        r.problems += checks.foreign_postgres_programs(
            checks.postgres_programs(jobs), self.lab.postgres().bin_dir
        )
        wait_for(
            lambda: all(rows_on(self.lab, n, r.marker) >= 0 for n in self.lab.node_names),
            30,
            "both databases answering",
        )
        with contextlib.suppress(ScenarioFailed):  # a standby replays within a second or two
            wait_for(
                lambda: all(
                    rows_on(self.lab, n, r.marker) == MARKER_ROWS for n in self.lab.node_names
                ),
                20,
                "the marker rows on both hubs",
            )
        r.rows = {n: rows_on(self.lab, n, r.marker) for n in self.lab.node_names}
        r.problems += [
            f"{n} has {count} of the {MARKER_ROWS} rows written before the fault"
            for n, count in r.rows.items()
            if count != MARKER_ROWS
        ]
        summarise(r, scenario=s, roles=roles, t=t, got=got, jobs=jobs, direct_ids=direct_ids)


def webhook_payload(am_alert: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager's v4 webhook body for one alert as Alertmanager holds it."""
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": REMEDIATOR_RECEIVER,
        "groupLabels": {},
        "commonLabels": am_alert["labels"],
        "commonAnnotations": am_alert.get("annotations", {}),
        "externalURL": "http://127.0.0.1/",
        "alerts": [
            {
                "status": "firing",
                "labels": am_alert["labels"],
                "annotations": am_alert.get("annotations", {}),
                "startsAt": am_alert["startsAt"],
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": am_alert.get("generatorURL", ""),
                "fingerprint": am_alert["fingerprint"],
            }
        ],
    }


def run_scenario(stack: ProductStack, scenario: Scenario) -> ScenarioRecord:
    """The scenario, start to finish; its record carries every problem found (none = pass)."""
    prepare(stack, scenario.name)
    with Sampler(stack.lab, stack) as sampler:
        run = Run(stack, scenario, sampler)
        try:
            run.inject()
            run.wait_alerts()
            if scenario.direct_request:
                run.direct_request()
            if not scenario.heals or scenario.gated:
                run.end_fault_by_hand()
            run.wait_healed()
            run.wait_resolved()
        except (ScenarioFailed, LabError, StackError, KeyError, ValueError) as exc:
            run.record.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            try:
                run.check()
            finally:
                with contextlib.suppress(LabError):
                    if not stack.lab.status().healthy:
                        stack.lab.restore_healthy()
    return run.record
