"""The PostgreSQL and local-file readers against a real primary/standby pair on loopback, on each
tested PostgreSQL major."""

from __future__ import annotations

import time
from dataclasses import replace

from clusterstate.host import pgsql_lock, probe_data_dir
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.postgres_read import ConnectionSettings, PgsqlConnections
from lab.offline.pgpair import PgPair


def params(pair: PgPair, port: int) -> PgsqlParams:
    return PgsqlParams(
        resource="cfpgsql",
        clone="mscfpgsql",
        pgdata=str(pair.standby.datadir),
        tmpdir=str(pair.base / "tmp"),
        pgdba="postgres",
        pgctl=str(pair.install.tool("pg_ctl")),
        psql=None,
        master_ip="127.0.0.1",
        repuser="postgres",
        pgport=port,
        socketdir=str(pair.base),
        logfile=None,
        agent="ocf:heartbeat:pgsql",
    )


def test_primary_and_standby_views(pg_pair: PgPair) -> None:
    reader = PgsqlConnections(ConnectionSettings())
    try:
        primary, clone_size = reader.primary(params(pg_pair, pg_pair.primary.port))
        assert primary.up and primary.in_recovery is False
        assert primary.timeline == 1
        assert primary.streaming_to == ("hub2",)
        # the databases, pg_wal and the archive (none here: nothing to copy, 0 bytes)
        assert clone_size is not None and (clone_size.total_bytes or 0) > 1_000_000
        assert clone_size.archive_present is False and clone_size.archive_bytes == 0
        local = reader.local(params(pg_pair, pg_pair.standby.port))
        assert local.up and local.in_recovery is True
        assert local.received_timeline == 1
        assert local.receiver is not None and local.receiver.status == "streaming"
        nowhere, no_size = reader.primary(replace(params(pg_pair, 1), master_ip="127.0.0.1"))
        assert not nowhere.up and nowhere.error and no_size is None
        no_vip, _ = reader.primary(replace(params(pg_pair, 1), master_ip=None))
        assert not no_vip.up and no_vip.in_recovery is None
    finally:
        reader.close()


def test_stopped_standby_is_unreachable_and_its_files_say_so(pg_pair: PgPair) -> None:
    p = params(pg_pair, pg_pair.standby.port)
    running = probe_data_dir(p.pgdata or "")
    assert running.exists and not running.is_symlink
    assert running.owner == "postgres" and running.has_version
    assert running.postmaster_running is True
    assert pgsql_lock(p.lock_path, time.time()).present is False
    assert running.free_bytes and running.free_bytes > 0
    assert {"postgresql.conf", "pg_hba.conf"} <= running.config_files
    reader = PgsqlConnections(ConnectionSettings())
    pg_pair.stop_standby()
    try:
        assert not reader.local(p).up
        assert probe_data_dir(p.pgdata or "").postmaster_running is False
        (pg_pair.base / "tmp").mkdir(exist_ok=True)
        (pg_pair.base / "tmp" / "PGSQL.lock").touch()
        assert pgsql_lock(p.lock_path, time.time()).present is True
    finally:
        reader.close()
        pg_pair.start_standby()


def test_missing_data_directory(tmp_path: object) -> None:
    missing = probe_data_dir(f"{tmp_path}/data")
    assert missing.exists is False and missing.has_version is False
    assert missing.postmaster_running is False
    assert pgsql_lock(f"{tmp_path}/tmp/PGSQL.lock", time.time()).present is False
