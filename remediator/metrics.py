"""The remediator's own metrics, computed at scrape time from the journal (so counters survive
restarts) plus a little in-process state. Every series carries `cluster` from the config.

Alert rules rely on these exact names (see docs/remediator.md). Label sets over closed sets
(actions, results, preconditions) are published with zeros, so `increase()` and absence checks
behave from the first scrape. Unknown is not 0: `last_success_timestamp_seconds` is absent for
an action that never succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import Metric

from remediator import __version__, guard
from remediator.actions import ACTION_NAMES
from remediator.intake import INTAKE_REFUSALS
from remediator.journal import Journal, JournalError
from remediator.killswitch import KillSwitch
from servicekit.metrics import Kind, MetricSpec, MetricWriter

RESULTS = ("succeeded", "failed", "refused", "interrupted", "dry_run")
ALERT_DECISIONS = ("accepted", "duplicate", "ignored", "resolved", "cancelled", "invalid")
REFUSAL_REASONS = (*guard.PRECONDITIONS, *INTAKE_REFUSALS)
WEBHOOK_CODES = ("202", "400", "401", "405", "413", "415", "503")


N = ("node",)
JOBS = MetricSpec(
    "cfha_remediation_jobs_total",
    "Jobs finished, by action and result (succeeded, failed, refused, interrupted, dry_run).",
    kind=Kind.COUNTER,
    labels=("action", "result"),
)
REFUSALS = MetricSpec(
    "cfha_remediation_refusals_total",
    "Refused jobs, by the first precondition that failed.",
    kind=Kind.COUNTER,
    labels=("action", "precondition"),
)
CIRCUIT_OPEN = MetricSpec(
    "cfha_remediation_circuit_open",
    "1 while the circuit of (action, target) is open: no more attempts until a human resets.",
    labels=("action", "target"),
)
KILL_SWITCH = MetricSpec(
    "cfha_remediation_kill_switch_engaged",
    "1 while the kill switch file exists (every action paused).",
)
QUEUE_DEPTH = MetricSpec("cfha_remediation_queue_depth", "Jobs waiting for the worker.")
IN_PROGRESS = MetricSpec(
    "cfha_remediation_job_in_progress",
    "1 while a job of this action is executing on this hub.",
    labels=("action",),
)
LAST_SUCCESS = MetricSpec(
    "cfha_remediation_last_success_timestamp_seconds",
    "When a job of this action last succeeded (Unix time); absent if never.",
    labels=("action",),
)
WEBHOOK_REQUESTS = MetricSpec(
    "cfha_remediation_webhook_requests_total",
    "Webhook requests answered, by HTTP status code (since this process started).",
    kind=Kind.COUNTER,
    labels=("code",),
)
ALERTS = MetricSpec(
    "cfha_remediation_alerts_total",
    "Alerts received, by intake decision (accepted, duplicate, ignored, resolved, cancelled, "
    "invalid).",
    kind=Kind.COUNTER,
    labels=("decision",),
)
JOURNAL_OK = MetricSpec(
    "cfha_remediation_journal_ok",
    "1 when the journal could be read and written for this scrape; at 0 the webhook answers 503, "
    "no job runs, and the other journal-based series are missing.",
)
INFO = MetricSpec(
    "cfha_remediation_info",
    "Identity of this remediator: its node, version, and whether it runs in dry-run mode.",
    kind=Kind.INFO,
    labels=("node", "version", "dry_run"),
)
METRICS: tuple[MetricSpec, ...] = (
    JOBS, REFUSALS, CIRCUIT_OPEN, KILL_SWITCH, QUEUE_DEPTH, IN_PROGRESS, LAST_SUCCESS,
    WEBHOOK_REQUESTS, ALERTS, JOURNAL_OK, INFO,
)  # fmt: skip


def metric_sections() -> list[tuple[str, tuple[MetricSpec, ...]]]:
    """The remediator's metrics for the generated reference (docs/metrics.md)."""
    return [("cfha-remediator", METRICS)]


class RequestCounter:
    """HTTP answers of /webhook by status code (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(WEBHOOK_CODES, 0)

    def inc(self, code: int) -> None:
        with self._lock:
            self._counts[str(code)] = self._counts.get(str(code), 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class RemediatorCollector:
    def __init__(
        self,
        *,
        cluster: str,
        node: str,
        dry_run: bool,
        journal: Journal,
        kill_switch: KillSwitch,
        requests: RequestCounter,
        in_progress: dict[str, str],
    ) -> None:
        self._cluster = cluster
        self._node = node
        self._dry_run = dry_run
        self._journal = journal
        self._kill_switch = kill_switch
        self._requests = requests
        self._in_progress = in_progress

    def collect(self) -> Iterator[Metric]:
        out = MetricWriter()
        out.info(INFO, node=self._node, version=__version__, dry_run=str(self._dry_run).lower())
        for code, count in sorted(self._requests.snapshot().items()):
            out.counter(WEBHOOK_REQUESTS, count, code=code)
        out.gauge(KILL_SWITCH, float(self._kill_switch.engaged()))
        for action in ACTION_NAMES:
            out.gauge(IN_PROGRESS, float(action in self._in_progress), action=action)
        try:
            journal = MetricWriter()
            self._journal_metrics(journal)
            self._journal.check_writable()  # a read alone misses a full disk or a lock
        except JournalError:
            out.gauge(JOURNAL_OK, 0.0)
        else:
            out.merge(journal)
            out.gauge(JOURNAL_OK, 1.0)
        yield from out.families(self._cluster)

    def _journal_metrics(self, out: MetricWriter) -> None:
        j = self._journal
        rows = j.execute("SELECT action, state, COUNT(*) AS n FROM jobs GROUP BY action, state")
        counts = {(r["action"], r["state"]): r["n"] for r in rows}
        for action in ACTION_NAMES:
            for result in RESULTS:
                out.counter(JOBS, counts.get((action, result), 0), action=action, result=result)
        rows = j.execute(
            "SELECT action, refused_by, COUNT(*) AS n FROM jobs WHERE state = 'refused' "
            "GROUP BY action, refused_by"
        )
        refused = {(r["action"], r["refused_by"]): r["n"] for r in rows}
        for action in ACTION_NAMES:
            for precondition in REFUSAL_REASONS:
                count = refused.get((action, precondition), 0)
                out.counter(REFUSALS, count, action=action, precondition=precondition)
        for row in j.circuits():
            out.gauge(CIRCUIT_OPEN, float(row["open"]), action=row["action"], target=row["target"])
        queued = j.execute("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'")
        out.gauge(QUEUE_DEPTH, float(queued[0]["n"]))
        rows = j.execute(
            "SELECT action, MAX(finished_at) AS at FROM jobs WHERE state = 'succeeded' "
            "GROUP BY action"
        )
        for r in rows:
            out.gauge(LAST_SUCCESS, r["at"], action=r["action"])
        rows = j.execute("SELECT event, COUNT(*) AS n FROM audit GROUP BY event")
        events = {r["event"]: r["n"] for r in rows}
        for decision in ALERT_DECISIONS:
            out.counter(ALERTS, events.get(decision, 0), decision=decision)
