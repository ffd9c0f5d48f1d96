"""The readers of CFEngine's daemons, Mission Portal's synced files and disk room, on real files,
real processes and a real PostgreSQL: well-formed, missing, garbage and unreadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterstate.daemons import read_daemon, read_daemons
from clusterstate.digest import Digester
from clusterstate.disk import (
    CloneSize,
    decode_clone_size,
    filesystem,
    read_clone_size,
    reclone_room,
)
from clusterstate.mission_portal import (
    CONFIG_FILES,
    NOTIFICATION_SCRIPTS,
    read_mission_portal_config,
)
from clusterstate.pg import PgSession, PgSettings
from exporter.collectors.disk import distinct_filesystems
from lab.offline.pgpair import PgPair
from tests.support.unprivileged import as_nobody, open_directory

# A stand-in daemon: a process that names itself (its comm) as the daemon does, then waits.
NAMED = (
    "import ctypes, sys, time; ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0); "
    "print('ready', flush=True); time.sleep(120)"
)


@pytest.fixture
def cf_serverd(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", NAMED, "cf-serverd"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        (tmp_path / "cf-serverd.pid").write_text(f"{child.pid}\n")
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


# -- daemons -----------------------------------------------------------------------------------
def test_a_running_daemon_then_frozen_then_gone(
    tmp_path: Path, cf_serverd: subprocess.Popen[str]
) -> None:
    assert read_daemon("cf-serverd", tmp_path).state == "running"
    cf_serverd.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while read_daemon("cf-serverd", tmp_path).state != "stopped":
        assert time.monotonic() < deadline, "SIGSTOP not seen in /proc"
        time.sleep(0.05)
    cf_serverd.kill()
    cf_serverd.wait(timeout=10)
    gone = read_daemon("cf-serverd", tmp_path)
    assert gone.state == "absent" and "is gone" in (gone.detail or "")


def test_pid_files_missing_garbage_or_reused(tmp_path: Path) -> None:
    assert read_daemon("cf-hub", tmp_path).state == "absent"  # no pid file: not running
    (tmp_path / "cf-hub.pid").write_text("not a pid\n")
    assert read_daemon("cf-hub", tmp_path).detail == f"{tmp_path}/cf-hub.pid holds no PID"
    (tmp_path / "cf-hub.pid").write_text(f"{os.getpid()}\n")  # a PID reused by another program
    reused = read_daemon("cf-hub", tmp_path)
    assert reused.state == "absent" and "not cf-hub" in (reused.detail or "")
    both = read_daemons(tmp_path)
    assert set(both.states) == {"cf-hub", "cf-serverd"}


def test_an_unreadable_pid_file() -> None:
    with open_directory() as base:
        (base / "cf-serverd.pid").write_text("1\n")
        (base / "cf-serverd.pid").chmod(0o600)
        found = as_nobody(lambda: read_daemon("cf-serverd", base))
    assert found.state == "unreadable" and found.running is None


# -- Mission Portal's files --------------------------------------------------------------------
def mp_workdir(base: Path, scripts: Path) -> Path:
    for name, relative in CONFIG_FILES.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<?php $config['{name}'] = 'secret';\n")
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "notify.sh").write_text("#!/bin/sh\necho hi\n")
    return base


def test_digests_change_with_the_content_and_the_key(tmp_path: Path) -> None:
    scripts = tmp_path / "notification_scripts"
    work = mp_workdir(tmp_path / "cfengine", scripts)
    first = read_mission_portal_config(work, scripts)
    assert set(first.states.values()) == {"ok"} and first.files_in_scripts == 1
    assert read_mission_portal_config(work, scripts).digests == first.digests  # stable
    (work / CONFIG_FILES["config.php"]).write_text("<?php $config['x'] = 'changed';\n")
    (scripts / "notify.sh").chmod(0o755)  # the executable bit counts, as ha.cf copies it
    second = read_mission_portal_config(work, scripts)
    changed = {n for n in first.digests if first.digests[n] != second.digests[n]}
    assert changed == {"config.php", NOTIFICATION_SCRIPTS}
    keyed = read_mission_portal_config(work, scripts, Digester(b"a shared secret"))
    assert all(keyed.digests[n] != second.digests[n] for n in keyed.digests)


def test_missing_files_and_an_unreadable_one() -> None:
    with open_directory() as base:
        scripts = base / "absent-scripts"
        work = mp_workdir(base / "cfengine", base / "scripts")
        (work / CONFIG_FILES["appsettings.php"]).unlink()
        (work / CONFIG_FILES["cf_robot.php"]).chmod(0o600)
        found = as_nobody(lambda: read_mission_portal_config(work, scripts))
    assert found.states["appsettings.php"] == "missing"
    assert found.states["cf_robot.php"] == "unreadable" and found.unreadable == ("cf_robot.php",)
    assert found.states[NOTIFICATION_SCRIPTS] == "missing"
    assert "cf_robot.php" not in found.digests and "config.php" in found.digests


# -- disk --------------------------------------------------------------------------------------
def test_the_reclone_rule() -> None:
    size = CloneSize(databases_bytes=600, wal_bytes=300, archive_bytes=100)
    assert size.total_bytes == 1000
    assert reclone_room(1200, size, 1.2).fits is True
    assert reclone_room(1199, size, 1.2) == reclone_room(1199, size, 1.2)
    assert reclone_room(1199, size, 1.2).fits is False
    assert reclone_room(1199, size, 1.2).needed_bytes == 1200
    unknown_archive = CloneSize(databases_bytes=600, wal_bytes=300, archive_bytes=None)
    assert reclone_room(10**12, unknown_archive, 1.2).fits is None  # unknown never fits
    assert reclone_room(None, size, 1.2).fits is None
    assert reclone_room(10, None, 1.2).needed_bytes is None


def test_clone_size_decoding() -> None:
    row = {
        "databases": 10,
        "wal": {"bytes": 32, "files": 2},
        "archive": {"isdir": True, "bytes": 48, "files": 3},
    }
    assert decode_clone_size(row, archive_allowed=True).total_bytes == 90
    no_archive = decode_clone_size({**row, "archive": {"isdir": None}}, archive_allowed=True)
    assert no_archive.archive_present is False and no_archive.total_bytes == 42
    denied = decode_clone_size({"databases": 10}, archive_allowed=False)
    assert denied.total_bytes is None and "pg_ls_dir" in (denied.archive_error or "")
    not_dir = decode_clone_size({**row, "archive": {"isdir": False}}, archive_allowed=True)
    assert not_dir.archive_bytes is None and not_dir.archive_error


def test_filesystems(tmp_path: Path) -> None:
    fs = filesystem(tmp_path)
    assert (
        fs.error is None
        and (fs.free_bytes or 0) > 0
        and (fs.size_bytes or 0) >= (fs.free_bytes or 0)
    )
    missing = filesystem(tmp_path / "absent")
    assert missing.free_bytes is None and missing.error_reason == "unavailable"
    found = distinct_filesystems(
        {"pgdata": tmp_path, "archive": tmp_path / "x", "workdir": tmp_path}
    )
    assert list(found) == ["pgdata"]  # one filesystem: published once
    shm = Path("/dev/shm")
    if shm.is_dir() and os.stat(shm).st_dev != os.stat(tmp_path).st_dev:
        assert list(distinct_filesystems({"pgdata": tmp_path, "workdir": shm})) == [
            "pgdata",
            "workdir",
        ]


def test_clone_size_from_postgresql(pg_pair: PgPair) -> None:
    """Superuser: every part; the monitoring role: the archive only once granted."""
    data = Path(pg_pair.psql(pg_pair.primary, "SHOW data_directory").strip())
    archive = data / "pg_arch_test"
    archive.mkdir()
    try:
        (archive / "000000010000000000000001").write_bytes(b"\0" * 4096)
        (archive / "000000010000000000000002").write_bytes(b"\0" * 1024)
        admin = PgSession(PgSettings(pg_pair.primary.conninfo(user="postgres")))
        size = read_clone_size(admin, "pg_arch_test")
        assert (size.archive_bytes, size.archive_files, size.archive_present) == (5120, 2, True)
        assert (size.databases_bytes or 0) > 0 and (size.wal_files or 0) > 0
        assert read_clone_size(admin, "no_archive_here").archive_bytes == 0
        monitor = PgSession(PgSettings(pg_pair.primary.conninfo()))
        limited = read_clone_size(monitor, "pg_arch_test")
        assert limited.archive_bytes is None and limited.wal_bytes is not None
        pg_pair.psql(
            pg_pair.primary,
            "GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean) TO cfha_monitor",
            "GRANT EXECUTE ON FUNCTION pg_stat_file(text, boolean) TO cfha_monitor",
        )
        assert read_clone_size(monitor, "pg_arch_test").archive_bytes == 5120
        admin.close()
        monitor.close()
    finally:
        for child in archive.iterdir():
            child.unlink()
        archive.rmdir()
