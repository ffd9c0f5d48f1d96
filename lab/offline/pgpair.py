"""A real PostgreSQL primary + streaming standby on free loopback ports, in a temporary dir.

Used by tests and benchmarks that need real replication but not the whole lab cluster, on any
installation of `lab.offline.pginstall` (Debian's 15, the wheel's 18). Runs the servers as the
`postgres` OS user when started as root (initdb refuses root). Every server is stopped by its
postmaster PID through pg_ctl, and the directory removed, in `close()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lab.loopback import free_port
from lab.offline.pginstall import PgInstall, db_user_ids
from lab.polling import poll

MONITOR_ROLE = "cfha_monitor"  # a pg_monitor member, as the exporter runs in production
# A role that must authenticate with a password (the exporter's password_file path), on a
# throwaway server that listens on 127.0.0.1 only.
SECRET_ROLE = "cfha_secret"  # noqa: S105
SECRET_PASSWORD = "s3cret-not-logged"  # noqa: S105


@dataclass
class PgServer:
    name: str
    port: int
    datadir: Path
    log: Path

    def conninfo(self, user: str = MONITOR_ROLE, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname={dbname}"

    def processes(self) -> list[int]:
        """The postmaster's PID and its children's (backends, WAL sender, checkpointer...)."""
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # the field after the parenthesised command name: state, then the parent PID
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """The whole server stopped (SIGSTOP), as a hung host looks: its kernel still accepts
        connections and acknowledges packets, the server answers nothing. Resumed on exit,
        also when the test fails."""
        pids = self.processes()
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


class PgPair:
    """Primary `hub1` streaming to standby `hub2` (application_name = node name, as in CFEngine)."""

    def __init__(self, install: PgInstall, base: Path | None = None) -> None:
        self.install = install
        self.base = base or Path(tempfile.mkdtemp(prefix=f"cfha-{install.id}-"))
        self.base.chmod(0o755)
        ids = db_user_ids()
        if ids:
            os.chown(self.base, ids["user"], ids["group"])
        self.primary = PgServer("hub1", free_port(), self.base / "hub1", self.base / "hub1.log")
        self.standby = PgServer("hub2", free_port(), self.base / "hub2", self.base / "hub2.log")

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> PgPair:
        p = self.primary
        self._pg(
            "initdb",
            "-D",
            str(p.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--data-checksums",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        conf = (
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.base}'\n"
            "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n"
            "wal_log_hints = on\nhot_standby = on\nwal_keep_size = 64MB\nfsync = off\n"
            "archive_mode = on\n"
            f"archive_command = 'cp %p {self.base}/archive-%f'\n"
        )
        with (p.datadir / "postgresql.conf").open("a") as f:
            f.write(conf)
        hba = p.datadir / "pg_hba.conf"
        hba.write_text(
            f"host all {SECRET_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n"
        )
        self._start(p)
        self.psql(
            p,
            f"CREATE ROLE {MONITOR_ROLE} LOGIN",
            f"GRANT pg_monitor TO {MONITOR_ROLE}",
            f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET_PASSWORD}'",
            f"GRANT pg_monitor TO {SECRET_ROLE}",
            "SELECT pg_create_physical_replication_slot('hub2')",
            "CREATE TABLE IF NOT EXISTS burst (id bigserial PRIMARY KEY, payload text)",
        )
        self._clone_standby()
        return self

    def _clone_standby(self) -> None:
        s = self.standby
        self._pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-D",
            str(s.datadir),
            "-R",
            "-X",
            "stream",
            "-S",
            "hub2",
            "-c",
            "fast",
            "-d",
            "application_name=hub2",
        )
        self._start(s)
        self.wait_streaming()

    def stop_standby(self) -> None:
        self._stop(self.standby)

    def start_standby(self) -> None:
        self._start(self.standby)
        self.wait_streaming()

    def close(self) -> None:
        for server in (self.standby, self.primary):
            self._stop(server)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------------------
    def psql(self, server: PgServer, *commands: str, dbname: str = "postgres") -> str:
        argv = [
            str(self.install.tool("psql")),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-d",
            dbname,
        ]
        for command in commands:
            argv += ["-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip()

    def wait_streaming(self, timeout: float = 30.0) -> None:
        query = "SELECT state FROM pg_stat_replication WHERE application_name = 'hub2'"
        poll(
            lambda: self.psql(self.primary, query) == "streaming",
            timeout=timeout,
            what="standby hub2 streaming",
            interval=0.05,
        )

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Until the primary sees the standby has replayed everything written so far.

        The primary learns replay progress from the standby's feedback, so a fresh standby's
        replay_lsn is NULL until some WAL flows: write a little to make it report.
        """
        self.psql(self.primary, "INSERT INTO burst (payload) VALUES ('sync')")
        target = self.psql(self.primary, "SELECT pg_current_wal_lsn()")
        replayed = (
            "SELECT coalesce(bool_and(replay_lsn >= "  # noqa: S608 - the LSN is the server's
            f"'{target}'::pg_lsn), false) FROM pg_stat_replication "
            "WHERE application_name = 'hub2'"
        )
        poll(
            lambda: self.psql(self.primary, replayed) == "t",
            timeout=timeout,
            what=f"standby hub2 replayed up to {target}",
            interval=0.05,
        )

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.install.tool(tool)), *args],
            capture_output=True,
            check=True,
            timeout=120,
            cwd=self.base,
            **db_user_ids(),
        )

    def _start(self, server: PgServer) -> None:
        self._pg(
            "pg_ctl",
            "-D",
            str(server.datadir),
            "-l",
            str(server.log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {server.port}",
            "start",
        )

    def _stop(self, server: PgServer) -> None:
        if (server.datadir / "postmaster.pid").exists():
            subprocess.run(
                [
                    str(self.install.tool("pg_ctl")),
                    "-D",
                    str(server.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
                check=False,
                capture_output=True,
                timeout=60,
                cwd=self.base,
                **db_user_ids(),
            )
