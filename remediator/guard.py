"""Preconditions: named, pure checks on a live `ClusterSnapshot`, each with a reason.

Every check answers pass/fail with a one-line detail that ends up in the journal, the audit and
the plan output; a failed check is a refusal "by <name>". Unknown facts fail: a check that cannot
see what it needs never passes by default. The names below are the closed set exported as the
`precondition` label of `cfha_remediation_refusals_total`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from remediator.cluster import ClusterSnapshot

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
NOT_MAINTENANCE = "not_maintenance"
SINGLE_PRIMARY = "single_primary"
TARGET_NOT_PRIMARY = "target_not_primary"
TARGET_IS_LOCAL = "target_is_local"
TARGET_ONLINE = "target_online"
NO_RECENT_FAILOVER = "no_recent_failover"
DISK_ROOM = "disk_room"
PGDATA_SANE = "pgdata_sane"
CAUSE_GONE = "cause_gone"
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
    NOT_MAINTENANCE,
    SINGLE_PRIMARY,
    TARGET_NOT_PRIMARY,
    TARGET_IS_LOCAL,
    TARGET_ONLINE,
    NO_RECENT_FAILOVER,
    DISK_ROOM,
    PGDATA_SANE,
    CAUSE_GONE,
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


def quorate(s: ClusterSnapshot) -> Check:
    if s.quorate is None:
        return _fail(QUORATE, "quorum state could not be read")
    return _pass(QUORATE, "partition has quorum") if s.quorate else _fail(QUORATE, "no quorum")


def fencing(s: ClusterSnapshot, required: bool) -> Check:
    if not required:
        return _pass(FENCING, "not required by configuration")
    if s.fencing_enabled is None:
        return _fail(FENCING, "stonith-enabled could not be read")
    if not s.fencing_enabled:
        return _fail(FENCING, "stonith is disabled: split brain cannot be ruled out")
    return _pass(FENCING, "stonith enabled")


def no_unclean_node(s: ClusterSnapshot) -> Check:
    if not s.nodes:
        return _fail(NO_UNCLEAN_NODE, "no nodes listed")
    bad = [n.name for n in s.nodes if n.unclean or n.pending]
    if bad:
        return _fail(NO_UNCLEAN_NODE, f"unclean or pending: {', '.join(bad)}")
    return _pass(NO_UNCLEAN_NODE, "no node unclean or pending")


def not_maintenance(s: ClusterSnapshot, resource_ids: tuple[str, ...]) -> Check:
    if s.maintenance_mode is None:
        return _fail(NOT_MAINTENANCE, "maintenance-mode could not be read")
    if s.maintenance_mode:
        return _fail(NOT_MAINTENANCE, "cluster is in maintenance-mode")
    in_maintenance = [n.name for n in s.nodes if n.maintenance]
    if in_maintenance:
        return _fail(NOT_MAINTENANCE, f"node(s) in maintenance: {', '.join(in_maintenance)}")
    unmanaged = [r for r in resource_ids if (rsc := s.resource(r)) is not None and not rsc.managed]
    if unmanaged:
        return _fail(NOT_MAINTENANCE, f"unmanaged: {', '.join(unmanaged)}")
    return _pass(NOT_MAINTENANCE, "cluster and resources managed")


def primary_node(s: ClusterSnapshot) -> str | None:
    """The one promoted node of the pgsql resource, or None when there is not exactly one."""
    if s.pgsql is None:
        return None
    rsc = s.resource(s.pgsql.resource)
    if rsc is None or len(rsc.promoted_nodes) != 1:
        return None
    return rsc.promoted_nodes[0]


def single_primary(s: ClusterSnapshot, vip_resource: str, require_vip: bool) -> Check:
    """Exactly one primary, and pacemaker, the pgsql agent, PostgreSQL and the VIP agree on it.

    PostgreSQL is read locally and through the primary's address (the VIP); a server that is
    writable where pacemaker did not promote it is split brain. `require_vip`: the VIP must be
    up and reach the primary (resync copies from it).
    """
    primary = primary_node(s)
    if primary is None:
        rsc = s.resource(s.pgsql.resource) if s.pgsql else None
        found = ", ".join(rsc.promoted_nodes) if rsc else "pgsql resource not found"
        return _fail(SINGLE_PRIMARY, f"pacemaker promoted: {found or 'none'} (need exactly one)")
    problem = (
        _agent_disagrees(s, primary)
        or _local_disagrees(s, primary)
        or _vip_disagrees(s, primary, vip_resource, require_vip)
    )
    if problem:
        return _fail(SINGLE_PRIMARY, problem)
    return _pass(SINGLE_PRIMARY, f"{primary} is the only primary (pacemaker, agent, PostgreSQL)")


def _agent_disagrees(s: ClusterSnapshot, primary: str) -> str | None:
    assert s.pgsql is not None
    status_attr = f"{s.pgsql.resource}-status"
    pri = sorted(n.name for n in s.nodes if s.attribute(n.name, status_attr) == "PRI")
    if pri != [primary]:
        return f"{status_attr}=PRI on [{', '.join(pri)}] but pacemaker promoted {primary}"
    return None


def _local_disagrees(s: ClusterSnapshot, primary: str) -> str | None:
    local = s.pg_local
    readable = local is not None and local.reachable
    if s.local_node == primary and not (readable and local and local.in_recovery is False):
        return f"local PostgreSQL on promoted {primary} is not a readable primary"
    if s.local_node != primary and readable and local and local.in_recovery is False:
        return f"local PostgreSQL on {s.local_node} is writable but pacemaker promoted {primary}"
    return None


def _vip_disagrees(
    s: ClusterSnapshot, primary: str, vip_resource: str, require_vip: bool
) -> str | None:
    vip = s.resource(vip_resource)
    vip_nodes = vip.active_nodes if vip else ()
    elsewhere = [n for n in vip_nodes if n != primary]
    remote = s.pg_primary
    remote_ok = remote is not None and remote.reachable
    if elsewhere:
        return f"VIP {vip_resource} on {', '.join(elsewhere)}, not {primary}"
    if remote_ok and remote is not None and remote.in_recovery is not False:
        return "the primary's address reaches a server in recovery"
    if require_vip and vip_nodes != (primary,):
        return f"VIP {vip_resource} is not running on {primary}"
    if require_vip and not remote_ok:
        why = remote.error if remote is not None and remote.error else "not read"
        return f"primary not reachable at its address: {why}"
    return None


def target_not_primary(s: ClusterSnapshot, node: str, vip_resource: str) -> Check:
    if s.pgsql is None:
        return _fail(TARGET_NOT_PRIMARY, "pgsql resource not found in the CIB")
    rsc = s.resource(s.pgsql.resource)
    if rsc is not None and node in rsc.promoted_nodes:
        return _fail(TARGET_NOT_PRIMARY, f"{node} is the promoted node")
    if s.attribute(node, f"{s.pgsql.resource}-status") == "PRI":
        return _fail(TARGET_NOT_PRIMARY, f"the pgsql agent reports PRI on {node}")
    vip = s.resource(vip_resource)
    if vip is not None and node in vip.active_nodes:
        return _fail(TARGET_NOT_PRIMARY, f"{node} holds the VIP {vip_resource}")
    if node == s.local_node and s.pg_local is not None and s.pg_local.in_recovery is False:
        return _fail(TARGET_NOT_PRIMARY, f"PostgreSQL on {node} is writable")
    return _pass(TARGET_NOT_PRIMARY, f"{node} is not the primary")


def target_is_local(s: ClusterSnapshot, node: str) -> Check:
    if node != s.local_node:
        return _fail(TARGET_IS_LOCAL, f"target {node} is not this hub ({s.local_node})")
    return _pass(TARGET_IS_LOCAL, f"target is this hub ({node})")


def target_online(s: ClusterSnapshot, node: str) -> Check:
    state = s.node(node)
    if state is None:
        return _fail(TARGET_ONLINE, f"{node} is not a cluster node")
    if not state.online or state.standby:
        return _fail(TARGET_ONLINE, f"{node} is {'in standby' if state.online else 'offline'}")
    return _pass(TARGET_ONLINE, f"{node} online")


def no_recent_failover(s: ClusterSnapshot, freeze_seconds: float) -> Check:
    if s.last_promotion is None:
        return _fail(NO_RECENT_FAILOVER, "no record of when the current primary was promoted")
    age = s.taken_at - s.last_promotion
    if age < freeze_seconds:
        return _fail(
            NO_RECENT_FAILOVER, f"primary promoted {age:.0f}s ago (freeze {freeze_seconds:.0f}s)"
        )
    return _pass(NO_RECENT_FAILOVER, f"last promotion {age:.0f}s ago")


def cluster_lock(s: ClusterSnapshot, job_id: str) -> Check:
    lock = s.lock
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


def disk_room(s: ClusterSnapshot, factor: float) -> Check:
    free = s.host.free_bytes if s.host else None
    size = s.pg_primary.database_bytes if s.pg_primary else None
    if free is None or size is None:
        return _fail(DISK_ROOM, "free space or the primary's database size could not be read")
    needed = int(size * factor)
    if free < needed:
        return _fail(DISK_ROOM, f"{free} bytes free, a re-clone needs {needed}")
    return _pass(DISK_ROOM, f"{free} bytes free, a re-clone needs {needed}")


def pgdata_sane(s: ClusterSnapshot, user: str) -> Check:
    """The data directory from the CIB is a plausible, real, correctly owned directory."""
    problem = _path_problem(s) or _directory_problem(s, user)
    if problem:
        return _fail(PGDATA_SANE, problem)
    assert s.pgsql is not None and s.host is not None
    return _pass(
        PGDATA_SANE, f"{s.pgsql.pgdata} ({'present' if s.host.pgdata_exists else 'missing'})"
    )


def _path_problem(s: ClusterSnapshot) -> str | None:
    p = s.pgsql
    if p is None or not p.pgdata or not p.tmpdir:
        return "pgdata/tmpdir not set on the pgsql resource"
    for name, path in (("pgdata", p.pgdata), ("tmpdir", p.tmpdir)):
        norm = posixpath.normpath(path)
        if not posixpath.isabs(path) or norm != path.rstrip("/") or norm.count("/") < 2:
            return f"{name} {path!r} is not a plain absolute path two levels deep"
    if posixpath.commonpath([p.pgdata, p.tmpdir]) == posixpath.normpath(p.pgdata):
        return "tmpdir lies inside pgdata"
    return None


def _directory_problem(s: ClusterSnapshot, user: str) -> str | None:
    host, pgdata = s.host, s.pgsql.pgdata if s.pgsql else None
    if host is None or host.pgdata_exists is None:
        return "the data directory could not be inspected"
    if host.pgdata_is_symlink:
        return f"{pgdata} is a symbolic link"
    if host.pgdata_exists and host.pgdata_owner != user:
        return f"{pgdata} is owned by {host.pgdata_owner}, not {user}"
    return None
