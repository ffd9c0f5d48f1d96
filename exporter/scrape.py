"""The collector framework: each collector under its own deadline; one failure never fails a scrape.

A scrape runs all enabled collectors in parallel threads and waits for each only until its own
deadline. A collector that raises, or misses its deadline, contributes no metrics of its own but
its failure is published (`cfha_exporter_collector_success`, the failure reason, timestamps), and
everything else is still served. Derived collectors (the HA verdict) then run on the typed facts
the others returned.

Load on the observed systems is bounded three times over: concurrent scrapes share one in-flight
scrape (single flight); a scrape that started less than `reuse_seconds` ago is served again to the
scrapes of the same burst that arrive just after it finished; and a collector whose previous run is
still stuck is joined, not started again, so a hung crm_mon or PostgreSQL never accumulates threads
or connections.

A collector that misses its deadline is `interrupt`ed when it can be (`Interruptible`): it cuts
what it waits for and says what is certain (`cfha_pg_up 0`), so a hang reads as down, never as
missing series. Collectors run in daemon threads: a stuck one never holds up the process's exit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from prometheus_client.core import Metric

from clusterstate.errors import REASON_HELP, REASONS, ReadError
from exporter import __version__
from servicekit.metrics import Kind, MetricSpec, MetricWriter, described

log = logging.getLogger(__name__)

FAILURE_REASONS = REASONS
"""A collector fails for the reasons a read fails (`clusterstate.errors`)."""
FAILURE_REASON_HELP = REASON_HELP


class CollectorError(Exception):
    """A collector could not observe its subsystem. `reason` is one of FAILURE_REASONS.

    `partial` and `facts` let a collector still publish what it knows about the failure (for
    example `cfha_pg_up 0`): being down is a fact, and series must not silently vanish.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        partial: MetricWriter | None = None,
        facts: object | None = None,
    ) -> None:
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.partial = partial
        self.facts = facts


class Collector(Protocol):
    """One subsystem: `collect` writes samples and returns the typed facts it observed."""

    @property
    def name(self) -> str: ...

    @property
    def metrics(self) -> Sequence[MetricSpec]: ...

    def collect(self, out: MetricWriter) -> object: ...


@runtime_checkable
class Interruptible(Protocol):
    """A collector that can be told its run missed the scrape's deadline (optional)."""

    def interrupt(self, out: MetricWriter) -> object:
        """Called from the scrape's thread while `collect` still runs elsewhere: abort what it
        waits for (so the next scrape starts afresh) and write what is certain without it (its
        subsystem down or unknown). Returns the facts to publish, like CollectorError.facts."""
        ...


class DerivedCollector(Protocol):
    """Computes metrics from the facts the plain collectors returned in the same scrape."""

    @property
    def name(self) -> str: ...

    @property
    def metrics(self) -> Sequence[MetricSpec]: ...

    def collect(self, out: MetricWriter, results: Mapping[str, CollectorResult]) -> object: ...


@dataclass(frozen=True)
class CollectorResult:
    name: str
    ok: bool
    duration_seconds: float
    finished_at: float  # Unix time
    facts: object | None = None
    writer: MetricWriter | None = None
    reason: str | None = None
    message: str | None = None


FactsT = TypeVar("FactsT")


def facts_of(
    results: Mapping[str, CollectorResult], name: str, kind: type[FactsT]
) -> FactsT | None:
    """A collector's facts, also those a failed collector returned about its failure (what a
    derived collector reads; None when disabled or of another type)."""
    result = results.get(name)
    if result is None or not isinstance(result.facts, kind):
        return None
    return result.facts


@dataclass(frozen=True)
class Scrape:
    """Everything one scrape observed."""

    started_at: float  # Unix time
    cluster: str
    node: str
    results: Mapping[str, CollectorResult]
    self_metrics: MetricWriter = field(default_factory=MetricWriter)

    def facts(self, name: str, kind: type[FactsT]) -> FactsT | None:
        """The typed facts of collector `name`: None when disabled or when it failed without
        telling what it saw (a failed collector may still return facts such as "down")."""
        return facts_of(self.results, name, kind)

    @property
    def failed(self) -> list[CollectorResult]:
        return [r for r in self.results.values() if not r.ok]

    def families(self) -> Iterator[Metric]:
        merged = MetricWriter()
        for result in self.results.values():
            if result.writer is not None:
                merged.merge(result.writer)
        merged.merge(self.self_metrics)
        seen: set[str] = set()
        for family in merged.families(self.cluster):
            if family.name in seen:  # two declarations of one name: keep the page valid
                log.error("metric %s declared twice; dropping the duplicate", family.name)
                continue
            seen.add(family.name)
            yield family


SUCCESS = MetricSpec(
    "cfha_exporter_collector_success",
    "1 if the collector observed its subsystem in this scrape, 0 if it failed or timed out.",
    labels=("collector",),
)
DURATION = MetricSpec(
    "cfha_exporter_collector_duration_seconds",
    "How long the collector took in this scrape (its deadline when it timed out).",
    labels=("collector",),
)
FAILURE_REASON = MetricSpec(
    "cfha_exporter_collector_failure_reason",
    "Why the collector failed most recently (1 on that reason); kept after recovery so the "
    "cause stays visible. All 0 when it has never failed.",
    kind=Kind.STATESET,
    labels=("collector",),
    states=FAILURE_REASONS,
    state_help=FAILURE_REASON_HELP,
)
FAILURES = MetricSpec(
    "cfha_exporter_collector_failures_total",
    "Failed collections since the exporter started (the reason of the last one is in "
    "cfha_exporter_collector_failure_reason).",
    kind=Kind.COUNTER,
    labels=("collector",),
)
LAST_SUCCESS = MetricSpec(
    "cfha_exporter_collector_last_success_timestamp_seconds",
    "When the collector last succeeded (Unix time); absent if it never has.",
    labels=("collector",),
)
LAST_FAILURE = MetricSpec(
    "cfha_exporter_collector_last_failure_timestamp_seconds",
    "When the collector last failed (Unix time); absent if it never has.",
    labels=("collector",),
)
BUILD_INFO = MetricSpec(
    "cfha_exporter_build_info",
    "The exporter's version, and the pacemaker node name it reports as (its identity).",
    kind=Kind.INFO,
    labels=("version", "node"),
)
SELF_METRICS: tuple[MetricSpec, ...] = (
    SUCCESS,
    DURATION,
    FAILURE_REASON,
    FAILURES,
    LAST_SUCCESS,
    LAST_FAILURE,
    BUILD_INFO,
)


@dataclass(frozen=True)
class ScheduledCollector:
    collector: Collector
    deadline_seconds: float


@dataclass
class _History:
    last_success: float | None = None
    last_failure: float | None = None
    last_reason: str | None = None
    failures: int = 0
    # What was last logged: a collector that keeps failing the same way logs once, not per scrape.
    logged: tuple[bool, str | None] = (True, None)


class Scraper:
    """Runs the collectors for each scrape; thread-safe; remembers the last scrape for the UI."""

    def __init__(
        self,
        collectors: Sequence[ScheduledCollector],
        derived: Sequence[DerivedCollector] = (),
        *,
        node: str,
        cluster: str | None = None,
        clock: Callable[[], float] = time.time,
        reuse_seconds: float = 0.0,
    ) -> None:
        self._collectors = list(collectors)
        self._derived = list(derived)
        self._node = node
        self._configured_cluster = cluster
        self._discovered_cluster: str | None = None
        self._clock = clock
        self._reuse_seconds = reuse_seconds
        self._running: dict[str, Future[CollectorResult]] = {}
        self._lock = threading.Lock()
        self._inflight: Future[Scrape] | None = None
        self._last_started = -float("inf")  # time.monotonic() of the last scrape's start
        self._closed = False
        self._history: dict[str, _History] = {}
        self._last: Scrape | None = None

    @property
    def collector_names(self) -> list[str]:
        return [s.collector.name for s in self._collectors] + [d.name for d in self._derived]

    def last(self) -> Scrape | None:
        return self._last

    def scrape(self) -> Scrape:
        """Collect now, or join the scrape in flight, or reuse one that started just now."""
        with self._lock:
            inflight, last = self._inflight, self._last
            fresh = time.monotonic() - self._last_started < self._reuse_seconds
            if inflight is None and not (fresh and last is not None):
                mine: Future[Scrape] = Future()
                self._inflight = mine
                self._last_started = time.monotonic()
        if inflight is not None:
            return inflight.result()
        if fresh and last is not None:
            return last
        try:
            result = self._scrape()
            mine.set_result(result)
            return result
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight = None

    def close(self) -> None:
        """Abort the runs in progress and release what collectors hold (database connections).

        Scrapes waiting for a collector get its `timeout` result at once, so a stopping service
        answers them instead of waiting out their deadlines."""
        with self._lock:
            self._closed = True
            running = {name: f for name, f in self._running.items() if not f.done()}
        for scheduled in self._collectors:
            future = running.get(scheduled.collector.name)
            if future is not None:
                _settle(future, self._timed_out(scheduled, "the exporter is stopping"))
        for collector in [s.collector for s in self._collectors] + list(self._derived):
            close = getattr(collector, "close", None)
            if callable(close):
                close()

    def _scrape(self) -> Scrape:
        started_wall = self._clock()
        started = time.monotonic()
        futures = {s.collector.name: (s, self._start(s)) for s in self._collectors}
        results: dict[str, CollectorResult] = {}
        for name, (scheduled, future) in futures.items():
            remaining = scheduled.deadline_seconds - (time.monotonic() - started)
            try:
                results[name] = future.result(timeout=max(0.0, remaining))
            except FutureTimeout:
                message = f"no result within its {scheduled.deadline_seconds:g}s deadline"
                results[name] = self._timed_out(scheduled, message)
        for derived in self._derived:
            results[derived.name] = self._run_derived(derived, results)
        cluster = self._cluster(results)
        scrape = Scrape(
            started_at=started_wall,
            cluster=cluster,
            node=self._node,
            results=results,
            self_metrics=self._self_metrics(results),
        )
        self._last = scrape
        return scrape

    def _start(self, scheduled: ScheduledCollector) -> Future[CollectorResult]:
        name = scheduled.collector.name
        with self._lock:
            running = self._running.get(name)
            if running is not None and not running.done():
                log.debug("collector %s is still busy with an earlier scrape; joining it", name)
                return running
            future: Future[CollectorResult] = Future()
            if self._closed:
                _settle(future, self._timed_out(scheduled, "the exporter is stopping"))
                return future
            self._running[name] = future
        # A daemon thread per run: one that never returns cannot keep the process from exiting.
        threading.Thread(
            target=lambda: _settle(future, self._run(scheduled.collector)),
            name=f"collector-{name}",
            daemon=True,
        ).start()
        return future

    def _run(self, collector: Collector) -> CollectorResult:
        writer = MetricWriter()
        return self._guarded(collector.name, lambda: collector.collect(writer), writer)

    def _timed_out(self, scheduled: ScheduledCollector, message: str) -> CollectorResult:
        """The result of a run that missed its deadline: what `interrupt` says, if it can."""
        collector = scheduled.collector
        writer: MetricWriter | None = None
        facts: object | None = None
        if isinstance(collector, Interruptible):
            writer = MetricWriter()
            try:
                facts = collector.interrupt(writer)
            except Exception:
                log.exception("interrupting collector %s failed", collector.name)
                writer, facts = None, None
        return CollectorResult(
            name=collector.name,
            ok=False,
            duration_seconds=scheduled.deadline_seconds,
            finished_at=self._clock(),
            facts=facts,
            writer=writer,
            reason="timeout",
            message=message,
        )

    def _run_derived(
        self, derived: DerivedCollector, results: Mapping[str, CollectorResult]
    ) -> CollectorResult:
        writer = MetricWriter()
        return self._guarded(derived.name, lambda: derived.collect(writer, results), writer)

    def _guarded(
        self, name: str, call: Callable[[], object], writer: MetricWriter
    ) -> CollectorResult:
        started = time.monotonic()
        reason: str
        partial: MetricWriter | None = None
        facts: object | None = None
        try:
            facts = call()
        except CollectorError as exc:
            reason, message, partial, facts = exc.reason, str(exc), exc.partial, exc.facts
        except ReadError as exc:
            reason, message = exc.reason, str(exc)
        except Exception as exc:
            reason, message = "internal", f"{type(exc).__name__}: {exc}"
            history = self._history.get(name)
            if history is None or history.logged != (False, "internal"):  # once per episode
                log.exception("collector %s crashed", name)
        else:
            return CollectorResult(
                name=name,
                ok=True,
                duration_seconds=time.monotonic() - started,
                finished_at=self._clock(),
                facts=facts,
                writer=writer,
            )
        if reason not in FAILURE_REASONS:
            reason = "internal"
        return CollectorResult(
            name=name,
            ok=False,
            duration_seconds=time.monotonic() - started,
            finished_at=self._clock(),
            facts=facts,
            writer=partial,
            reason=reason,
            message=message,
        )

    def _cluster(self, results: Mapping[str, CollectorResult]) -> str:
        if self._configured_cluster:
            return self._configured_cluster
        for result in results.values():
            discovered = getattr(result.facts, "cluster_name", None)
            if result.ok and isinstance(discovered, str) and discovered:
                self._discovered_cluster = discovered
        return self._discovered_cluster or "unknown"

    def _self_metrics(self, results: Mapping[str, CollectorResult]) -> MetricWriter:
        out = MetricWriter()
        out.info(BUILD_INFO, version=__version__, node=self._node)
        with self._lock:
            for name, result in results.items():
                history = self._history.setdefault(name, _History())
                _log_change(history, result)
                if result.ok:
                    history.last_success = result.finished_at
                else:
                    history.last_failure = result.finished_at
                    history.last_reason = result.reason
                    history.failures += 1
                out.gauge(SUCCESS, 1.0 if result.ok else 0.0, collector=name)
                out.gauge(DURATION, result.duration_seconds, collector=name)
                out.state(FAILURE_REASON, history.last_reason, collector=name)
                out.gauge(LAST_SUCCESS, history.last_success, collector=name)
                out.gauge(LAST_FAILURE, history.last_failure, collector=name)
                out.counter(FAILURES, history.failures, collector=name)
        return out


def _settle(future: Future[CollectorResult], result: CollectorResult) -> None:
    """Set the result unless someone else did first (a stopping scraper, or the run itself)."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(result)


def _log_change(history: _History, result: CollectorResult) -> None:
    """Log a collector's failure when it starts or changes reason, and its recovery: a collector
    that keeps failing the same way would otherwise log on every scrape."""
    state = (result.ok, None if result.ok else result.reason)
    if state == history.logged:
        if not result.ok:
            log.debug("collector %s still failing (%s): %s", result.name, result.reason,
                      result.message)  # fmt: skip
        return
    if result.ok:
        log.info("collector %s recovered", result.name)
    else:
        log.warning("collector %s failed (%s): %s", result.name, result.reason, result.message)
    history.logged = state


class ScrapeRegistryAdapter:
    """Lets prometheus_client's registry serve a Scraper (one scrape per /metrics request).

    `declared` are the metrics the scrape may publish: describing them (instead of collecting at
    registration time) lets `/metrics?name[]=...` select this collector by name."""

    def __init__(self, scraper: Scraper, declared: Sequence[MetricSpec]) -> None:
        self._scraper = scraper
        self._declared = tuple(declared)

    def collect(self) -> Iterator[Metric]:
        yield from self._scraper.scrape().families()

    def describe(self) -> list[Metric]:
        return [described(spec) for spec in self._declared]
