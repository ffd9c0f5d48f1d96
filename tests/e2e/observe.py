"""What happens during one scenario, sampled in the background with wall-clock times.

A `Sampler` thread polls, every half second, Prometheus (pending and firing alerts),
Alertmanager (every alert it holds, active or suppressed by an inhibition), both remediators'
jobs, and the lab (which standbys stream; whether the lab is healthy). The sink records its
deliveries with their own times. `Timeline` keeps the first and last time each thing was seen,
which the checks and the report read after the scenario.

Times are Unix seconds (`time.time()`): the remediators in the hubs share the host's clock, so
their job times compare directly.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lab.cluster import Lab
from lab.errors import LabError
from lab.product.stack import ProductStack, StackError
from lab.status import read_pg
from tests.e2e.matrix import ROUTE_LABEL, Key

Delivery = tuple[str, str, str, str, str]  # (receiver, alertname, node, route, status)
SAMPLE_INTERVAL = 0.5
HEALTH_INTERVAL = 1.0


def alert_key(labels: dict[str, Any]) -> Key:
    """(alertname, node, route): the two copies of a remediable alert differ by route."""
    return (
        str(labels.get("alertname", "")),
        str(labels.get("node", "")),
        str(labels.get(ROUTE_LABEL, "")),
    )


@dataclass
class Seen:
    """First and last time a thing was observed."""

    first: float
    last: float

    def touch(self, now: float) -> None:
        self.last = now


@dataclass
class Timeline:
    """Everything observed since `start`; all times are Unix seconds."""

    start: float
    pending: dict[Key, Seen] = field(default_factory=dict)
    firing: dict[Key, Seen] = field(default_factory=dict)
    in_alertmanager: dict[Key, Seen] = field(default_factory=dict)
    suppressed: dict[Key, Seen] = field(default_factory=dict)
    am_alerts: dict[Key, dict[str, Any]] = field(default_factory=dict)  # the latest copy
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<hub>/<id>" -> summary
    streaming: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    health: list[tuple[float, bool]] = field(default_factory=list)
    causes: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    """Each hub's diagnosed cause (cfha_pg_standby_cause == 1, through Prometheus)."""
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def mark(table: dict[Any, Seen], keys: Iterable[Any], now: float) -> None:
        for key in keys:
            if key in table:
                table[key].touch(now)
            else:
                table[key] = Seen(now, now)

    def streaming_again(self, node: str, after: float) -> float | None:
        """When `node` streamed again after it had stopped (after `after`); None if it never
        stopped or never came back."""
        lost = next((t for t, s in self.streaming if t >= after and node not in s), None)
        if lost is None:
            return None
        return next((t for t, s in self.streaming if t > lost and node in s), None)

    def diagnosed(self, node: str, cause: str, after: float) -> float | None:
        """When Prometheus first had `node`'s cause as `cause` after `after`."""
        return next((t for t, c in self.causes if t >= after and c.get(node) == cause), None)

    def causes_of(self, node: str, after: float) -> list[str]:
        """Every cause `node` was diagnosed with after `after`, in order, without repeats."""
        seen: list[str] = []
        for t, c in self.causes:
            cause = c.get(node)
            if t >= after and cause and (not seen or seen[-1] != cause):
                seen.append(cause)
        return seen

    def healthy_again(self, after: float) -> float | None:
        """The first healthy sample after `after` that no unhealthy sample followed."""
        last_bad = max((t for t, ok in self.health if t >= after and not ok), default=after)
        return next((t for t, ok in self.health if t > last_bad and ok), None)


class Sampler:
    """Polls the stack and the lab in a thread until stopped; `timeline` holds the results."""

    def __init__(self, lab: Lab, stack: ProductStack, *, watch_health: bool = True) -> None:
        self.lab = lab
        self.stack = stack
        self.watch_health = watch_health
        self.timeline = Timeline(start=time.time())
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="e2e-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def snapshot(self) -> Timeline:
        """The timeline as of now (the same object; read it, do not change it)."""
        with self._lock:
            return self.timeline

    def _run(self) -> None:
        next_health = 0.0
        while not self._stop.is_set():
            now = time.time()
            self._sample(now, health=self.watch_health and now >= next_health)
            if now >= next_health:
                next_health = now + HEALTH_INTERVAL
            self._stop.wait(SAMPLE_INTERVAL)

    def _sample(self, now: float, *, health: bool) -> None:
        t = self.timeline
        try:
            prom = self.stack.prometheus.alerts()
            am = self.stack.alertmanager.alerts()
            causes = {
                r["metric"]["node"]: r["metric"]["state"]
                for r in self.stack.prometheus.query("cfha_pg_standby_cause == 1")
            }
            jobs = {
                f"{node}/{job['id']}": dict(job, hub=node)
                for node in self.stack.hubs
                for job in self.stack.remediator(node).jobs()
            }
        except (StackError, OSError, ValueError) as exc:
            with self._lock:
                t.errors.append(f"{now:.1f}: {exc}")
            return
        streaming = self._streaming()
        healthy = self._healthy() if health else None
        with self._lock:
            t.mark(
                t.pending, {alert_key(a["labels"]) for a in prom if a["state"] == "pending"}, now
            )
            t.mark(t.firing, {alert_key(a["labels"]) for a in prom if a["state"] == "firing"}, now)
            t.mark(t.in_alertmanager, {alert_key(a["labels"]) for a in am}, now)
            t.mark(
                t.suppressed,
                {alert_key(a["labels"]) for a in am if a["status"]["state"] == "suppressed"},
                now,
            )
            for a in am:
                t.am_alerts[alert_key(a["labels"])] = a
            t.jobs.update(jobs)
            t.streaming.append((now, frozenset(streaming)))
            t.causes.append((now, causes))
            if healthy is not None:
                t.health.append((now, healthy))

    def _streaming(self) -> set[str]:
        """Standbys that a primary reports as `streaming` in pg_stat_replication."""
        out: set[str] = set()
        for node in self.lab.node_names:
            others = [n for n in self.lab.node_names if n != node]
            facts = read_pg(self.lab.node(node), others)
            if facts.writable:
                out |= set(facts.streaming_to)
        return out

    def _healthy(self) -> bool:
        with contextlib.suppress(LabError, OSError):
            return self.lab.status().healthy
        return False


def deliveries(stack: ProductStack, since: float) -> dict[Delivery, float]:
    """Every alert the sink received since `since`: (receiver, alertname, node, route, status)
    -> the first time it arrived."""
    out: dict[Delivery, float] = {}
    for n in stack.sink.received():
        if n.received_at < since:
            continue
        receiver = n.path.strip("/")
        for a in n.alerts:
            name, node, route = alert_key(a.get("labels", {}))
            key = (receiver, name, node, route, str(a.get("status", "")))
            out.setdefault(key, n.received_at)
    return out
