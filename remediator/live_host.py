"""This hub's own files around the pgsql data directory, read directly (no command needed).

Paths come from the CIB's pgsql resource. Anything that cannot be read is None (unknown), which
every check treats as a refusal.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from pathlib import Path

from remediator.cluster import CONFIG_FILES, LocalHost


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


def probe_host(pgdata: str, tmpdir: str) -> LocalHost:
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
    lock: bool | None = None
    with contextlib.suppress(OSError):
        lock = (Path(tmpdir) / "PGSQL.lock").exists()
    free: int | None = None
    with contextlib.suppress(OSError):
        fs = os.statvfs(data.parent)  # where a fresh copy would go, beside pgdata
        free = fs.f_bavail * fs.f_frsize
    return LocalHost(
        pgdata_exists=exists,
        pgdata_is_symlink=is_link,
        pgdata_owner=owner,
        pgdata_has_version=has_version,
        pgsql_lock_present=lock,
        postmaster_running=postmaster_running(data)
        if exists
        else (False if exists is False else None),
        free_bytes=free,
        pgdata_files=files,
    )
