"""This hub's own files around the pgsql resource: read directly, no command needed.

`pgsql_lock` is what the exporter publishes and the verdict and the remediator rely on;
`probe_data_dir` is what the remediator checks before it touches the data directory. Paths come
from the CIB's pgsql resource. Anything that cannot be read is None (unknown), never "absent".
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from clusterstate.disk import free_beside
from clusterstate.parsers.pgsql_agent_script import PgsqlAgentScript, describe_pgsql_agent

CONFIG_FILES = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf")


@dataclass(frozen=True, slots=True)
class PgsqlLock:
    """PGSQL.lock on this hub: the agent creates it when it promotes PostgreSQL here."""

    path: str
    """Empty when it cannot be known (no tmpdir read from the CIB yet)."""
    present: bool | None
    """None when it could not be checked (see ``error``)."""
    modified_at: float | None
    """Unix time of its last modification, when present."""
    age_seconds: float | None
    error: str | None = None
    error_reason: str | None = None
    """A read failure reason for ``error`` (`permission`, `unavailable`)."""


def pgsql_lock(path: str, now: float) -> PgsqlLock:
    """stat() the lock file; never raises."""
    if not path:
        return PgsqlLock(
            "", None, None, None, "PGSQL.lock path unknown: no CIB configuration read yet",
            "unavailable",
        )  # fmt: skip
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return PgsqlLock(path, False, None, None)
    except OSError as exc:
        reason = "permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unavailable"
        return PgsqlLock(path, None, None, None, f"{path}: {exc.strerror or exc}", reason)
    if not stat.S_ISREG(info.st_mode):
        return PgsqlLock(path, None, None, None, f"{path}: not a regular file", "unavailable")
    return PgsqlLock(path, True, info.st_mtime, max(0.0, now - info.st_mtime))


@dataclass(frozen=True, slots=True)
class DataDir:
    """The pgsql resource's data directory on this hub, as the remediator needs to know it."""

    exists: bool | None
    is_symlink: bool | None
    owner: str | None
    has_version: bool | None
    """PG_VERSION is there: a data directory, not an empty or foreign one."""
    postmaster_running: bool | None
    free_bytes: int | None
    """Free space beside the data directory, where a fresh copy would go."""
    config_files: frozenset[str] = frozenset()
    """Which of `CONFIG_FILES` exist in it."""


def _owner(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def postmaster_running(pgdata: Path) -> bool | None:
    """Whether the postmaster named in postmaster.pid is alive (a stale file is not)."""
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0].strip()
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return None
    if not first.isdigit():
        return None
    try:
        comm = Path(f"/proc/{int(first)}/comm").read_text().strip()
    except FileNotFoundError:
        return False  # stale: that process is gone
    except OSError:
        return None
    return comm in ("postgres", "postmaster")


def probe_data_dir(pgdata: str) -> DataDir:
    """Look at the data directory without changing anything; never raises."""
    data = Path(pgdata)
    exists = is_link = owner = has_version = None
    files: frozenset[str] = frozenset()
    with contextlib.suppress(OSError):
        st = data.lstat()
        exists, is_link, owner = True, stat.S_ISLNK(st.st_mode), _owner(st.st_uid)
    if exists is None and not data.exists() and data.parent.is_dir():
        exists, is_link = False, False
    if exists:
        with contextlib.suppress(OSError):
            has_version = (data / "PG_VERSION").is_file()
            files = frozenset(f for f in CONFIG_FILES if (data / f).is_file())
    elif exists is False:
        has_version = False
    free = free_beside(data)
    running = postmaster_running(data) if exists else (False if exists is False else None)
    return DataDir(exists, is_link, owner, has_version, running, free, files)


class AgentScripts:
    """The pgsql agent script on this hub (stock or CFEngine's fork), read again only when the
    file changes (an upgrade of resource-agents, or the fork copied over it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[tuple[int, int, int], PgsqlAgentScript]] = {}

    def read(self, path: str) -> PgsqlAgentScript | None:
        """None when the script cannot be read (unknown, never "stock")."""
        try:
            st = os.stat(path)
            identity = (st.st_ino, st.st_size, st.st_mtime_ns)
            with self._lock:
                known = self._known.get(path)
                if known is not None and known[0] == identity:
                    return known[1]
            script = describe_pgsql_agent(Path(path).read_text(errors="replace"))
        except OSError:
            return None
        with self._lock:
            self._known[path] = (identity, script)
        return script
