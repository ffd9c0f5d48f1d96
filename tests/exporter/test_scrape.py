"""The collector framework: deadlines, isolation of failures, single flight, self metrics."""

from __future__ import annotations

import logging
import threading
import time
from typing import ClassVar

import pytest

from clusterstate.tools import CommandError
from exporter.scrape import CollectorError, ScheduledCollector, Scrape, Scraper
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from tests.support.metrics_text import sample_value, scrape_text

OK_METRIC = MetricSpec("cfha_test_value", "A test value.", labels=("node",))
STATE = MetricSpec(
    "cfha_test_state", "A test state.", kind=Kind.STATESET, labels=("node",), states=("a", "b")
)


class Fake:
    """A collector whose name, delay and outcome each test chooses."""

    metrics: ClassVar[tuple[MetricSpec, ...]] = (OK_METRIC, STATE)

    def __init__(self, name: str, *, delay: float = 0.0, error: Exception | None = None) -> None:
        self.name = name
        self.delay = delay
        self.error = error
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def collect(self, out: MetricWriter) -> str:
        self.calls += 1
        time.sleep(self.delay)
        self.release.wait(30)
        if self.error is not None:
            raise self.error
        out.gauge(OK_METRIC, 42, node=self.name)
        out.state(STATE, "b", node=self.name)
        return f"facts of {self.name}"


def scraper(*collectors: Fake, deadline: float = 2.0) -> Scraper:
    return Scraper(
        [ScheduledCollector(c, deadline) for c in collectors], node="hub1", cluster="cfcluster"
    )


def test_a_failing_collector_does_not_hide_the_others() -> None:
    s = scraper(
        Fake("good"),
        Fake("parser", error=CollectorError("parse", "garbage")),
        Fake("tool", error=CommandError("unavailable", ["crm_mon"], "not found")),
        Fake("bug", error=ZeroDivisionError("oops")),
    )
    scrape = s.scrape()
    text = scrape_text(scrape)
    assert sample_value(text, "cfha_test_value", node="good") == 42
    assert sample_value(text, "cfha_test_state", node="good", state="b") == 1
    assert sample_value(text, "cfha_test_value", node="parser") is None
    for name, reason in (("parser", "parse"), ("tool", "unavailable"), ("bug", "internal")):
        assert sample_value(text, "cfha_exporter_collector_success", collector=name) == 0
        assert (
            sample_value(
                text, "cfha_exporter_collector_failure_reason", collector=name, state=reason
            )
            == 1
        )
        assert sample_value(text, "cfha_exporter_collector_failures_total", collector=name) == 1
    assert sample_value(text, "cfha_exporter_collector_success", collector="good") == 1
    assert scrape.facts("good", str) == "facts of good"
    assert scrape.facts("parser", str) is None
    assert all(v.startswith("cfha") or v.startswith("#") for v in text.splitlines())
    s.close()


def test_the_reason_of_the_last_failure_stays_visible_after_recovery() -> None:
    flaky = Fake("flaky", error=CollectorError("timeout", "slow"))
    s = scraper(flaky)
    s.scrape()
    flaky.error = None
    text = scrape_text(s.scrape())
    assert sample_value(text, "cfha_exporter_collector_success", collector="flaky") == 1
    assert (
        sample_value(
            text, "cfha_exporter_collector_failure_reason", collector="flaky", state="timeout"
        )
        == 1
    )
    assert (
        sample_value(
            text, "cfha_exporter_collector_last_failure_timestamp_seconds", collector="flaky"
        )
        is not None
    )
    s.close()


def test_a_hung_collector_times_out_within_its_deadline_and_is_not_restarted() -> None:
    hung = Fake("hung")
    hung.release.clear()
    quick = Fake("quick")
    s = scraper(hung, quick, deadline=0.3)
    try:
        for _ in range(3):
            started = time.monotonic()
            text = scrape_text(s.scrape())
            assert time.monotonic() - started < 2.0  # the deadline, with room for a slow machine
            assert (
                sample_value(
                    text,
                    "cfha_exporter_collector_failure_reason",
                    collector="hung",
                    state="timeout",
                )
                == 1
            )
            assert sample_value(text, "cfha_test_value", node="quick") == 42
        assert hung.calls == 1  # joined by later scrapes, never started twice
    finally:
        hung.release.set()
        s.close()


def test_concurrent_scrapes_share_one_collection() -> None:
    slow = Fake("slow", delay=0.5)
    s = scraper(slow)
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.scrape())) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert slow.calls == 1
    assert len({id(r) for r in results}) == 1
    s.close()


def test_partial_metrics_of_a_failed_collector_are_published() -> None:
    out = MetricWriter()
    out.gauge(OK_METRIC, 0, node="down")

    class Down(Fake):
        def collect(self, out: MetricWriter) -> str:
            out.gauge(OK_METRIC, 0, node="down")
            raise CollectorError("connect", "refused", partial=out, facts="down facts")

    s = scraper(Down("pg"))
    scrape = s.scrape()
    text = scrape_text(scrape)
    assert sample_value(text, "cfha_test_value", node="down") == 0
    assert scrape.facts("pg", str) == "down facts"
    s.close()


def test_writer_rejects_undeclared_labels_and_states() -> None:
    out = MetricWriter()
    with pytest.raises(ValueError, match="labels"):
        out.gauge(OK_METRIC, 1, nod="x")
    with pytest.raises(ValueError, match="not in"):
        out.state(STATE, "c", node="x")
    out.gauge(OK_METRIC, None, node="x")  # unknown publishes nothing
    assert out.value(OK_METRIC, node="x") is None


def test_duplicate_samples_keep_the_last_value() -> None:
    out = MetricWriter()
    out.gauge(OK_METRIC, 1, node="x")
    out.gauge(OK_METRIC, 2, node="x")
    families = list(out.families("c"))
    assert [s.value for s in families[0].samples] == [2.0]


def test_a_collector_that_keeps_failing_logs_on_change_of_state_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = Fake("flaky", error=CollectorError("timeout", "slow"))
    s = scraper(flaky)
    try:
        with caplog.at_level(logging.INFO, logger="exporter.scrape"):
            for _ in range(5):
                s.scrape()
            flaky.error = CollectorError("parse", "garbage")
            for _ in range(5):
                s.scrape()
            flaky.error = None
            for _ in range(5):
                s.scrape()
    finally:
        s.close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("WARNING", "collector flaky failed (timeout): slow"),
        ("WARNING", "collector flaky failed (parse): garbage"),
        ("INFO", "collector flaky recovered"),
    ]


class HangsUntilInterrupted(Fake):
    """A collector that hangs until interrupted, as the postgres one does on a frozen server."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release.clear()
        self.interrupted = 0

    def interrupt(self, out: MetricWriter) -> str:
        self.interrupted += 1
        out.state(STATE, "a", node=self.name)
        self.release.set()
        return "down"


def test_a_timed_out_collector_is_interrupted_and_says_what_is_certain() -> None:
    hung = HangsUntilInterrupted("hung")
    s = scraper(hung, deadline=0.3)
    try:
        scrape = s.scrape()
        text = scrape_text(scrape)
        assert hung.interrupted == 1
        assert sample_value(text, "cfha_test_state", node="hung", state="a") == 1
        assert scrape.facts("hung", str) == "down"
        assert scrape.results["hung"].reason == "timeout"
    finally:
        s.close()


def test_close_answers_the_scrapes_in_flight_at_once() -> None:
    hung = Fake("hung")
    hung.release.clear()
    s = scraper(hung, deadline=30)
    results: list[Scrape] = []
    waiting = threading.Thread(target=lambda: results.append(s.scrape()))
    waiting.start()
    try:
        deadline = time.monotonic() + 5
        while hung.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        s.close()
        waiting.join(timeout=5)
        assert not waiting.is_alive() and time.monotonic() - started < 1
        assert results[0].results["hung"].reason == "timeout"
    finally:
        hung.release.set()


def test_scrapes_within_the_reuse_window_share_a_finished_collection() -> None:
    quick = Fake("quick")
    s = Scraper(
        [ScheduledCollector(quick, 2.0)], node="hub1", cluster="cfcluster", reuse_seconds=0.5
    )
    try:
        first = s.scrape()
        assert s.scrape() is first and quick.calls == 1
        time.sleep(0.6)  # past the window: a collection of its own
        assert s.scrape() is not first and quick.calls == 2
    finally:
        s.close()
