"""Disk room on this hub: the filesystems of the data directory, the WAL archive and /var/cfengine,
and what a re-clone of this hub's data would copy (`clusterstate.disk`).

Example output (`cluster` label left out)::

    cfha_disk_filesystem_free_bytes{filesystem="pgdata",node="hub1"} 5.1e+10
    cfha_disk_filesystem_free_inodes{filesystem="pgdata",node="hub1"} 3.2e+06
    cfha_disk_data_bytes{node="hub1",part="archive"} 2.1e+09
    cfha_disk_data_files{node="hub1",part="pg_wal"} 5.0

`filesystem` is `pgdata` (measured beside the data directory, where a re-clone writes),
`archive` and `workdir`, each published only when it is not the same filesystem as one before
it: on the guide's layout everything is on `pgdata`, and an alert fires once per filesystem.
The data sizes come from PostgreSQL (no access to the data directory needed) and are refreshed
at most every `sizes_interval_seconds`, since listing a large archive takes a while; statvfs()
runs on every scrape. `cfha_pg_slot_retained_wal_bytes` (postgres collector) says which slot
holds WAL back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from clusterstate.disk import (
    DEFAULT_ARCHIVE_DIRECTORY,
    CloneSize,
    Filesystem,
    filesystem,
    read_clone_size,
)
from clusterstate.pg import PgError, PgSession, PgSettings
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import MetricSpec, MetricWriter
from servicekit.settings import setting

DEFAULT_CONNINFO = "host=/tmp dbname=cfdb"


class DiskConfig(CollectorSettings):
    data_directory: Path = setting(
        default=Path("/var/cfengine/state/pg/data"), description="PostgreSQL's data directory."
    )
    archive_directory: str = setting(
        default=DEFAULT_ARCHIVE_DIRECTORY,
        min_length=1,
        description="The WAL archive, relative to the data directory (archive_command's target).",
    )
    workdir: Path = setting(default=Path("/var/cfengine"), description="CFEngine's work directory.")
    conninfo: str | None = setting(
        default=None,
        description="libpq connection string for the sizes; default: the postgres collector's.",
    )
    password_file: Path | None = setting(default=None, description="As for the postgres collector.")
    sizes_interval_seconds: float = setting(
        default=60.0, ge=0, le=3600, description="Read the data sizes at most this often."
    )


@dataclass(frozen=True)
class DiskFacts:
    filesystems: dict[str, Filesystem]  # pgdata, archive, workdir: the distinct ones
    clone: CloneSize | None  # this hub's data, as a re-clone would copy it
    clone_read_at: float | None
    error: str | None = None

    @property
    def free_beside_data(self) -> int | None:
        return self.filesystems["pgdata"].free_bytes if "pgdata" in self.filesystems else None


N = ("node",)
FS = ("node", "filesystem")
FS_SIZE = MetricSpec("cfha_disk_filesystem_size_bytes", "Size of the filesystem.", labels=FS)
FS_FREE = MetricSpec(
    "cfha_disk_filesystem_free_bytes",
    "Bytes an unprivileged process (PostgreSQL) may still write on the filesystem.",
    labels=FS,
)
FS_INODES = MetricSpec("cfha_disk_filesystem_inodes", "Inodes of the filesystem.", labels=FS)
FS_FREE_INODES = MetricSpec(
    "cfha_disk_filesystem_free_inodes", "Inodes still free on the filesystem.", labels=FS
)
DATA_BYTES = MetricSpec(
    "cfha_disk_data_bytes",
    "What a re-clone of this hub's data copies, by part: databases (all of them), pg_wal, "
    "archive (the WAL archive inside the data directory, which nothing prunes).",
    labels=(*N, "part"),
)
DATA_FILES = MetricSpec(
    "cfha_disk_data_files", "Files in pg_wal and in the archive.", labels=(*N, "part")
)
SIZES_AS_OF = MetricSpec(
    "cfha_disk_data_sizes_timestamp_seconds",
    "When the data sizes were last read (Unix time).",
    labels=N,
)


class DiskCollector:
    name: ClassVar[str] = "disk"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        FS_SIZE,
        FS_FREE,
        FS_INODES,
        FS_FREE_INODES,
        DATA_BYTES,
        DATA_FILES,
        SIZES_AS_OF,
    )

    def __init__(
        self,
        config: DiskConfig,
        node: str,
        session: PgSession | None = None,
        *,
        database: tuple[str, Path | None] = (DEFAULT_CONNINFO, None),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._node = node
        self._clock = clock
        conninfo, password_file = (
            (config.conninfo, config.password_file) if config.conninfo else database
        )
        self._session = session or PgSession(
            PgSettings(conninfo=conninfo, password_file=password_file)
        )
        self._lock = threading.Lock()
        self._clone: tuple[float, CloneSize] | None = None

    def collect(self, out: MetricWriter) -> DiskFacts:
        paths = {
            "pgdata": self._config.data_directory.parent,
            "archive": self._config.data_directory / self._config.archive_directory,
            "workdir": self._config.workdir,
        }
        found = distinct_filesystems(paths)
        error = None
        try:
            clone_at, clone = self._clone_size()
        except PgError as exc:
            clone_at, clone, error = None, None, (exc.reason, str(exc))
        facts = DiskFacts(found, clone, clone_at, error[1] if error else None)
        self._write(out, facts)
        if "pgdata" not in found or found["pgdata"].error:
            fs = found.get("pgdata") or filesystem(paths["pgdata"])
            raise CollectorError(
                fs.error_reason or "unavailable", fs.error or "", partial=out, facts=facts
            )
        if error is not None:
            raise CollectorError(*error, partial=out, facts=facts)
        return facts

    def close(self) -> None:
        self._session.close()

    def _clone_size(self) -> tuple[float, CloneSize]:
        with self._lock:
            now = self._clock()
            if self._clone is None or now - self._clone[0] >= self._config.sizes_interval_seconds:
                self._clone = (now, read_clone_size(self._session, self._config.archive_directory))
            return self._clone

    def _write(self, out: MetricWriter, f: DiskFacts) -> None:
        node = self._node
        for name, fs in f.filesystems.items():
            out.gauge(FS_SIZE, fs.size_bytes, node=node, filesystem=name)
            out.gauge(FS_FREE, fs.free_bytes, node=node, filesystem=name)
            out.gauge(FS_INODES, fs.inodes, node=node, filesystem=name)
            out.gauge(FS_FREE_INODES, fs.free_inodes, node=node, filesystem=name)
        c = f.clone
        if c is None:
            return
        out.gauge(SIZES_AS_OF, f.clone_read_at, node=node)
        out.gauge(DATA_BYTES, c.databases_bytes, node=node, part="databases")
        out.gauge(DATA_BYTES, c.wal_bytes, node=node, part="pg_wal")
        out.gauge(DATA_BYTES, c.archive_bytes, node=node, part="archive")
        out.gauge(DATA_FILES, c.wal_files, node=node, part="pg_wal")
        out.gauge(DATA_FILES, c.archive_files, node=node, part="archive")


def distinct_filesystems(paths: dict[str, Path]) -> dict[str, Filesystem]:
    """statvfs() of each path whose filesystem (device) differs from the ones before it. A path
    that cannot be looked at (no search permission into the data directory) is left out, except
    the first, whose failure is reported."""
    found: dict[str, Filesystem] = {}
    devices: set[int] = set()
    for index, (name, path) in enumerate(paths.items()):
        try:
            device = os.stat(path).st_dev
        except OSError:
            if index == 0:
                found[name] = filesystem(path)
            continue
        if device not in devices:
            devices.add(device)
            found[name] = filesystem(path)
    return found
