"""pytest fixtures for any test package that needs the live lab, and a throwaway PostgreSQL.

tests/conftest.py offers them to every package:

    from tests.support.lab_fixtures import healthy_lab, lab_cluster  # noqa: F401  (fixtures)

`lab_cluster` (session scope) starts a lab once per test session and always tears it down.
Its id is CFHA_LAB_ID when set, otherwise the first free id in 1..20 (claimed atomically, so
concurrent test runs on one machine never collide; id 0 is left to `make lab-up`). Several
conftests using it in one session share the same lab. `healthy_lab` (function scope) restores
that lab to healthy before each test. `make_lab_fixture(...)` builds variants (e.g. more hosts).

`temporary_postgres()` runs a PostgreSQL 15 in a temporary directory (as user postgres when
run as root) for tests that need a real database but no cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster import Lab, claim_free_lab
from lab.config import PG_OS_USER
from lab.lifecycle import unavailable_reason
from lab.node import user_argv, user_env
from lab.offline.pginstall import DEBIAN_BIN

_shared: dict[str, tuple[Lab, int]] = {}


def acquire_lab(lab_id: int | None = None, seed_hosts: int = 50) -> Lab:
    """Start (or join, within this process) the shared lab for `lab_id` (None: env or free)."""
    env_id = os.environ.get("CFHA_LAB_ID")
    key = str(lab_id) if lab_id is not None else (env_id or "auto")
    if key in _shared:
        lab, users = _shared[key]
        _shared[key] = (lab, users + 1)
        return lab
    lab = Lab(int(key)) if key != "auto" else claim_free_lab()
    lab.up(seed_hosts=seed_hosts)
    _shared[key] = (lab, 1)
    return lab


def release_lab(lab: Lab) -> None:
    for key, (shared, users) in list(_shared.items()):
        if shared is lab:
            if users > 1:
                _shared[key] = (shared, users - 1)
                return
            del _shared[key]
    lab.down()


def make_lab_fixture(
    lab_id: int | None = None, *, seed_hosts: int = 50, name: str = "lab_cluster"
) -> Callable[..., Any]:
    @pytest.fixture(scope="session", name=name)
    def _lab_fixture() -> Iterator[Lab]:
        reason = unavailable_reason()
        if reason:
            pytest.skip(reason)
        lab = acquire_lab(lab_id, seed_hosts)
        try:
            yield lab
        finally:
            release_lab(lab)

    return _lab_fixture


lab_cluster = make_lab_fixture()


@pytest.fixture
def healthy_lab(lab_cluster: Lab) -> Lab:
    """The session's lab, brought back to healthy before the test (after any scenario)."""
    lab_cluster.restore_healthy()
    return lab_cluster


def _as_postgres(argv: list[str]) -> list[str]:
    return [*user_argv(PG_OS_USER), *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def temporary_postgres(port: int = 5432) -> Iterator[str]:
    """A throwaway PostgreSQL 15 listening only on a Unix socket; yields its libpq DSN."""
    base = Path(tempfile.mkdtemp(prefix="cfha-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    env = user_env(PG_OS_USER) if os.geteuid() == 0 else dict(os.environ, LANG="C", LC_ALL="C")
    if os.geteuid() == 0:
        shutil.chown(base, PG_OS_USER, PG_OS_USER)
        shutil.chown(sock, PG_OS_USER, PG_OS_USER)

    def run(*argv: str) -> None:
        subprocess.run(
            _as_postgres(list(argv)),
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
            cwd=base,
        )

    try:
        run(
            str(DEBIAN_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        run(
            str(DEBIAN_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "pg.log"),
            "-w",
            "-o",
            f"-c listen_addresses='' -c unix_socket_directories={sock} -c port={port} -c fsync=off",
            "start",
        )
        yield f"host={sock} port={port} user=postgres dbname=postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres(
                    [str(DEBIAN_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
                cwd=base,
            )
        shutil.rmtree(base, ignore_errors=True)
