"""PostgreSQL of a lab hub: set up by hand before the cluster starts, queried from the host.

Inside a node the data directory is /var/cfengine/state/pg/data and the Unix socket lives in
/var/cfengine/state/pg. The same socket is reachable from the host through the node's
directory (a path-based Unix socket does not belong to a network namespace), so the lab's own
queries need no subprocess and no TCP.
"""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path
from typing import Any

import psycopg

from lab import render
from lab.config import (
    PG_LOGFILE,
    PG_OS_USER,
    PG_PORT,
    PGDATA,
    LabConfig,
    NodeSpec,
)
from lab.node import NodeRunner
from lab.pglayout import LabPostgres
from lab.procs import ProcRef, pids_in_netns, runs_file, terminate

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 15000


class PgSetupError(RuntimeError):
    """A PostgreSQL step of the lab failed."""


def connect(node: NodeSpec, dbname: str = "cfdb") -> psycopg.Connection[Any]:
    return psycopg.connect(
        node.pg_dsn_host(dbname),
        connect_timeout=CONNECT_TIMEOUT_S,
        autocommit=True,
        application_name="cfha-lab",
        # cfdb is SQL_ASCII (as on a CFEngine hub): without a client encoding, psycopg would
        # return text as bytes.
        client_encoding="UTF8",
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


def query(
    node: NodeSpec, sql: str, params: tuple[Any, ...] | None = None, dbname: str = "cfdb"
) -> list[tuple[Any, ...]]:
    """Run one statement on the node's PostgreSQL; rows if it returns any, else []."""
    with connect(node, dbname) as conn, conn.cursor() as cur:
        cur.execute(sql.encode(), params)  # bytes: the lab's own trusted SQL, may hold no params
        return list(cur.fetchall()) if cur.description is not None else []


def _chown_postgres(path: Path) -> None:
    entry = pwd.getpwnam(PG_OS_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def prepare_log(runner: NodeRunner) -> None:
    """The agent's logfile /var/log/postgresql.log (in the node's private /var), for postgres."""
    runner.run(
        ["install", "-o", PG_OS_USER, "-g", PG_OS_USER, "-m", "0600", "/dev/null", str(PG_LOGFILE)],
        check=True,
    )


def initdb(
    runner: NodeRunner, pg: LabPostgres, node: NodeSpec, cfg: LabConfig, pgdata: Path = PGDATA
) -> None:
    runner.run(
        [
            pg.tool("initdb"),
            "-D",
            str(pgdata),
            "-U",
            PG_OS_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        user=PG_OS_USER,
        timeout=60,
        check=True,
    )
    on_host = node.host_path(pgdata)
    conf = on_host / "postgresql.conf"
    conf.write_text(conf.read_text() + render.postgresql_conf_extra(cfg))
    hba = on_host / "pg_hba.conf"
    hba.write_text(render.pg_hba_conf(cfg))
    archive = on_host / "pg_arch"
    archive.mkdir(mode=0o700)
    _chown_postgres(archive)


def pg_ctl(
    runner: NodeRunner, pg: LabPostgres, *args: str, timeout: float = 60.0, pgdata: Path = PGDATA
) -> None:
    runner.run(
        [pg.tool("pg_ctl"), "-D", str(pgdata), *args],
        user=PG_OS_USER,
        timeout=timeout,
        check=True,
    )


def start(runner: NodeRunner, pg: LabPostgres, pgdata: Path = PGDATA) -> None:
    # The archive lives inside the data directory: follow it when the cluster is not at PGDATA.
    archive = f"-c archive_command='cp %p {pgdata / 'pg_arch'}/%f'"
    pg_ctl(
        runner, pg, "-l", str(PG_LOGFILE), "-o", archive, "-w", "-t", "30", "start", pgdata=pgdata
    )


def stop(runner: NodeRunner, pg: LabPostgres, mode: str = "fast", pgdata: Path = PGDATA) -> None:
    pg_ctl(runner, pg, "-m", mode, "-w", "-t", "30", "stop", pgdata=pgdata)


def basebackup(
    runner: NodeRunner, pg: LabPostgres, source: NodeSpec, pgdata: Path = PGDATA
) -> None:
    """Clone the whole cluster from `source` into this node's (absent or empty) data directory."""
    runner.run(
        [
            pg.tool("pg_basebackup"),
            "-h",
            source.address,
            "-p",
            str(PG_PORT),
            "-U",
            PG_OS_USER,
            "-D",
            str(pgdata),
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ],
        user=PG_OS_USER,
        timeout=120,
        check=True,
    )


def postmaster_pid(node: NodeSpec) -> int | None:
    try:
        first = (node.pgdata_host / "postmaster.pid").read_text().splitlines()[0]
    except (FileNotFoundError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


def server_processes(netns_inode: int, server: Path) -> list[ProcRef]:
    """Every PostgreSQL server process (postmaster and children) in the node; `server` is the
    host path of the node's `postgres` binary (`LabPostgres.server_on_host`)."""
    return [ref for ref in pids_in_netns(netns_inode) if runs_file(ref.pid, server)]


def wait_no_server(netns_inode: int, server: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while server_processes(netns_inode, server):
        if time.monotonic() >= deadline:
            left = [r.pid for r in server_processes(netns_inode, server)]
            raise PgSetupError(f"PostgreSQL processes still running: {left}")
        time.sleep(0.05)


def force_stop(runner: NodeRunner, pg: LabPostgres, node: NodeSpec, netns_inode: int) -> None:
    """Stop whatever PostgreSQL runs in the node, outside pacemaker: fast, then SIGKILL."""
    server = pg.server_on_host(node)
    if not server_processes(netns_inode, server):
        return
    runner.run(
        [pg.tool("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "-t", "10", "stop"],
        user=PG_OS_USER,
        timeout=20,
    )
    left = server_processes(netns_inode, server)
    if left:
        terminate(left, timeout=0.1)
