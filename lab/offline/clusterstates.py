"""Hand-made cluster states in the shared model's own types (`clusterstate`), for the unit tests of
the verdict and the remediator's checks and for `pacemaker_standin`: compact builders with the
defaults of a healthy pair.

Only what a saved CIB cannot show is made by hand here (a PostgreSQL that answers, a data
directory); states that pacemaker can produce are also tested from real crm_mon output
(lab/offline/cibstates.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from clusterstate.corosync import CorosyncState
from clusterstate.host import DataDir, PgsqlLock
from clusterstate.model import ClusterState
from clusterstate.pacemaker_state import (
    LockState,
    PacemakerState,
    PgsqlParams,
    ResourcePlacement,
)
from clusterstate.parsers.cib_model import LocationConstraint
from clusterstate.parsers.corosync import QuorumStatus
from clusterstate.parsers.crm_mon_model import Failure, Node, NodeType, ResourceHistory
from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import PgsqlAgentView, decode_pgsql_attributes
from clusterstate.postgres import PgFacts, StandbyLink, WalReceiver
from lab.offline.pgpair import PgPair

GiB = 1024**3
PGSQL = PgsqlParams(
    resource="cfpgsql",
    clone="mscfpgsql",
    pgdata="/var/cfengine/state/pg/data",
    tmpdir="/var/cfengine/state/pg/tmp",
    pgdba="postgres",
    pgctl="/usr/lib/postgresql/15/bin/pg_ctl",
    psql=None,
    master_ip="10.250.0.100",
    repuser="postgres",
    pgport=5432,
    socketdir="/var/cfengine/state/pg",
    logfile=None,
    agent="ocf:heartbeat:pgsql",
)


def pair_params(pair: PgPair) -> PgsqlParams:
    """The pgsql resource's parameters as a CIB would give them for a test pair's standby
    (`tests.support.pgpair`): its data directory and log, the primary's address and port."""
    return replace(
        PGSQL,
        pgdata=str(pair.standby.datadir),
        tmpdir=str(pair.base / "tmp"),
        pgctl=str(pair.install.tool("pg_ctl")),
        master_ip="127.0.0.1",
        pgport=pair.primary.port,
        socketdir=str(pair.base),
        logfile=str(pair.standby.log),
    )


def node(name: str, online: bool = True, **flags: bool) -> Node:
    """A member node; `flags`: standby, standby_onfail, maintenance, pending, unclean, is_dc."""
    values: dict[str, Any] = dict.fromkeys(
        ("standby", "standby_onfail", "maintenance", "pending", "unclean", "shutdown", "is_dc"),
        False,
    )
    values.update(flags)
    return Node(
        name=name, id=name.removeprefix("hub") or None, type=NodeType.MEMBER, online=online,
        expected_up=True, resources_running=None, health=None, feature_set=None,
        id_as_resource=None, **values,
    )  # fmt: skip


def placement(
    resource: str,
    active: Iterable[str] = (),
    promoted: Iterable[str] = (),
    *,
    primitive: str | None = None,
    clone: str | None = None,
    group: str | None = None,
    failed: Iterable[str] = (),
    managed: bool = True,
    blocked: bool = False,
) -> ResourcePlacement:
    return ResourcePlacement(
        resource=resource,
        primitive=primitive or resource,
        clone=clone,
        group=group,
        configured=True,
        active_nodes=tuple(sorted(active)),
        promoted_nodes=tuple(sorted(promoted)),
        failed_nodes=tuple(sorted(failed)),
        managed=managed,
        blocked=blocked,
    )


def agent(name: str, status: str | None, data_status: str | None = None) -> PgsqlAgentView:
    """The pgsql agent's view of a node, decoded from the attribute values it would write."""
    attributes = {"cfpgsql-status": status, "cfpgsql-data-status": data_status}
    return decode_pgsql_attributes(
        {k: v for k, v in attributes.items() if v is not None}, node=name, resource="cfpgsql"
    )


def failure(resource: str, on: str, task: str, reason: str | None, at: float | None) -> Failure:
    return Failure(
        op_key=f"{resource}_{task}_0", resource_id=resource, task=task, interval_seconds=None,
        node=on, exitcode=7, exitstatus="not running", exitreason=reason, call=None,
        status="complete", last_rc_change=at, queued_seconds=None, exec_seconds=None,
    )  # fmt: skip


def history(resource: str, on: str, fail_count: float, threshold: float = 1) -> ResourceHistory:
    return ResourceHistory(
        node=on,
        resource_id=resource,
        removed=False,
        migration_threshold=threshold,
        fail_count=fail_count,
        last_failure=None,
        operations=(),
    )


def location(
    cid: str,
    *,
    resource: str = "mscfpgsql",
    on: str | None = "hub2",
    score: float = -math.inf,
    role: Role | None = None,
    expires_at: float | None = None,
) -> LocationConstraint:
    return LocationConstraint(
        id=cid, resources=(resource,), resource_pattern=None, node=on, score=score,
        score_attribute=None, role=role, rule_based=expires_at is not None,
        expires_at=expires_at,
    )  # fmt: skip


def pacemaker(
    local_node: str,
    *,
    nodes: tuple[Node, ...] = (node("hub1", is_dc=True), node("hub2")),
    database: ResourcePlacement | None = None,
    vip: ResourcePlacement | None = None,
    agents: Mapping[str, tuple[str | None, str | None]] | None = None,
    **fields: Any,
) -> PacemakerState:
    """A pacemaker that answered: hub1 primary and VIP, hub2 standby (HS:sync), unless told."""
    database = database or placement(
        "cfpgsql", ("hub1", "hub2"), ("hub1",), primitive="cfpgsql", clone="mscfpgsql"
    )
    vip = vip or placement("cfvirtip", ("hub1",))
    agents = agents or {"hub1": ("PRI", "LATEST"), "hub2": ("HS:sync", "STREAMING|SYNC")}
    values: dict[str, Any] = {
        "local_node": local_node, "up": True, "down_reason": None, "down_message": None,
        "pacemakerd_state": None, "cluster_name": "cfcluster",
        "dc": next((n.name for n in nodes if n.is_dc), None), "quorate": True,
        "maintenance_mode": False, "stop_all_resources": False, "fencing_enabled": True,
        "no_quorum_policy": None, "last_change": None, "nodes": nodes, "database": database,
        "vip": vip, "resources": (database, vip), "history": (), "failed_actions": (),
        "fence_events": (), "location_constraints": (),
        "agent_views": tuple(agent(n, *v) for n, v in sorted(agents.items())),
        "pgsql": PGSQL, "last_promotion": None, "lock": LockState(), "status": None,
        "cib": None, "cib_current": True, "cib_read_at": None,
    }  # fmt: skip
    values.update(fields)
    values["local_is_dc"] = values["dc"] == local_node
    return PacemakerState(**values)


def pg_primary(streaming_to: tuple[str, ...] = ("hub2",), timeline: int = 1) -> PgFacts:
    return PgFacts(
        up=True,
        role="primary",
        timeline=timeline,
        standbys=tuple(StandbyLink(name, "streaming", "async") for name in streaming_to),
    )


def pg_standby(timeline: int = 1, receiver: str = "streaming") -> PgFacts:
    return PgFacts(
        up=True,
        role="standby",
        timeline=timeline,
        receiver=WalReceiver(
            receiver, received_timeline=timeline if receiver != "absent" else None
        ),
        replay_paused=False,
    )


def pg_down(error: str = "connection refused") -> PgFacts:
    return PgFacts(up=False, error=error)


def data_dir(**kw: Any) -> DataDir:
    values: dict[str, Any] = {
        "exists": True,
        "is_symlink": False,
        "owner": "postgres",
        "has_version": True,
        "postmaster_running": True,
        "free_bytes": 100 * GiB,
        "config_files": frozenset({"postgresql.conf", "pg_hba.conf"}),
    }
    values.update(kw)
    return DataDir(**values)


def lock_file(
    present: bool | None, path: str = "/var/cfengine/state/pg/tmp/PGSQL.lock"
) -> PgsqlLock:
    return PgsqlLock(path, present, None, None)


def corosync(local_node: str, quorate: bool | None = True) -> CorosyncState:
    """Corosync's view (quorum only: the links are the exporter's business)."""
    if quorate is None:
        return CorosyncState.down(local_node, "unavailable", "corosync is not running here")
    quorum = QuorumStatus(
        quorate=quorate, provider="corosync_votequorum", nodes=2, node_id=1, ring_id=None,
        expected_votes=2, highest_expected=2, total_votes=2 if quorate else 1, quorum=1,
        activity_blocked=not quorate, flags=frozenset(), other_flags=(), members=(),
        qdevice=None,
    )  # fmt: skip
    return CorosyncState(local_node, True, None, None, quorum, None, {}, ())


def with_pacemaker(s: ClusterState, **fields: Any) -> ClusterState:
    """``s`` with some of pacemaker's facts changed."""
    return replace(s, pacemaker=replace(s.pacemaker, **fields))
