"""A hung PostgreSQL (the whole server SIGSTOPped, as a frozen host looks) reads as down.

The server's kernel still accepts connections and acknowledges every packet, so neither
statement_timeout (the server would have to run) nor TCP timeouts help: only the client can end
the wait. Real PostgreSQL 15 (lab/offline/pgpair.py), the real collector and scraper.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from clusterstate.pg import PgError, PgSession, PgSettings
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.scrape import ScheduledCollector, Scrape, Scraper
from lab.offline.pgpair import PgPair
from tests.support.daemons import wait_for
from tests.support.metrics_text import sample_value, scrape_text

DEADLINE = 5.0  # the collector's default deadline


@pytest.fixture
def scraper(pg_pair: PgPair) -> Iterator[Scraper]:
    collector = PostgresCollector(PostgresConfig(conninfo=pg_pair.primary.conninfo()), "hub1")
    scraper = Scraper([ScheduledCollector(collector, DEADLINE)], node="hub1", cluster="cfcluster")
    try:
        yield scraper
    finally:
        scraper.close()


def timed_scrape(scraper: Scraper) -> tuple[Scrape, float]:
    started = time.monotonic()
    scrape = scraper.scrape()
    return scrape, time.monotonic() - started


def pg_up(scrape: Scrape) -> float | None:
    return sample_value(scrape_text(scrape), "cfha_pg_up", node="hub1")


def reason(scrape: Scrape) -> str | None:
    return scrape.results["postgres"].reason


def test_a_frozen_primary_reads_down_within_the_deadline_and_recovers(
    pg_pair: PgPair, scraper: Scraper
) -> None:
    first, _ = timed_scrape(scraper)
    assert pg_up(first) == 1  # the connection is open now
    with pg_pair.primary.frozen():
        stuck, took = timed_scrape(scraper)
        assert took < DEADLINE, took
        assert pg_up(stuck) == 0, "cfha_pg_up must read 0, not vanish"
        assert reason(stuck) == "timeout"
        text = scrape_text(stuck)
        assert (
            sample_value(text, "cfha_pg_role", node="hub1", state="primary") == 0
        )  # the role is unknown, not "primary"
        # While it stays frozen: a new connection is tried, and times out too, never stuck
        # behind the old query.
        again, took = timed_scrape(scraper)
        assert took < DEADLINE, took
        assert pg_up(again) == 0 and reason(again) == "timeout"
    recovered, took = timed_scrape(scraper)
    assert pg_up(recovered) == 1 and recovered.results["postgres"].ok
    assert took < 1.0


def test_the_scrape_deadline_interrupts_a_query_the_session_still_waits_for(
    pg_pair: PgPair,
) -> None:
    """A deadline shorter than the session's own (a misconfiguration, or a slow connect):
    the scraper interrupts the collector, which cuts the query and publishes the database down."""
    collector = PostgresCollector(
        PostgresConfig(conninfo=pg_pair.primary.conninfo(), statement_timeout_seconds=10), "hub1"
    )
    scraper = Scraper([ScheduledCollector(collector, 1.0)], node="hub1", cluster="cfcluster")
    try:
        assert pg_up(scraper.scrape()) == 1
        with pg_pair.primary.frozen():
            stuck, took = timed_scrape(scraper)
            assert took < 2.0, took
            assert pg_up(stuck) == 0 and reason(stuck) == "timeout"
        deadline = time.monotonic() + 10
        while not scraper.scrape().results["postgres"].ok:  # the cut query ends, then reconnects
            assert time.monotonic() < deadline, "the collector did not recover"
            time.sleep(0.2)
    finally:
        scraper.close()


def test_abort_cuts_a_query_from_another_thread(pg_pair: PgPair) -> None:
    session = PgSession(
        PgSettings(conninfo=pg_pair.primary.conninfo(), statement_timeout_seconds=20)
    )
    try:
        assert session.query("SELECT 1 AS one") == [{"one": 1}]
        errors: list[PgError] = []

        def sleepy() -> None:
            try:
                session.query("SELECT pg_sleep(15)")
            except PgError as exc:
                errors.append(exc)

        worker = threading.Thread(target=sleepy)
        worker.start()
        wait_for(
            lambda: (
                pg_pair.psql(
                    pg_pair.primary,
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(15)'",
                )
                == "1"
            ),
            "the query to run on the server",
        )
        started = time.monotonic()
        session.abort()
        worker.join(timeout=5)
        assert not worker.is_alive() and time.monotonic() - started < 2
        assert errors and errors[0].reason == "timeout"
        assert session.query("SELECT 2 AS two") == [{"two": 2}]  # a new connection
    finally:
        session.close()
