"""Preconditions: named, pure checks on a live `ClusterState`, each with a reason.

Every check answers pass/fail with a one-line detail that ends up in the journal, the audit and
the plan output; a failed check is a refusal "by <name>". Unknown facts fail: a check that cannot
see what it needs never passes by default. The names below are the closed set exported as the
`precondition` label of `cfha_remediation_refusals_total`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from clusterstate.disk import reclone_room
from clusterstate.model import ClusterState
from clusterstate.parsers.crm_mon_model import FenceStatus
from clusterstate.parsers.pg_messages import CLEANUP_CURES, RESYNC_CURES

# Decided before the cluster is read.
KILL_SWITCH = "kill_switch"
CIRCUIT_OPEN = "circuit_open"
COOLDOWN = "cooldown"
ATTEMPT_BUDGET = "attempt_budget"
LABEL_INVALID = "label_invalid"
# Read live.
CLUSTER_UNREADABLE = "cluster_unreadable"
TARGET_UNKNOWN = "target_unknown"
NOTHING_TO_DO = "nothing_to_do"
QUORATE = "quorate"
FENCING = "fencing"
NO_UNCLEAN_NODE = "no_unclean_node"
FENCING_HISTORY = "fencing_history"
NOT_MAINTENANCE = "not_maintenance"
SINGLE_PRIMARY = "single_primary"
TARGET_NOT_PRIMARY = "target_not_primary"
TARGET_IS_LOCAL = "target_is_local"
TARGET_ONLINE = "target_online"
NO_RECENT_FAILOVER = "no_recent_failover"
DISK_ROOM = "disk_room"
PGDATA_SANE = "pgdata_sane"
CAUSE_GONE = "cause_gone"
DIAGNOSIS = "diagnosis"
REPLICATION_HANDSHAKE = "replication_handshake"
CONSTRAINT_AGE = "constraint_age"
SIMULATION = "simulation"
CLUSTER_LOCK = "cluster_lock"
GUARD_CHANGED = "guard_changed"  # a precondition stopped holding in the middle of a job

PRECONDITIONS = (
    KILL_SWITCH,
    CIRCUIT_OPEN,
    COOLDOWN,
    ATTEMPT_BUDGET,
    LABEL_INVALID,
    CLUSTER_UNREADABLE,
    TARGET_UNKNOWN,
    NOTHING_TO_DO,
    QUORATE,
    FENCING,
    NO_UNCLEAN_NODE,
    FENCING_HISTORY,
    NOT_MAINTENANCE,
    SINGLE_PRIMARY,
    TARGET_NOT_PRIMARY,
    TARGET_IS_LOCAL,
    TARGET_ONLINE,
    NO_RECENT_FAILOVER,
    DISK_ROOM,
    PGDATA_SANE,
    CAUSE_GONE,
    DIAGNOSIS,
    REPLICATION_HANDSHAKE,
    CONSTRAINT_AGE,
    SIMULATION,
    CLUSTER_LOCK,
    GUARD_CHANGED,
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def first_failure(checks: list[Check]) -> Check | None:
    return next((c for c in checks if not c.ok), None)


def _pass(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, False, detail)


def quorate(s: ClusterState) -> Check:
    """The one quorum rule (`clusterstate.model.quorum`): pacemaker's and corosync's views must
    both be read and both say quorate."""
    if s.quorate is None:
        unread = [
            name
            for name, view in (
                ("pacemaker", s.pacemaker.quorate),
                ("corosync", s.corosync.quorate if s.corosync is not None else None),
            )
            if view is None
        ]
        return _fail(QUORATE, f"quorum could not be read from {' and '.join(unread)}")
    return _pass(QUORATE, "partition has quorum") if s.quorate else _fail(QUORATE, "no quorum")


def fencing(s: ClusterState, required: bool) -> Check:
    if not required:
        return _pass(FENCING, "not required by configuration")
    if s.pacemaker.fencing_enabled is None:
        return _fail(FENCING, "stonith-enabled could not be read")
    if not s.pacemaker.fencing_enabled:
        return _fail(FENCING, "stonith is disabled: split brain cannot be ruled out")
    return _pass(FENCING, "stonith enabled")


def no_unclean_node(s: ClusterState) -> Check:
    nodes = s.pacemaker.nodes
    if not nodes:
        return _fail(NO_UNCLEAN_NODE, "no nodes listed")
    bad = [n.name for n in nodes if n.unclean or n.pending]
    if bad:
        return _fail(NO_UNCLEAN_NODE, f"unclean or pending: {', '.join(bad)}")
    return _pass(NO_UNCLEAN_NODE, "no node unclean or pending")


def no_fencing_trouble(s: ClusterState) -> Check:
    """No fencing action is pending or has failed: until a fencing outcome is known (and a
    failed one cleared by a human, `stonith_admin --history <node> --cleanup`), which node is
    alive cannot be trusted."""
    if not s.pacemaker.up:
        return _fail(FENCING_HISTORY, "the fencing history could not be read")
    trouble = [
        f"{e.action} of {e.target} {e.status.value}"
        for e in s.pacemaker.fence_events
        if e.status in (FenceStatus.PENDING, FenceStatus.FAILED)
    ]
    if trouble:
        return _fail(FENCING_HISTORY, "; ".join(trouble))
    return _pass(FENCING_HISTORY, "no fencing pending or failed")


def not_maintenance(s: ClusterState, resource_ids: tuple[str, ...]) -> Check:
    p = s.pacemaker
    if p.maintenance_mode is None:
        return _fail(NOT_MAINTENANCE, "maintenance-mode could not be read")
    if p.maintenance_mode:
        return _fail(NOT_MAINTENANCE, "cluster is in maintenance-mode")
    in_maintenance = [n.name for n in p.nodes if n.maintenance]
    if in_maintenance:
        return _fail(NOT_MAINTENANCE, f"node(s) in maintenance: {', '.join(in_maintenance)}")
    unknown = [r for r in resource_ids if p.resource(r) is None]
    if unknown:
        return _fail(NOT_MAINTENANCE, f"not in the live cluster: {', '.join(unknown)}")
    unmanaged = [r for r in resource_ids if (rsc := p.resource(r)) is not None and not rsc.managed]
    if unmanaged:
        return _fail(NOT_MAINTENANCE, f"unmanaged: {', '.join(unmanaged)}")
    return _pass(NOT_MAINTENANCE, "cluster and resources managed")


def single_primary(s: ClusterState, vip_resource: str, require_vip: bool) -> Check:
    """Exactly one primary, and pacemaker, the pgsql agent, PostgreSQL and the VIP agree on it.

    PostgreSQL is read locally and through the primary's address (the VIP); a server that is
    writable where pacemaker did not promote it is split brain. `require_vip`: the VIP must be
    up and reach the primary (resync copies from it).
    """
    primary = s.promoted_node
    if primary is None:
        database = s.pacemaker.database
        found = ", ".join(database.promoted_nodes) if database else "pgsql resource not found"
        return _fail(SINGLE_PRIMARY, f"pacemaker promoted: {found or 'none'} (need exactly one)")
    problem = (
        _agent_disagrees(s, primary)
        or _local_disagrees(s, primary)
        or _vip_disagrees(s, primary, vip_resource, require_vip)
    )
    if problem:
        return _fail(SINGLE_PRIMARY, problem)
    return _pass(SINGLE_PRIMARY, f"{primary} is the only primary (pacemaker, agent, PostgreSQL)")


def _agent_disagrees(s: ClusterState, primary: str) -> str | None:
    primaries = list(s.pacemaker.agent_primaries)
    if primaries != [primary]:
        pri = ", ".join(primaries)
        return f"the pgsql agent reports PRI on [{pri}] but pacemaker promoted {primary}"
    return None


def local_writable(s: ClusterState) -> bool | None:
    """Whether this hub's PostgreSQL accepts writes: read through its socket, or known to be
    stopped (no live postmaster); None when neither can be told."""
    in_recovery = s.postgres.in_recovery if s.postgres is not None else None
    if in_recovery is not None:
        return not in_recovery
    running = s.data_dir.postmaster_running if s.data_dir is not None else None
    return False if running is False else None


def _local_disagrees(s: ClusterState, primary: str) -> str | None:
    writable = local_writable(s)
    if s.local_node == primary and not writable:
        return f"local PostgreSQL on promoted {primary} is not a readable primary"
    if s.local_node != primary and writable is None:
        return f"local PostgreSQL on {s.local_node} runs but could not be read: it may be writable"
    if s.local_node != primary and writable:
        return f"local PostgreSQL on {s.local_node} is writable but pacemaker promoted {primary}"
    return None


def _vip_disagrees(
    s: ClusterState, primary: str, vip_resource: str, require_vip: bool
) -> str | None:
    vip = s.pacemaker.resource(vip_resource)
    vip_nodes = vip.active_nodes if vip else ()
    elsewhere = [n for n in vip_nodes if n != primary]
    remote = s.primary
    remote_in_recovery = remote.in_recovery if remote is not None else None
    if elsewhere:
        return f"VIP {vip_resource} on {', '.join(elsewhere)}, not {primary}"
    if remote_in_recovery is True:
        return "the primary's address reaches a server in recovery"
    if require_vip and vip_nodes != (primary,):
        return f"VIP {vip_resource} is not running on {primary}"
    if require_vip and remote_in_recovery is None:
        why = remote.error if remote is not None and remote.error else "not read"
        return f"primary not reachable at its address: {why}"
    return None


def target_not_primary(s: ClusterState, node: str, vip_resource: str) -> Check:
    """The target is not the primary by any source, and its role is known in every source
    that can tell: unknown is not "not primary"."""
    problem = _primary_evidence(s, node, vip_resource)
    if problem:
        return _fail(TARGET_NOT_PRIMARY, problem)
    return _pass(TARGET_NOT_PRIMARY, f"{node} is not the primary")


def _primary_evidence(s: ClusterState, node: str, vip_resource: str) -> str | None:
    p = s.pacemaker
    if p.pgsql is None or p.database is None or not p.database.configured:
        return "pgsql resource not found in the CIB"
    view = p.agent_view(node)
    vip = p.resource(vip_resource)
    writable = local_writable(s) if node == s.local_node else False
    evidence = (
        (node in p.database.promoted_nodes, f"{node} is the promoted node"),
        (view is not None and view.is_primary, f"the pgsql agent reports PRI on {node}"),
        (vip is not None and node in vip.active_nodes, f"{node} holds the VIP {vip_resource}"),
        (writable is True, f"PostgreSQL on {node} is writable"),
        (writable is None, f"PostgreSQL on {node} runs but could not be read"),
    )
    return next((why for found, why in evidence if found), None)


def target_is_local(s: ClusterState, node: str) -> Check:
    if node != s.local_node:
        return _fail(TARGET_IS_LOCAL, f"target {node} is not this hub ({s.local_node})")
    return _pass(TARGET_IS_LOCAL, f"target is this hub ({node})")


def target_online(s: ClusterState, node: str) -> Check:
    state = s.pacemaker.node(node)
    if state is None:
        return _fail(TARGET_ONLINE, f"{node} is not a cluster node")
    if not state.online:
        return _fail(TARGET_ONLINE, f"{node} is offline")
    if state.in_standby:
        why = "on-fail=standby" if state.standby_onfail else "standby"
        return _fail(TARGET_ONLINE, f"{node} is in standby ({why})")
    return _pass(TARGET_ONLINE, f"{node} online")


def no_recent_failover(s: ClusterState, freeze_seconds: float) -> Check:
    last = s.pacemaker.last_promotion
    if last is None:
        return _fail(NO_RECENT_FAILOVER, "no record of when the current primary was promoted")
    age = s.taken_at - last
    if age < freeze_seconds:
        return _fail(
            NO_RECENT_FAILOVER, f"primary promoted {age:.0f}s ago (freeze {freeze_seconds:.0f}s)"
        )
    return _pass(NO_RECENT_FAILOVER, f"last promotion {age:.0f}s ago")


def cluster_lock(s: ClusterState, job_id: str) -> Check:
    lock = s.pacemaker.lock
    if lock is None:
        return _fail(CLUSTER_LOCK, "the remediation lock could not be read")
    if not lock.held:
        return _pass(CLUSTER_LOCK, "no remediation running in the cluster")
    if lock.job_id == job_id:
        return _pass(CLUSTER_LOCK, "held by this job")
    if lock.expires is not None and lock.expires < s.taken_at:
        return _pass(CLUSTER_LOCK, f"expired lock of {lock.owner_node} may be taken over")
    return _fail(
        CLUSTER_LOCK,
        f"remediation {lock.job_id or '?'} of {lock.owner_node or '?'} holds the lock"
        + (f" for {lock.expires - s.taken_at:.0f}s more" if lock.expires is not None else ""),
    )


def disk_room(s: ClusterState, factor: float) -> Check:
    """The one re-clone rule (clusterstate.disk.reclone_room) on the primary's sizes."""
    room = reclone_room(s.data_dir.free_bytes if s.data_dir else None, s.primary_clone_size, factor)
    if room.fits is None:
        why = (s.primary_clone_size.archive_error if s.primary_clone_size else None) or ""
        return _fail(
            DISK_ROOM,
            "free space or the primary's size (databases, pg_wal, archive) could not be read"
            + (f": {why}" if why else ""),
        )
    detail = f"{room.free_bytes} bytes free, a re-clone needs {room.needed_bytes}"
    return _pass(DISK_ROOM, detail) if room.fits else _fail(DISK_ROOM, detail)


def pgdata_sane(s: ClusterState, user: str) -> Check:
    """The data directory from the CIB is a plausible, real, correctly owned directory."""
    problem = _path_problem(s) or _directory_problem(s, user)
    if problem:
        return _fail(PGDATA_SANE, problem)
    assert s.pacemaker.pgsql is not None and s.data_dir is not None
    present = "present" if s.data_dir.exists else "missing"
    return _pass(PGDATA_SANE, f"{s.pacemaker.pgsql.pgdata} ({present})")


def _path_problem(s: ClusterState) -> str | None:
    p = s.pacemaker.pgsql
    if p is None or not p.pgdata or not p.tmpdir:
        return "pgdata/tmpdir not set on the pgsql resource"
    for name, path in (("pgdata", p.pgdata), ("tmpdir", p.tmpdir)):
        norm = posixpath.normpath(path)
        if not posixpath.isabs(path) or norm != path.rstrip("/") or norm.count("/") < 2:
            return f"{name} {path!r} is not a plain absolute path two levels deep"
    if posixpath.commonpath([p.pgdata, p.tmpdir]) == posixpath.normpath(p.pgdata):
        return "tmpdir lies inside pgdata"
    return None


def _directory_problem(s: ClusterState, user: str) -> str | None:
    data, pgsql = s.data_dir, s.pacemaker.pgsql
    pgdata = pgsql.pgdata if pgsql else None
    if data is None or data.exists is None:
        return "the data directory could not be inspected"
    if data.is_symlink:
        return f"{pgdata} is a symbolic link"
    if data.exists and data.owner != user:
        return f"{pgdata} is owned by {data.owner}, not {user}"
    return None


def cured_by_resync(s: ClusterState, node: str, hold_id: str) -> Check:
    """The live diagnosis of `node` (this hub) names a cause that re-cloning cures. Under cfha's
    own hold (a former attempt that changed the data, or could not be trusted) the node is
    stopped on purpose and its data are not trusted: the cause it was held for stands."""
    if s.pacemaker.constraint(hold_id) is not None:
        return _pass(DIAGNOSIS, f"{node} is under cfha's hold {hold_id}: re-sync what it holds")
    d = s.diagnosis
    if d is None or d.node != node:
        return _fail(DIAGNOSIS, f"no diagnosis of {node}: it streams, or could not be diagnosed")
    if d.cause in RESYNC_CURES:
        return _pass(DIAGNOSIS, d.describe())
    if d.cause in CLEANUP_CURES:
        why = "a cleanup lets pacemaker start it (resource_cleanup), a re-sync is not the cure"
    else:
        why = "a re-sync does not cure it: a human must"
    return _fail(DIAGNOSIS, f"{d.describe()}; {why}")


def replication_handshake(s: ClusterState) -> Check:
    """The primary accepts the replication user now (IDENTIFY_SYSTEM answered): the connection
    a re-sync needs works. A standby that streams needs no handshake to prove it."""
    d = s.diagnosis
    if d is None:
        streaming = s.postgres is not None and s.postgres.in_recovery is True
        if streaming:
            return _pass(REPLICATION_HANDSHAKE, "the standby streams from the primary")
        return _fail(REPLICATION_HANDSHAKE, "no handshake was made (no diagnosis)")
    if d.handshake is None:
        return _fail(REPLICATION_HANDSHAKE, "no handshake was made: " + "; ".join(d.notes))
    if not d.handshake.ok:
        return _fail(REPLICATION_HANDSHAKE, d.handshake.describe())
    return _pass(REPLICATION_HANDSHAKE, d.handshake.describe())
