"""The exporter process under the faults of issue 19: idle connections by the thousand, a burst of
concurrent scrapes, SIGTERM while collectors hang.

The real CLI in a subprocess, under the descriptor limit of the shipped unit (`LimitNOFILE`),
against a real PostgreSQL pair. The hanging crm_mon is a fake (a script that sleeps): the one
thing that cannot be made real.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from exporter.registry import COLLECTORS, DERIVED
from lab.loopback import free_port
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from tests.deploy.units import UNITS, unit_settings
from tests.support.daemons import Daemon, wait_for
from tests.support.metrics_text import sample_value
from tests.support.pgskip import newest_pg

IDLE_CONNECTIONS = 1000
BURST = 20
# Distinctive text of the postgres collector's statement, as PostgreSQL logs it.
STATEMENT_MARK = "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')"
BURST_ROLE = "cfha_burst"  # its statements, and only its, are logged (log_statement=all)


def unit_nofile() -> int:
    return int(unit_settings(UNITS / "cfha-exporter.service")["LimitNOFILE"][0])


@contextlib.contextmanager
def exporter(
    tmp_path: Path, collectors_yaml: str, enabled: Sequence[str], nofile: int | None = None
) -> Iterator[tuple[Daemon, str]]:
    config = tmp_path / "exporter.yml"
    config.write_text("cluster: cfcluster\nnode: hub1\n" + textwrap.dedent(collectors_yaml))
    port = free_port()
    off = [f"--no-collector.{e.name}" for e in COLLECTORS + DERIVED if e.name not in enabled]
    argv = ["--config.file", str(config), "--web.listen-address", f"127.0.0.1:{port}", *off]
    limit = [] if nofile is None else ["prlimit", f"--nofile={nofile}:{nofile}", "--"]
    daemon = Daemon(
        "cfha-exporter",
        [*limit, sys.executable, "-m", "exporter", *argv],
        tmp_path / "exporter.log",
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base + "/healthz", 2)[0] == 200, f"the exporter\n{daemon.output()}")
        yield daemon, base
    finally:
        daemon.stop()


def get(url: str, timeout: float) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return int(response.status), response.read().decode()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def many_fds() -> Iterator[None]:
    """This test process holds the client ends: raise its own soft limit for them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * IDLE_CONNECTIONS), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_idle_connections_neither_block_a_scrape_nor_stay_open(
    tmp_path: Path, many_fds: None
) -> None:
    with exporter(tmp_path, "", [], nofile=unit_nofile()) as (daemon, base):
        idle: list[socket.socket] = []
        try:
            host, port = base.removeprefix("http://").split(":")
            for _ in range(IDLE_CONNECTIONS):
                idle.append(socket.create_connection((host, int(port)), timeout=5))
            started = time.monotonic()
            status, body = get(base + "/metrics", 10)
            assert status == 200 and "cfha_exporter_build_info{" in body
            assert time.monotonic() - started < 5
            # The server closes them (5 s without a request), and the descriptors go back.
            wait_for(lambda: open_fds(daemon.pid) < 100, "the idle connections to close", 30)
            for sock in idle[:10]:
                sock.settimeout(5)
                assert sock.recv(1) == b""  # closed by the server
        finally:
            for sock in idle:
                sock.close()
        assert daemon.alive()


@pytest.fixture(scope="module")
def pg() -> PgInstall:
    """One major: what is under test is the serving (a frozen server is only the hang); the
    SIGTERM test alone waits 20 s per major."""
    return newest_pg()


@pytest.fixture
def burst_pair(pg_pair: PgPair) -> Iterator[PgPair]:
    pg_pair.psql(
        pg_pair.primary,
        f"CREATE ROLE {BURST_ROLE} LOGIN IN ROLE pg_monitor",
        f"ALTER ROLE {BURST_ROLE} SET log_statement = 'all'",
    )
    try:
        yield pg_pair
    finally:
        pg_pair.psql(pg_pair.primary, f"DROP ROLE {BURST_ROLE}")


def logged_collections(pair: PgPair) -> int:
    return pair.primary.log.read_text(errors="replace").count(STATEMENT_MARK)


def test_a_burst_of_concurrent_scrapes_makes_one_collection(
    tmp_path: Path, burst_pair: PgPair
) -> None:
    """Counted where it matters: the statements PostgreSQL ran (its statement log)."""
    conninfo = burst_pair.primary.conninfo(user=BURST_ROLE)
    collectors = f"collectors:\n  postgres:\n    conninfo: '{conninfo}'\n"
    before = logged_collections(burst_pair)
    with exporter(tmp_path, collectors, ["postgres"]) as (_, base):
        for expected in (1, 2):
            answers = burst_of_scrapes(base + "/metrics", BURST)
            assert len(answers) == BURST and all(status == 200 for status, _ in answers)
            assert all(sample_value(body, "cfha_pg_up", node="hub1") == 1 for _, body in answers)
            # The server writes its log itself: poll until the count reaches what is expected,
            # then check it went no further.
            wait_for(lambda: logged_collections(burst_pair) - before >= expected, "the log")  # noqa: B023
            assert logged_collections(burst_pair) - before == expected
            time.sleep(1.1)  # the next burst comes after the reuse window: a collection of its own


def burst_of_scrapes(url: str, count: int) -> list[tuple[int, str]]:
    """`count` GETs released at the same instant, each from its own thread and connection."""
    barrier = threading.Barrier(count)
    answers: list[tuple[int, str]] = []

    def scrape() -> None:
        barrier.wait(timeout=10)
        answers.append(get(url, 20))

    threads = [threading.Thread(target=scrape) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_sigterm_exits_within_two_seconds_while_collectors_hang(
    tmp_path: Path, pg_pair: PgPair
) -> None:
    """crm_mon hangs (its whole process group must go), PostgreSQL is frozen mid-query."""
    pid_file = tmp_path / "crm_mon.pids"
    fake = tmp_path / "crm_mon"
    # A shell with a child: both must be gone after the exporter exits.
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $$ $! > {pid_file}\nwait\n")
    fake.chmod(0o755)
    collectors = f"""\
        collectors:
          postgres:
            conninfo: '{pg_pair.primary.conninfo()}'
            statement_timeout_seconds: 20
            deadline_seconds: 30
          pacemaker:
            crm_mon_path: {fake}
            crm_mon_timeout_seconds: 20
            cibadmin_timeout_seconds: 5
            deadline_seconds: 30
        """
    with exporter(tmp_path, collectors, ["postgres", "pacemaker"]) as (daemon, base):
        status, _ = get(base + "/metrics", 60)  # opens the connection; crm_mon times out
        assert status == 200
        pid_file.unlink()
        with pg_pair.primary.frozen():
            scraping = threading.Thread(target=lambda: _quietly(get, base + "/metrics", 60))
            scraping.start()
            wait_for(pid_file.exists, "the hanging crm_mon to start")
            tools = [int(pid) for pid in pid_file.read_text().split()]
            started = time.monotonic()
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGTERM)
            daemon.process.wait(timeout=10)
            took = time.monotonic() - started
            scraping.join(timeout=10)
        assert took < 2.0, f"{took:.2f}s\n{daemon.output()}"
        for pid in tools:
            wait_for(lambda: not _alive(pid), f"crm_mon's process {pid} to be gone", 5)  # noqa: B023
        assert "Traceback" not in daemon.output()


def _quietly(call: object, *args: object) -> None:
    with contextlib.suppress(OSError):
        call(*args)  # type: ignore[operator]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone, only not yet reaped
