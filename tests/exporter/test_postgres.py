"""The PostgreSQL replication collector against a real primary + standby, on each tested major."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from clusterstate.pg import PgSession, PgSettings
from clusterstate.postgres import PgFacts
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.scrape import CollectorError, ScheduledCollector, Scraper
from lab.loopback import free_port
from lab.offline.pgpair import MONITOR_ROLE, SECRET_PASSWORD, SECRET_ROLE, PgPair
from servicekit.metrics import MetricWriter
from servicekit.settings import parse_settings
from tests.support.metrics_text import sample_value, scrape_text


def collector(pair: PgPair, node: str, **overrides: object) -> PostgresCollector:
    server = pair.primary if node == "hub1" else pair.standby
    settings = {"conninfo": server.conninfo(), "expected_standbys": ["hub2"], **overrides}
    return PostgresCollector(parse_settings(PostgresConfig, settings, "test"), node)


def collect(c: PostgresCollector) -> tuple[PgFacts, str]:
    scraper = Scraper([ScheduledCollector(c, 5.0)], node="x", cluster="cfcluster")
    scrape = scraper.scrape()
    facts = scrape.facts("postgres", PgFacts)
    assert facts is not None
    text = scrape_text(scrape)
    scraper.close()
    c.close()
    return facts, text


def test_healthy_streaming_seen_from_both_sides(pg_pair: PgPair) -> None:
    pg_pair.wait_replayed()
    facts, text = collect(collector(pg_pair, "hub1"))
    assert facts.role == "primary" and facts.writable
    assert sample_value(text, "cfha_pg_up", node="hub1") == 1
    assert sample_value(text, "cfha_pg_role", node="hub1", state="primary") == 1
    assert sample_value(text, "cfha_pg_streaming_standbys", node="hub1") == 1
    assert sample_value(text, "cfha_pg_standby_connected", standby="hub2") == 1
    assert sample_value(text, "cfha_pg_standby_state", standby="hub2", state="streaming") == 1
    assert sample_value(text, "cfha_pg_standby_sync_state", standby="hub2", state="async") == 1
    assert sample_value(text, "cfha_pg_standby_lag_bytes", standby="hub2", stage="replay") == 0
    assert sample_value(text, "cfha_pg_slot_active", slot="hub2") == 1
    assert sample_value(text, "cfha_pg_timeline", node="hub1") == 1

    facts, text = collect(collector(pg_pair, "hub2"))
    assert facts.role == "standby" and not facts.writable
    assert sample_value(text, "cfha_pg_role", node="hub2", state="standby") == 1
    assert sample_value(text, "cfha_pg_wal_receiver_status", state="streaming") == 1
    assert sample_value(text, "cfha_pg_wal_receiver_timeline", node="hub2") == 1
    assert sample_value(text, "cfha_pg_replay_lag_seconds", node="hub2") == 0
    assert sample_value(text, "cfha_pg_replay_paused", node="hub2") == 0
    # Primary-only series are not published by a standby, and vice versa.
    assert sample_value(text, "cfha_pg_streaming_standbys", node="hub2") is None


def test_write_burst_raises_byte_lag_then_it_returns_to_zero(pg_pair: PgPair) -> None:
    # Pausing replay makes the burst's lag observable however fast the standby is.
    pg_pair.psql(pg_pair.standby, "SELECT pg_wal_replay_pause()")
    try:
        pg_pair.psql(
            pg_pair.primary,
            "INSERT INTO burst (payload) SELECT repeat('x', 200) FROM generate_series(1, 20000)",
        )
        deadline = time.monotonic() + 10
        while True:
            _, primary_text = collect(collector(pg_pair, "hub1"))
            replay_lag = sample_value(primary_text, "cfha_pg_standby_lag_bytes", stage="replay")
            if (replay_lag or 0) > 1_000_000 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert replay_lag is not None and replay_lag > 1_000_000
        _, standby_text = collect(collector(pg_pair, "hub2"))
        assert (sample_value(standby_text, "cfha_pg_replay_pending_bytes") or 0) > 1_000_000
        assert sample_value(standby_text, "cfha_pg_replay_paused") == 1
        assert (sample_value(standby_text, "cfha_pg_replay_lag_seconds") or 0) >= 0
    finally:
        pg_pair.psql(pg_pair.standby, "SELECT pg_wal_replay_resume()")
    pg_pair.wait_replayed()
    _, primary_text = collect(collector(pg_pair, "hub1"))
    assert sample_value(primary_text, "cfha_pg_standby_lag_bytes", stage="replay") == 0
    _, standby_text = collect(collector(pg_pair, "hub2"))
    assert sample_value(standby_text, "cfha_pg_replay_pending_bytes") == 0
    assert sample_value(standby_text, "cfha_pg_replay_lag_seconds") == 0


def switch_wal_segments(pair: PgPair, count: int) -> None:
    for _ in range(count):  # a switch needs WAL written since the last one
        pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('switch')")
        pair.psql(pair.primary, "SELECT pg_switch_wal()")


def test_abandoned_slot_goes_unreserved_then_lost(pg_pair: PgPair) -> None:
    """wal_status as PostgreSQL computes it, past max_slot_wal_keep_size (the pair keeps 64MB
    of WAL regardless: wal_keep_size), then after the checkpoint that removes its WAL."""
    primary = pg_pair.primary
    pg_pair.psql(primary, "SELECT pg_create_physical_replication_slot('abandoned', true)")
    try:
        pg_pair.psql(
            primary,
            "ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'",
            "SELECT pg_reload_conf()",
        )
        _, text = collect(collector(pg_pair, "hub1"))
        assert sample_value(text, "cfha_pg_slot_wal_status", slot="abandoned", state="reserved")
        assert sample_value(text, "cfha_pg_slot_active", slot="abandoned") == 0
        switch_wal_segments(pg_pair, 8)
        pg_pair.wait_replayed()  # hub2's own slot stays within the limit
        _, text = collect(collector(pg_pair, "hub1"))
        assert sample_value(text, "cfha_pg_slot_wal_status", slot="abandoned", state="unreserved")
        assert (sample_value(text, "cfha_pg_slot_retained_wal_bytes", slot="abandoned") or 0) > (
            64 << 20
        )
        pg_pair.psql(primary, "CHECKPOINT")
        _, text = collect(collector(pg_pair, "hub1"))
        assert sample_value(text, "cfha_pg_slot_wal_status", slot="abandoned", state="lost") == 1
        assert sample_value(text, "cfha_pg_slot_wal_status", slot="hub2", state="reserved") == 1
    finally:
        pg_pair.psql(
            primary,
            "SELECT pg_drop_replication_slot('abandoned')",
            "ALTER SYSTEM RESET max_slot_wal_keep_size",
            "SELECT pg_reload_conf()",
        )
    pg_pair.wait_replayed()


def test_failing_archive_command_is_counted(pg_pair: PgPair) -> None:
    primary = pg_pair.primary
    _, text = collect(collector(pg_pair, "hub1"))
    failed_before = sample_value(text, "cfha_pg_archiver_failed_total", node="hub1")
    assert failed_before is not None
    pg_pair.psql(primary, "ALTER SYSTEM SET archive_command = 'false'", "SELECT pg_reload_conf()")
    try:
        switch_wal_segments(pg_pair, 1)
        deadline = time.monotonic() + 20
        while True:
            _, text = collect(collector(pg_pair, "hub1"))
            failed = sample_value(text, "cfha_pg_archiver_failed_total", node="hub1")
            if (failed or 0) > failed_before or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert failed is not None and failed > failed_before
        last_failure = sample_value(text, "cfha_pg_archiver_last_failure_timestamp_seconds")
        assert last_failure is not None and abs(time.time() - last_failure) < 60
        assert sample_value(text, "cfha_pg_archiving_enabled", node="hub1") == 1
    finally:
        pg_pair.psql(primary, "ALTER SYSTEM RESET archive_command", "SELECT pg_reload_conf()")


def test_stopped_standby_is_missing_not_caught_up(pg_pair: PgPair) -> None:
    pg_pair.stop_standby()
    try:
        facts, text = collect(collector(pg_pair, "hub1"))
        assert facts.streaming_standbys == 0
        assert sample_value(text, "cfha_pg_streaming_standbys", node="hub1") == 0
        assert sample_value(text, "cfha_pg_standby_connected", standby="hub2") == 0
        assert (
            sample_value(text, "cfha_pg_standby_state", standby="hub2", state="disconnected") == 1
        )
        # A missing standby never reads as zero lag: no lag series at all.
        assert (
            sample_value(text, "cfha_pg_standby_lag_bytes", standby="hub2", stage="replay") is None
        )
        assert (
            sample_value(text, "cfha_pg_standby_lag_seconds", standby="hub2", stage="replay")
            is None
        )
        assert sample_value(text, "cfha_pg_slot_active", slot="hub2") == 0
    finally:
        pg_pair.start_standby()


def test_unreachable_database_is_reported_as_connect_and_down() -> None:
    config = PostgresConfig(conninfo=f"host=127.0.0.1 port={free_port()} user=x dbname=x")
    c = PostgresCollector(config, "hub1")
    out = MetricWriter()
    with pytest.raises(CollectorError) as failure:
        c.collect(out)
    assert failure.value.reason == "connect"
    assert isinstance(failure.value.facts, PgFacts) and not failure.value.facts.up
    facts, text = collect(PostgresCollector(config, "hub1"))
    assert not facts.up
    assert sample_value(text, "cfha_pg_up", node="hub1") == 0
    assert sample_value(text, "cfha_pg_role", node="hub1", state="primary") == 0
    assert sample_value(text, "cfha_exporter_collector_success", collector="postgres") == 0
    assert (
        sample_value(
            text, "cfha_exporter_collector_failure_reason", collector="postgres", state="connect"
        )
        == 1
    )


class SlowSession(PgSession):
    """A real session whose statement first sleeps past the statement timeout."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        return super().query("SELECT pg_sleep(3)")


def test_statement_timeout_is_reported_as_timeout(pg_pair: PgPair) -> None:
    session = SlowSession(
        PgSettings(conninfo=pg_pair.primary.conninfo(), statement_timeout_seconds=0.2)
    )
    c = PostgresCollector(PostgresConfig(), "hub1", session=session)
    started = time.monotonic()
    with pytest.raises(CollectorError) as failure:
        c.collect(MetricWriter())
    assert failure.value.reason == "timeout"
    assert time.monotonic() - started < 2.5
    c.close()


def test_wrong_password_is_auth_and_the_password_never_leaks(
    pg_pair: PgPair, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    conninfo = pg_pair.primary.conninfo(user=SECRET_ROLE) + " password=inline-secret-xyz"
    facts, text = collect(
        PostgresCollector(PostgresConfig(conninfo=conninfo, password_file=wrong), "hub1")
    )
    assert not facts.up
    assert (
        sample_value(
            text, "cfha_exporter_collector_failure_reason", collector="postgres", state="auth"
        )
        == 1
    )
    assert "inline-secret-xyz" not in (facts.error or "") and "inline-secret-xyz" not in caplog.text
    assert "not-the-password" not in caplog.text

    right = tmp_path / "right"
    right.write_text(SECRET_PASSWORD + "\n")
    facts, _ = collect(
        PostgresCollector(
            PostgresConfig(
                conninfo=pg_pair.primary.conninfo(user=SECRET_ROLE), password_file=right
            ),
            "hub1",
        )
    )
    assert facts.up
    assert SECRET_PASSWORD not in caplog.text


def test_role_without_pg_monitor_is_a_permission_failure(pg_pair: PgPair) -> None:
    pg_pair.psql(
        pg_pair.primary,
        "DO $$BEGIN CREATE ROLE plain_user LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$",
    )
    facts, text = collect(
        PostgresCollector(
            PostgresConfig(conninfo=pg_pair.primary.conninfo(user="plain_user")), "hub1"
        )
    )
    assert facts.up and facts.role == "primary" and not facts.standbys
    assert sample_value(text, "cfha_pg_streaming_standbys") is None
    assert (
        sample_value(
            text, "cfha_exporter_collector_failure_reason", collector="postgres", state="permission"
        )
        == 1
    )


def test_reconnects_after_the_server_restarts(pg_pair: PgPair) -> None:
    c = collector(pg_pair, "hub2")
    assert c.collect(MetricWriter()).up
    pg_pair.stop_standby()
    try:
        with pytest.raises(CollectorError):
            c.collect(MetricWriter())
    finally:
        pg_pair.start_standby()
    assert c.collect(MetricWriter()).up
    c.close()


def test_monitor_role_is_the_documented_minimum(pg_pair: PgPair) -> None:
    members = pg_pair.psql(
        pg_pair.primary,
        f"SELECT string_agg(b.rolname, ',') FROM pg_auth_members m "
        f"JOIN pg_roles r ON r.oid = m.member JOIN pg_roles b ON b.oid = m.roleid "
        f"WHERE r.rolname = '{MONITOR_ROLE}'",
    )
    assert members == "pg_monitor"


def test_sql_ascii_database_like_cfengine_cfdb(pg_pair: PgPair) -> None:
    """CFEngine creates cfdb as SQL_ASCII; text must still arrive as text, not bytes."""
    exists = pg_pair.psql(pg_pair.primary, "SELECT 1 FROM pg_database WHERE datname = 'cfdb_ascii'")
    if not exists:
        pg_pair.psql(
            pg_pair.primary,
            "CREATE DATABASE cfdb_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0",
        )
    config = PostgresConfig(conninfo=pg_pair.primary.conninfo(dbname="cfdb_ascii"))
    facts, text = collect(PostgresCollector(config, "hub1"))
    major = pg_pair.install.major
    assert isinstance(facts.version, str) and facts.version.startswith(f"{major}.")
    assert f'version="{major}.' in text
    assert facts.version_num is not None and facts.version_num // 10000 == major
