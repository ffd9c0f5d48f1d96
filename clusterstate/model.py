"""The one typed model of the cluster: `ClusterState`, built once per read.

It holds what each source said (pacemaker, corosync, this hub's PostgreSQL, the primary through
its address, this hub's files, the diagnosis of its standby) and the rules that combine sources,
each written once here: the quorum rule and the single primary. The exporter's collectors publish
the same parts (each under its own deadline), the verdict judges them, the remediator's snapshot
*is* a `ClusterState`, and the lab's status reads it too. `None` is always "could not be read",
and every rule here returns None (unknown) rather than guess when a source it needs is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusterstate.corosync import CorosyncState
from clusterstate.diagnosis import Diagnosis
from clusterstate.disk import CloneSize
from clusterstate.host import DataDir, PgsqlLock
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.postgres import PgFacts


def quorum(*views: bool | None) -> bool | None:
    """The one quorum rule: no quorum if any source says so; quorate only if every source was
    read and says so; unknown otherwise (one unknown source is not a quorate one)."""
    if any(view is False for view in views):
        return False
    if views and all(view is True for view in views):
        return True
    return None


@dataclass(frozen=True)
class ClusterState:
    """Everything one read of the cluster saw, at one moment, from one hub."""

    taken_at: float
    local_node: str
    pacemaker: PacemakerState
    corosync: CorosyncState | None = None
    """None: not a source here (the reader was not asked to read it; the remediator always
    does). A corosync that could not be read is a down state: an unknown source."""
    postgres: PgFacts | None = None
    """This hub's own server (through its socket)."""
    primary: PgFacts | None = None
    """The primary, through the pgsql resource's master_ip (normally the floating IP)."""
    primary_clone_size: CloneSize | None = None
    """What a re-clone of the primary copies (databases, pg_wal, WAL archive)."""
    data_dir: DataDir | None = None
    pgsql_lock: PgsqlLock | None = None
    diagnosis: Diagnosis | None = None
    """Why this hub's standby does not stream (None: it is the primary, or streams and replays,
    or the diagnosis was not read)."""
    errors: tuple[str, ...] = ()
    """What could not be read, for humans (each unknown fact is also None in its place)."""

    @property
    def quorate(self) -> bool | None:
        """Pacemaker's and corosync's views by the one quorum rule."""
        views = [self.pacemaker.quorate if self.pacemaker.up else None]
        if self.corosync is not None:
            views.append(self.corosync.quorate)
        return quorum(*views)

    @property
    def promoted_node(self) -> str | None:
        """The one node pacemaker promoted the database on; None for none, two, or unknown."""
        database = self.pacemaker.database
        if database is None or len(database.promoted_nodes) != 1:
            return None
        return database.promoted_nodes[0]

    def summary(self) -> dict[str, object]:
        """A compact, JSON-friendly picture for journals and `cfha-remediator snapshot`."""
        p = self.pacemaker
        database = p.database
        return {
            "taken_at": self.taken_at,
            "local_node": self.local_node,
            "pacemaker_up": p.up,
            "quorate": self.quorate,
            "maintenance_mode": p.maintenance_mode,
            "nodes": {
                n.name: {
                    "online": n.online,
                    "standby": n.in_standby,
                    "unclean": n.unclean,
                    "pending": n.pending,
                    "maintenance": n.maintenance,
                }
                for n in p.nodes
            },
            "promoted": list(database.promoted_nodes) if database else None,
            "pgsql_active": list(database.active_nodes) if database else None,
            "last_promotion": p.last_promotion,
            "last_change": p.last_change,
            "agent_status": {
                v.node: v.status.value if v.status is not None else None for v in p.agent_views
            },
            "failures": [
                {"resource": f.resource_id, "node": f.node, "task": f.task, "at": f.last_rc_change}
                for f in p.failed_actions
            ],
            "constraints": {c.id: c.kind.value for c in p.location_constraints},
            "primary_streaming_to": list(self.primary.streaming_to) if self.primary else None,
            "local_pg_in_recovery": self.postgres.in_recovery if self.postgres else None,
            "pgsql_lock_present": self.pgsql_lock.present if self.pgsql_lock else None,
            "lock": p.lock.raw if p.lock else None,
            "diagnosis": self.diagnosis.as_dict() if self.diagnosis else None,
            "errors": list(self.errors),
        }
