"""What must not depend on the PostgreSQL major, checked on every tested major side by side.

The other PostgreSQL tests run once per major (`pg15`, `pg18`); these need the majors together:
the exporter must publish the same series on each, and the idle-primary test's 30 s of idleness
is spent once for all majors instead of once per major.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clusterstate.postgres import PgFacts
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.scrape import ScheduledCollector, Scraper
from lab.offline.hubdata import create_cfdb, write_workdir
from lab.offline.pginstall import MAJORS, PgInstall, PgUnavailable, pg_install
from lab.offline.pgpair import PgPair
from tests.support.hubscrape import hub_scraper
from tests.support.metrics_text import sample_value, scrape_text

# Label values that name the installation or a random port, not the shape of what is published.
VARYING_LABELS = frozenset({"version", "sender_port"})
Series = frozenset[tuple[str, tuple[tuple[str, str], ...]]]


def every_major() -> list[PgInstall]:
    try:
        return [pg_install(major) for major in MAJORS]
    except PgUnavailable as exc:
        pytest.skip(f"needs every tested major: {exc}")


def series(text: str) -> Series:
    """Every sample as (name, labels), with the installation-specific label values masked."""
    return frozenset(
        (
            sample.name,
            tuple(sorted((k, "*" if k in VARYING_LABELS else v) for k, v in sample.labels.items())),
        )
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )


def published(pair: PgPair, work: Path, node: str) -> Series:
    scraper = hub_scraper(pair, work, node)
    try:
        result = scraper.scrape()
    finally:
        scraper.close()
    failed = {r.name: r.message for r in result.failed}
    assert not failed, f"{pair.install.id} {node}: {failed}"
    return series(scrape_text(result))


def shapes(install: PgInstall, work: Path) -> dict[str, Series]:
    """What the exporter publishes on this major: primary, standby, primary without standby."""
    with PgPair(install) as pair:
        create_cfdb(pair, "cfdb", 30, rng_seed=4)
        write_workdir(work)
        out = {node: published(pair, work, node) for node in ("hub1", "hub2")}
        pair.stop_standby()
        out["hub1 without its standby"] = published(pair, work, "hub1")
    return out


def test_every_major_publishes_the_same_series(tmp_path: Path) -> None:
    """Same metric names, label names and (but for the version and ports) label values."""
    installs = every_major()
    by_major = {i.major: shapes(i, tmp_path / i.id) for i in installs}
    first, *others = installs
    reference = by_major[first.major]
    assert any(name == "cfha_pg_standby_lag_bytes" for name, _ in reference["hub1"])
    assert any(name == "cfha_hub_hosts" for name, _ in reference["hub2"])
    for other in others:
        for state, expected in reference.items():
            got = by_major[other.major][state]
            assert got == expected, (
                f"{state}: only on {first.id}: {sorted(expected - got)}; "
                f"only on {other.id}: {sorted(got - expected)}"
            )


@pytest.fixture(scope="module")
def pairs() -> Iterator[list[PgPair]]:
    """A pair per tested major, all running at once."""
    installs = every_major()
    with ExitStack() as stack:
        started = []
        for install in installs:
            pair = PgPair(install)
            stack.callback(pair.close)
            started.append(pair.start())
        yield started


def standby_scrape(pair: PgPair) -> tuple[PgFacts, str]:
    config = PostgresConfig(conninfo=pair.standby.conninfo(), expected_standbys=["hub2"])
    scraper = Scraper(
        [ScheduledCollector(PostgresCollector(config, "hub2"), 5.0)], node="x", cluster="cfcluster"
    )
    try:
        scrape = scraper.scrape()
    finally:
        scraper.close()
    facts = scrape.facts("postgres", PgFacts)
    assert facts is not None
    return facts, scrape_text(scrape)


def test_idle_primary_does_not_make_the_standby_lag(pairs: list[PgPair]) -> None:
    """postgres_exporter's best-known bug: now() - last replay grows while nothing is written.

    30 s idle spans several wal_receiver_status_interval (10 s) rounds of keepalives and replies,
    whose timing changed across majors (16 reworked the WAL receiver's wake-ups).
    """
    for pair in pairs:
        pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('before idle')")
        pair.wait_replayed()
    idle_since = time.time()
    time.sleep(30)
    for pair in pairs:
        facts, text = standby_scrape(pair)
        assert facts.last_replay_time is not None and facts.last_replay_time <= idle_since
        naive_lag = time.time() - facts.last_replay_time
        assert naive_lag >= 30, pair.install.id  # what a naive exporter would report
        assert sample_value(text, "cfha_pg_replay_lag_seconds", node="hub2") == 0, pair.install.id
