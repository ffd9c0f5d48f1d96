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
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from remediator import __version__, guard
from remediator.actions import ACTION_NAMES
from remediator.journal import Journal, JournalError
from remediator.killswitch import KillSwitch

RESULTS = ("succeeded", "failed", "refused", "interrupted", "dry_run")
ALERT_DECISIONS = ("accepted", "duplicate", "ignored", "resolved", "cancelled")
WEBHOOK_CODES = ("202", "400", "401", "405", "413", "415", "503")


@dataclass(frozen=True)
class MetricDoc:
    name: str
    type: str
    labels: tuple[str, ...]
    help: str


METRICS = (
    MetricDoc(
        "cfha_remediation_jobs_total",
        "counter",
        ("action", "result"),
        "Jobs finished, by action and result (succeeded, failed, refused, interrupted, dry_run).",
    ),
    MetricDoc(
        "cfha_remediation_refusals_total",
        "counter",
        ("action", "precondition"),
        "Refused jobs, by the first precondition that failed.",
    ),
    MetricDoc(
        "cfha_remediation_circuit_open",
        "gauge",
        ("action", "target"),
        "1 while the circuit of (action, target) is open: no more attempts until a human resets.",
    ),
    MetricDoc(
        "cfha_remediation_kill_switch_engaged",
        "gauge",
        (),
        "1 while the kill switch file exists (every action paused).",
    ),
    MetricDoc("cfha_remediation_queue_depth", "gauge", (), "Jobs waiting for the worker."),
    MetricDoc(
        "cfha_remediation_job_in_progress",
        "gauge",
        ("action",),
        "1 while a job of this action is executing on this hub.",
    ),
    MetricDoc(
        "cfha_remediation_last_success_timestamp_seconds",
        "gauge",
        ("action",),
        "When a job of this action last succeeded (Unix time); absent if never.",
    ),
    MetricDoc(
        "cfha_remediation_webhook_requests_total",
        "counter",
        ("code",),
        "Webhook requests answered, by HTTP status code (since this process started).",
    ),
    MetricDoc(
        "cfha_remediation_alerts_total",
        "counter",
        ("decision",),
        "Alerts received, by intake decision (accepted, duplicate, ignored, resolved, cancelled).",
    ),
    MetricDoc(
        "cfha_remediation_journal_ok",
        "gauge",
        (),
        "1 when the journal could be read for this scrape; 0 means the other journal-based "
        "series are missing from it.",
    ),
    MetricDoc(
        "cfha_remediation_info",
        "gauge",
        ("node", "version", "dry_run"),
        "Identity of this remediator: its node, version, and whether it runs in dry-run mode.",
    ),
)


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
        c = self._cluster
        docs = {m.name: m for m in METRICS}
        info = InfoMetricFamily(
            "cfha_remediation", docs["cfha_remediation_info"].help, labels=["cluster"]
        )
        info.add_metric(
            [c],
            {"node": self._node, "version": __version__, "dry_run": str(self._dry_run).lower()},
        )
        yield info
        requests = CounterMetricFamily(
            "cfha_remediation_webhook_requests",
            docs["cfha_remediation_webhook_requests_total"].help,
            labels=["cluster", "code"],
        )
        for code, count in sorted(self._requests.snapshot().items()):
            requests.add_metric([c, code], count)
        yield requests
        yield self._gauge(
            "cfha_remediation_kill_switch_engaged", [], float(self._kill_switch.engaged())
        )
        in_progress = self._family("cfha_remediation_job_in_progress")
        for action in ACTION_NAMES:
            in_progress.add_metric([c, action], float(action in self._in_progress))
        yield in_progress
        try:
            families = list(self._journal_families())
        except JournalError:
            yield self._gauge("cfha_remediation_journal_ok", [], 0.0)
            return
        yield from families
        yield self._gauge("cfha_remediation_journal_ok", [], 1.0)

    def _journal_families(self) -> Iterator[Metric]:
        c, j = self._cluster, self._journal
        rows = j.execute("SELECT action, state, COUNT(*) AS n FROM jobs GROUP BY action, state")
        counts = {(r["action"], r["state"]): r["n"] for r in rows}
        jobs = self._counter("cfha_remediation_jobs_total")
        for action in ACTION_NAMES:
            for result in RESULTS:
                jobs.add_metric([c, action, result], counts.get((action, result), 0))
        yield jobs
        rows = j.execute(
            "SELECT action, refused_by, COUNT(*) AS n FROM jobs WHERE state = 'refused' "
            "GROUP BY action, refused_by"
        )
        refused = {(r["action"], r["refused_by"]): r["n"] for r in rows}
        refusals = self._counter("cfha_remediation_refusals_total")
        for action in ACTION_NAMES:
            for precondition in guard.PRECONDITIONS:
                refusals.add_metric(
                    [c, action, precondition], refused.get((action, precondition), 0)
                )
        yield refusals
        circuits = self._family("cfha_remediation_circuit_open")
        for row in j.circuits():
            circuits.add_metric([c, row["action"], row["target"]], float(row["open"]))
        yield circuits
        queued = j.execute("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'")
        yield self._gauge("cfha_remediation_queue_depth", [], float(queued[0]["n"]))
        rows = j.execute(
            "SELECT action, MAX(finished_at) AS at FROM jobs WHERE state = 'succeeded' "
            "GROUP BY action"
        )
        last = self._family("cfha_remediation_last_success_timestamp_seconds")
        for r in rows:
            last.add_metric([c, r["action"]], r["at"])
        yield last
        rows = j.execute("SELECT event, COUNT(*) AS n FROM audit GROUP BY event")
        events = {r["event"]: r["n"] for r in rows}
        alerts = self._counter("cfha_remediation_alerts_total")
        for decision in ALERT_DECISIONS:
            alerts.add_metric([c, decision], events.get(decision, 0))
        yield alerts

    def _counter(self, name: str) -> CounterMetricFamily:
        doc = next(m for m in METRICS if m.name == name)
        return CounterMetricFamily(name, doc.help, labels=["cluster", *doc.labels])

    def _family(self, name: str) -> GaugeMetricFamily:
        doc = next(m for m in METRICS if m.name == name)
        return GaugeMetricFamily(name, doc.help, labels=["cluster", *doc.labels])

    def _gauge(self, name: str, labels: list[str], value: float) -> GaugeMetricFamily:
        family = self._family(name)
        family.add_metric([self._cluster, *labels], value)
        return family
