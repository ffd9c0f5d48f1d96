"""What the guard and the actions know about the cluster: one typed snapshot, read live.

A `ClusterSnapshot` is everything one decision needs, taken at one moment: pacemaker's view
(nodes, resources, failures, node attributes, constraints, the newest promotion), corosync
quorum, the pgsql resource's parameters from the CIB, PostgreSQL as seen locally and through the
primary's address, this hub's own files, and the cluster-wide remediation lock. `None` always
means "could not be read" (unknown), never "no"/"zero"; `errors` says what could not be read.

`ClusterReader` is the one interface that produces snapshots; the live implementation
(`remediator.live`) builds them from crm_mon, cibadmin, corosync and PostgreSQL through the shared
parsers, and tests use hand-made snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CONFIG_FILES = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf")


class SnapshotError(Exception):
    """The cluster could not be read at all (crm_mon or cibadmin failed)."""


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    unclean: bool = False
    pending: bool = False
    standby: bool = False
    maintenance: bool = False


@dataclass(frozen=True)
class ResourceState:
    """A primitive with every node it runs on (all instances of a clone together)."""

    id: str
    clone: str | None
    active_nodes: tuple[str, ...]
    promoted_nodes: tuple[str, ...] = ()
    failed_nodes: tuple[str, ...] = ()
    managed: bool = True
    blocked: bool = False


@dataclass(frozen=True)
class ResourceFailure:
    resource: str
    node: str
    task: str | None
    exit_reason: str | None
    at: float | None


@dataclass(frozen=True)
class FailCount:
    resource: str
    node: str
    count: float
    migration_threshold: float | None


@dataclass(frozen=True)
class LocationConstraint:
    id: str
    resource: str
    node: str | None
    score: str
    role: str | None = None
    expires: float | None = None
    """End of a lifetime rule (`date lt <end>`), Unix time; None: no lifetime."""

    @property
    def cli_kind(self) -> str | None:
        """'ban' or 'prefer' for constraints left by crm_resource/pcs ban|move, else None."""
        if self.id.startswith("cli-ban-"):
            return "ban"
        if self.id.startswith("cli-prefer-"):
            return "prefer"
        return None


@dataclass(frozen=True)
class PgsqlParams:
    """The pgsql primitive's instance attributes from the CIB (never from labels or config)."""

    resource: str
    clone: str | None
    pgdata: str | None
    tmpdir: str | None
    pgdba: str | None
    pgctl: str | None
    master_ip: str | None
    repuser: str | None
    pgport: int | None
    socketdir: str | None


@dataclass(frozen=True)
class PgView:
    """One PostgreSQL server as seen through one connection."""

    reachable: bool
    error: str | None = None
    in_recovery: bool | None = None
    timeline: int | None = None
    receiver_status: str | None = None
    received_timeline: int | None = None
    streaming_to: tuple[str, ...] = ()
    """application_name of every walsender in state `streaming` (primary only)."""
    database_bytes: int | None = None


@dataclass(frozen=True)
class LocalHost:
    """This hub's own files around the pgsql resource's data directory."""

    pgdata_exists: bool | None
    pgdata_is_symlink: bool | None
    pgdata_owner: str | None
    pgdata_has_version: bool | None
    pgsql_lock_present: bool | None
    postmaster_running: bool | None
    free_bytes: int | None
    pgdata_files: frozenset[str] = frozenset()
    """Which of the well-known configuration files exist in pgdata (`CONFIG_FILES`)."""


@dataclass(frozen=True)
class LockState:
    """The cluster-wide remediation lock as stored in the CIB (None fields: not held)."""

    owner_node: str | None = None
    job_id: str | None = None
    expires: float | None = None
    raw: str | None = None

    @property
    def held(self) -> bool:
        return self.raw is not None


@dataclass(frozen=True)
class ClusterSnapshot:
    taken_at: float
    local_node: str
    nodes: tuple[NodeState, ...]
    resources: tuple[ResourceState, ...] = ()
    quorate: bool | None = None
    fencing_enabled: bool | None = None
    maintenance_mode: bool | None = None
    cib_last_written: float | None = None
    failures: tuple[ResourceFailure, ...] = ()
    fail_counts: tuple[FailCount, ...] = ()
    node_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constraints: tuple[LocationConstraint, ...] = ()
    last_promotion: float | None = None
    """When the current primary was promoted (newest promote / first promoted monitor result)."""
    pgsql: PgsqlParams | None = None
    pg_local: PgView | None = None
    pg_primary: PgView | None = None
    host: LocalHost | None = None
    lock: LockState = field(default_factory=LockState)
    errors: tuple[str, ...] = ()

    def node(self, name: str) -> NodeState | None:
        return next((n for n in self.nodes if n.name == name), None)

    def resource(self, resource_id: str) -> ResourceState | None:
        """A primitive by its own id or its clone's id."""
        return next((r for r in self.resources if resource_id in (r.id, r.clone)), None)

    def attribute(self, node: str, name: str) -> str | None:
        return self.node_attributes.get(node, {}).get(name)

    def failures_of(self, resource_id: str, node: str) -> tuple[ResourceFailure, ...]:
        rsc = self.resource(resource_id)
        ids = {resource_id} | ({rsc.id} if rsc else set())
        return tuple(f for f in self.failures if f.node == node and f.resource in ids)

    def fail_count(self, resource_id: str, node: str) -> float:
        rsc = self.resource(resource_id)
        ids = {resource_id} | ({rsc.id} if rsc else set())
        return max(
            (c.count for c in self.fail_counts if c.node == node and c.resource in ids),
            default=0.0,
        )

    def constraint(self, constraint_id: str) -> LocationConstraint | None:
        return next((c for c in self.constraints if c.id == constraint_id), None)

    def summary(self) -> dict[str, object]:
        """A compact, JSON-friendly picture for the journal's before/after records."""
        pgsql = self.resource(self.pgsql.resource) if self.pgsql else None
        return {
            "taken_at": self.taken_at,
            "quorate": self.quorate,
            "maintenance_mode": self.maintenance_mode,
            "nodes": {
                n.name: {"online": n.online, "unclean": n.unclean, "standby": n.standby}
                for n in self.nodes
            },
            "promoted": list(pgsql.promoted_nodes) if pgsql else None,
            "pgsql_active": list(pgsql.active_nodes) if pgsql else None,
            "pgsql_status": {
                n.name: self.attribute(n.name, f"{self.pgsql.resource}-status")
                for n in self.nodes
                if self.pgsql
            },
            "failures": [
                {"resource": f.resource, "node": f.node, "task": f.task} for f in self.failures
            ],
            "constraints": [c.id for c in self.constraints],
            "primary_streaming_to": (
                list(self.pg_primary.streaming_to) if self.pg_primary else None
            ),
            "local_pg_in_recovery": self.pg_local.in_recovery if self.pg_local else None,
            "pgsql_lock_present": self.host.pgsql_lock_present if self.host else None,
            "lock": self.lock.raw,
            "errors": list(self.errors),
        }


class ClusterReader(Protocol):
    def snapshot(self) -> ClusterSnapshot:
        """Read the whole picture now. Raises SnapshotError if pacemaker cannot be read."""
        ...
