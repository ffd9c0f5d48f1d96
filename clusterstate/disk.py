"""Disk room on a hub: its filesystems, what a re-clone copies, and the one rule whether it fits.

A re-clone (`pg_basebackup` of the primary's whole data directory, what the remediator's
`resync_standby` runs) copies the databases, `pg_wal` and the WAL archive CFEngine's guide keeps
inside the data directory (`pg_arch`, which nothing prunes: it grows until the disk is full).
The remediator keeps the old directory aside while the copy is made, so the copy needs room of
its own next to it. `reclone_room` is that rule, written once: the remediator refuses a re-sync
by it (`guard.disk_room`, on the primary's sizes) and the verdict reports a standby that could
not be re-cloned by it (`reclone_would_not_fit`).

Sizes come from PostgreSQL itself, so the reader needs no access to the data directory:
`pg_ls_waldir()` (granted to pg_monitor) and, for the archive, `pg_ls_dir` and `pg_stat_file`
(superusers, or a role granted EXECUTE on them: deploy/cfengine/sql/monitor-role.sql).
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterstate.pg import PgError, PgSession

DEFAULT_ARCHIVE_DIRECTORY = "pg_arch"
"""The archive inside the data directory, as CFEngine's guide sets archive_command."""

PRIVILEGES = """
SELECT has_function_privilege('pg_ls_waldir()', 'EXECUTE') AS wal,
       has_function_privilege('pg_ls_dir(text, boolean, boolean)', 'EXECUTE')
         AND has_function_privilege('pg_stat_file(text, boolean)', 'EXECUTE') AS archive
"""
DATABASES = "(SELECT sum(pg_database_size(oid))::bigint FROM pg_database) AS databases"
WAL = (
    "(SELECT json_build_object('bytes', coalesce(sum(size), 0), 'files', count(*))"
    " FROM pg_ls_waldir()) AS wal"
)
# %s: the archive directory, relative to the data directory (twice).
ARCHIVE = (
    "(SELECT json_build_object('isdir', (pg_stat_file(%s, true)).isdir, "
    "'bytes', (SELECT coalesce(sum((pg_stat_file(a.dir || '/' || f, true)).size), 0)"
    "          FROM pg_ls_dir(a.dir, true, false) AS f), "
    "'files', (SELECT count(*) FROM pg_ls_dir(a.dir, true, false)))"
    " FROM (SELECT %s::text AS dir) AS a) AS archive"
)


@dataclass(frozen=True)
class CloneSize:
    """What a pg_basebackup of one server copies. None: that part could not be read."""

    databases_bytes: int | None
    wal_bytes: int | None
    wal_files: int | None = None
    archive_bytes: int | None = None
    archive_files: int | None = None
    archive_present: bool | None = None
    archive_error: str | None = None

    @property
    def total_bytes(self) -> int | None:
        parts = (self.databases_bytes, self.wal_bytes, self.archive_bytes)
        return None if any(p is None for p in parts) else sum(p or 0 for p in parts)


@dataclass(frozen=True)
class RecloneRoom:
    needed_bytes: int | None  # None: the size is unknown
    free_bytes: int | None
    fits: bool | None  # None: unknown, which every check treats as "does not fit"


def reclone_room(free_bytes: int | None, size: CloneSize | None, factor: float) -> RecloneRoom:
    """The one rule: a re-clone fits when the free space beside the data directory holds
    `factor` times everything pg_basebackup copies (databases, pg_wal, the archive)."""
    total = size.total_bytes if size is not None else None
    needed = None if total is None else math.ceil(total * factor)
    fits = None if needed is None or free_bytes is None else free_bytes >= needed
    return RecloneRoom(needed, free_bytes, fits)


def read_clone_size(
    session: PgSession, archive_directory: str = DEFAULT_ARCHIVE_DIRECTORY
) -> CloneSize:
    """One server's clone size. Raises PgError when the server cannot be asked at all; a part
    this role may not read is None (`archive_error` says why)."""
    rows = session.query(PRIVILEGES)
    allowed = rows[0] if rows else {}
    parts, params = [DATABASES], []
    if allowed.get("wal"):
        parts.append(WAL)
    if allowed.get("archive"):
        parts.append(ARCHIVE)
        params = [archive_directory, archive_directory]
    rows = session.query("SELECT " + ", ".join(parts), params or None)
    if len(rows) != 1:
        raise PgError("parse", f"clone size: expected one row, got {len(rows)}")
    return decode_clone_size(rows[0], archive_allowed=bool(allowed.get("archive")))


def decode_clone_size(row: Mapping[str, Any], archive_allowed: bool) -> CloneSize:
    """Pure: the statement's row -> CloneSize (a part not asked for is None)."""
    wal = row.get("wal") or {}
    archive = row.get("archive") or {}
    archive_bytes = archive_files = present = error = None
    if not archive_allowed:
        error = "this role may not list the archive (needs EXECUTE on pg_ls_dir, pg_stat_file)"
    elif archive.get("isdir") is None:
        present, archive_bytes, archive_files = False, 0, 0  # no archive: nothing to copy
    elif not archive["isdir"]:
        present, error = False, "the archive path is not a directory"
    else:
        present = True
        archive_bytes, archive_files = _int(archive.get("bytes")), _int(archive.get("files"))
    return CloneSize(
        databases_bytes=_int(row.get("databases")),
        wal_bytes=_int(wal.get("bytes")),
        wal_files=_int(wal.get("files")),
        archive_bytes=archive_bytes,
        archive_files=archive_files,
        archive_present=present,
        archive_error=error,
    )


def _int(value: object) -> int | None:
    return None if value is None else int(float(str(value)))


# -- filesystems -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filesystem:
    """statvfs() of the filesystem holding a path, as an unprivileged process may use it."""

    path: str
    size_bytes: int | None = None
    free_bytes: int | None = None  # f_bavail: what PostgreSQL (not root) may still write
    inodes: int | None = None
    free_inodes: int | None = None
    error: str | None = None
    error_reason: str | None = None  # `permission` or `unavailable`


def filesystem(path: Path) -> Filesystem:
    """The filesystem of `path`; never raises."""
    try:
        fs = os.statvfs(path)
    except OSError as exc:
        reason = "permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unavailable"
        return Filesystem(str(path), error=f"{path}: {exc.strerror or exc}", error_reason=reason)
    return Filesystem(
        path=str(path),
        size_bytes=fs.f_blocks * fs.f_frsize,
        free_bytes=fs.f_bavail * fs.f_frsize,
        inodes=fs.f_files or None,  # 0: the filesystem does not count inodes (btrfs)
        free_inodes=fs.f_favail if fs.f_files else None,
    )


def free_beside(pgdata: Path) -> int | None:
    """Free bytes where a fresh copy of `pgdata` would go: its parent directory's filesystem
    (the data directory itself may be gone, or be moved aside)."""
    return filesystem(pgdata.parent).free_bytes


__all__ = [
    "DEFAULT_ARCHIVE_DIRECTORY",
    "CloneSize",
    "Filesystem",
    "PgError",
    "RecloneRoom",
    "decode_clone_size",
    "filesystem",
    "free_beside",
    "read_clone_size",
    "reclone_room",
]
