"""The PostgreSQL and local-file readers against a real primary/standby pair on loopback."""

from __future__ import annotations

from dataclasses import replace

from lab.offline.pgpair import PgPair
from remediator.cluster import PgsqlParams
from remediator.config import PostgresConfig
from remediator.live_host import probe_host
from remediator.live_pg import PgReader


def params(pair: PgPair, port: int) -> PgsqlParams:
    return PgsqlParams(
        resource="cfpgsql",
        clone="mscfpgsql",
        pgdata=str(pair.standby.datadir),
        tmpdir=str(pair.base / "tmp"),
        pgdba="postgres",
        pgctl="/usr/lib/postgresql/15/bin/pg_ctl",
        master_ip="127.0.0.1",
        repuser="postgres",
        pgport=port,
        socketdir=str(pair.base),
    )


def test_primary_and_standby_views(pg_pair: PgPair) -> None:
    reader = PgReader(PostgresConfig())
    try:
        primary = reader.primary(params(pg_pair, pg_pair.primary.port))
        assert primary.reachable and primary.in_recovery is False
        assert primary.timeline == 1
        assert primary.streaming_to == ("hub2",)
        assert primary.database_bytes is not None and primary.database_bytes > 1_000_000
        local = reader.local(params(pg_pair, pg_pair.standby.port))
        assert local.reachable and local.in_recovery is True
        assert local.received_timeline == 1 and local.receiver_status == "streaming"
        nowhere = reader.primary(replace(params(pg_pair, 1), master_ip="127.0.0.1"))
        assert not nowhere.reachable and nowhere.error
        no_vip = reader.primary(replace(params(pg_pair, 1), master_ip=None))
        assert not no_vip.reachable
    finally:
        reader.close()


def test_stopped_standby_is_unreachable_and_its_files_say_so(pg_pair: PgPair) -> None:
    p = params(pg_pair, pg_pair.standby.port)
    running = probe_host(p.pgdata or "", p.tmpdir or "")
    assert running.pgdata_exists and not running.pgdata_is_symlink
    assert running.pgdata_owner == "postgres" and running.pgdata_has_version
    assert running.postmaster_running is True and running.pgsql_lock_present is False
    assert running.free_bytes and running.free_bytes > 0
    assert {"postgresql.conf", "pg_hba.conf"} <= running.pgdata_files
    reader = PgReader(PostgresConfig())
    pg_pair.stop_standby()
    try:
        assert not reader.local(p).reachable
        stopped = probe_host(p.pgdata or "", p.tmpdir or "")
        assert stopped.postmaster_running is False
        (pg_pair.base / "tmp").mkdir(exist_ok=True)
        (pg_pair.base / "tmp" / "PGSQL.lock").touch()
        assert probe_host(p.pgdata or "", p.tmpdir or "").pgsql_lock_present is True
    finally:
        reader.close()
        pg_pair.start_standby()


def test_missing_data_directory(tmp_path: object) -> None:
    missing = probe_host(f"{tmp_path}/data", f"{tmp_path}/tmp")
    assert missing.pgdata_exists is False and missing.pgdata_has_version is False
    assert missing.postmaster_running is False and missing.pgsql_lock_present is False
