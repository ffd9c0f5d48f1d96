"""cfdb schema and the deterministic seed, against a real throwaway PostgreSQL."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lab import cfdb
from lab.cfhub import collect_once
from lab.config import LabConfig
from lab.offline.pginstall import DEBIAN_BIN
from lab.render import ha_info_json
from tests.support.lab_fixtures import temporary_postgres

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HUBS = cfdb.hubs_from_ha_info(ha_info_json(LabConfig.for_id(9)), ("hub1", "hub2"))


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    if not (DEBIAN_BIN / "initdb").exists() or shutil.which("setpriv") is None:
        pytest.skip("PostgreSQL 15 server binaries not installed")
    with temporary_postgres() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE DATABASE cfdb ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
                " TEMPLATE template0"
            )
        yield dsn.replace("dbname=postgres", "dbname=cfdb")


def test_hubs_come_from_ha_info():
    assert [h.name for h in HUBS] == ["hub1", "hub2"]
    assert [h.ip for h in HUBS] == ["10.250.9.1", "10.250.9.2"]
    assert all(h.hostkey.startswith("SHA=") and len(h.sha) == 64 for h in HUBS)
    with pytest.raises(cfdb.CfdbError):
        cfdb.hubs_from_ha_info("[1, 2]")


def test_plan_is_deterministic_and_seed_dependent():
    first, again = cfdb.plan(200, NOW, 7, HUBS), cfdb.plan(200, NOW, 7, HUBS)
    assert first == again
    other = cfdb.plan(200, NOW, 8, HUBS)
    assert other.hosts != first.hosts


@pytest.mark.parametrize("hosts", [0, 1, 2, 3, 10, 50, 1000])
def test_counts_add_up(hosts):
    c = cfdb.expected_counts(hosts, NOW, 3, HUBS)
    assert c.hosts_total == hosts + 2
    assert c.hosts_fresh + c.hosts_stale + c.hosts_never_collected == c.hosts_live
    assert c.hosts_live + c.hosts_deleted == c.hosts_total
    assert c.status_consumed + c.status_failedc == c.status_rows
    assert sum(c.connection_errors.values()) == c.status_failedc
    assert c.hub_hostkeys == tuple(h.hostkey for h in HUBS)
    if hosts >= 50:  # a realistic mix: every category and every error message
        assert (
            min(
                c.hosts_stale,
                c.hosts_never_collected,
                c.hosts_deleted,
                c.agent_fail,
                c.hostkey_collisions,
                c.call_collected,
            )
            >= 1
        )
        assert all(c.connection_errors[m] >= 1 for m in cfdb.CONNECTION_ERRORS)
        assert c.hosts_fresh > c.hosts_live // 2


def test_bad_parameters():
    with pytest.raises(cfdb.CfdbError):
        cfdb.plan(-1, NOW, 1)
    with pytest.raises(cfdb.CfdbError):
        cfdb.plan(5, NOW.replace(tzinfo=None), 1)


def _measured(dsn: str, now: datetime) -> cfdb.SeedCounts:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return cfdb.measure(conn, now)


def test_seed_writes_exactly_the_planned_counts(pg_dsn):
    expected = cfdb.seed(pg_dsn, 500, NOW, 11, HUBS)
    assert dataclasses.replace(expected, hub_hostkeys=()) == _measured(pg_dsn, NOW)
    # seeding again replaces the data instead of adding to it
    again = cfdb.seed(pg_dsn, 50, NOW, 11, HUBS)
    assert dataclasses.replace(again, hub_hostkeys=()) == _measured(pg_dsn, NOW)


def test_hubs_report_fresh_and_the_hosts_view_hides_deleted(pg_dsn):
    counts = cfdb.seed(pg_dsn, 50, NOW, 5, HUBS)
    with psycopg.connect(pg_dsn, autocommit=True, client_encoding="UTF8") as conn:
        rows = conn.execute(
            "SELECT hostkey, lastreporttimestamp FROM __hosts WHERE hostkey = ANY(%s)",
            (list(counts.hub_hostkeys),),
        ).fetchall()
        assert len(rows) == 2
        assert all(NOW - ts < timedelta(seconds=cfdb.BLUE_HOST_HORIZON_S) for _, ts in rows)
        view = conn.execute("SELECT count(*) FROM hosts").fetchone()
        assert view == (counts.hosts_live,)
        names = conn.execute(
            "SELECT hostname FROM hosts WHERE hostkey = %s", (HUBS[0].hostkey,)
        ).fetchone()
        assert names == ("hub1",)
        status_ts = conn.execute("SELECT max(ts) FROM __status").fetchone()
        assert status_ts is not None and status_ts[0] <= int(NOW.timestamp())


def test_shift_timestamps_keeps_the_counts_relative_to_the_new_now(pg_dsn):
    expected = cfdb.seed(pg_dsn, 100, NOW, 2, HUBS)
    later = NOW + timedelta(hours=5)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        cfdb.shift_timestamps(conn, later - NOW)
    assert dataclasses.replace(expected, hub_hostkeys=()) == _measured(pg_dsn, later)


def test_cf_hub_stand_in_keeps_the_mix_as_time_passes(pg_dsn):
    """An hour after seeding, one collection round makes the data look seeded "now" again."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    cfdb.seed(pg_dsn, 200, an_hour_ago, 5, HUBS)
    expected = cfdb.expected_counts(200, an_hour_ago, 5, HUBS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert cfdb.measure(conn, datetime.now(UTC)).hosts_fresh == 0  # everything went stale
    moved = collect_once(pg_dsn)
    assert moved is not None and timedelta(minutes=59) < moved < timedelta(minutes=61)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        now_counts = cfdb.measure(conn, datetime.now(UTC))
    assert now_counts.hosts_fresh == expected.hosts_fresh
    assert now_counts.hosts_stale == expected.hosts_stale
    assert collect_once(pg_dsn) < timedelta(seconds=5)  # type: ignore[operator]
