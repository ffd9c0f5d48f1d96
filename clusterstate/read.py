"""One whole read of the cluster into a `ClusterState`: what the remediator decides on and the
lab's status shows. The exporter reads the same parts with the same readers, each in its own
collector under its own deadline.

Pacemaker is required (without crm_mon and a current CIB configuration there is no state: a
`ReadError`); with a `DiagnosisReader`, a standby that does not stream is diagnosed from this
read's own facts (`clusterstate.diagnosis`); everything else that fails becomes an unknown fact
in its place and a line in `errors`, which every safety check treats as failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from clusterstate.corosync import CorosyncDown, CorosyncReader, CorosyncState
from clusterstate.diagnosis import Diagnosis
from clusterstate.diagnosis_read import DiagnosisReader
from clusterstate.disk import CloneSize
from clusterstate.errors import ReadError
from clusterstate.host import DataDir, PgsqlLock, pgsql_lock, probe_data_dir
from clusterstate.model import ClusterState
from clusterstate.pacemaker import PacemakerReader
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.postgres import PgFacts

DataDirProbe = Callable[[str], DataDir]
LockProbe = Callable[[str, float], PgsqlLock]


class PostgresAccess(Protocol):
    """This hub's server and the primary (`postgres_read.PgsqlConnections` is the real one)."""

    def local(self, p: PgsqlParams) -> PgFacts: ...

    def primary(self, p: PgsqlParams) -> tuple[PgFacts, CloneSize | None]: ...


class ClusterStateReader:
    def __init__(
        self,
        pacemaker: PacemakerReader,
        *,
        local_node: str,
        corosync: CorosyncReader | None = None,
        postgres: PostgresAccess | None = None,
        diagnosis: DiagnosisReader | None = None,
        data_dir_probe: DataDirProbe = probe_data_dir,
        lock_probe: LockProbe = pgsql_lock,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pacemaker = pacemaker
        self._corosync = corosync
        self._postgres = postgres
        self._diagnosis = diagnosis
        self._node = local_node
        self._data_dir = data_dir_probe
        self._lock = lock_probe
        self._clock = clock

    def read(self) -> ClusterState:
        """Read everything now. Raises ReadError when pacemaker cannot be read."""
        taken_at = self._clock()
        pacemaker = self._pacemaker.read()
        if not pacemaker.cib_current:
            reason, message = pacemaker.cib_error or ("unavailable", "no CIB configuration")
            raise ReadError(reason, message)
        errors: list[str] = []
        corosync = self._read_corosync(errors)
        p = pacemaker.pgsql
        if p is None:
            errors.append(f"no primitive {self._pacemaker.settings.database_resource} in the CIB")
        postgres = primary = clone_size = None
        if p is not None and self._postgres is not None:
            postgres = self._postgres.local(p)
            primary, clone_size = self._postgres.primary(p)
            errors += [f"{what}: {f.error}" for what, f in (("local PostgreSQL", postgres),
                       ("the primary", primary)) if not f.up and f.error]  # fmt: skip
        data_dir = self._data_dir(p.pgdata) if p is not None and p.pgdata else None
        lock = self._lock(p.lock_path, taken_at) if p is not None else None
        diagnosis: Diagnosis | None = None
        if self._diagnosis is not None and p is not None and postgres is not None:
            database = pacemaker.database
            promoted = database.promoted_nodes if database and database.configured else None
            diagnosis = self._diagnosis.read(self._node, p, promoted, postgres, data_dir)
        return ClusterState(
            taken_at=taken_at,
            local_node=self._node,
            pacemaker=pacemaker,
            corosync=corosync,
            postgres=postgres,
            primary=primary,
            primary_clone_size=clone_size,
            data_dir=data_dir,
            pgsql_lock=lock,
            diagnosis=diagnosis,
            errors=tuple(errors),
        )

    def _read_corosync(self, errors: list[str]) -> CorosyncState | None:
        if self._corosync is None:
            return None
        try:
            return self._corosync.read()
        except CorosyncDown as exc:
            errors.append(f"corosync: {exc.reason}: {exc}")
            return exc.state
