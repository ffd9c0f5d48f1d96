"""Hand-made cluster states for the remediator: a healthy CFEngine HA pair and its variations.

hub1 is the primary (promoted, PRI, VIP, PGSQL.lock is normal there), hub2 the standby streaming
on timeline 1. `local` says which hub the remediator under test runs on. The states are the shared
model's (`clusterstate`), built with lab/offline/clusterstates.py.
"""

from __future__ import annotations

from dataclasses import replace

from clusterstate.disk import CloneSize
from clusterstate.model import ClusterState
from clusterstate.postgres import PgFacts
from lab.offline.clusterstates import (
    PGSQL,
    GiB,
    agent,
    corosync,
    data_dir,
    failure,
    history,
    lock_file,
    pacemaker,
    pg_down,
    pg_primary,
    pg_standby,
    with_pacemaker,
)

NOW = 1_800_000_000.0
__all__ = ["NOW", "PGSQL", "cleanup_argv", "healthy", "host", "standby_failed"]
host = data_dir


def cleanup_argv(node: str, resource: str = "cfpgsql") -> tuple[str, ...]:
    """The cleanup step's command as the remediator must run it (pacemaker's tool, not pcs)."""
    return ("crm_resource", "--cleanup", "--resource", resource, "--node", node)


def healthy(local: str = "hub2", now: float = NOW) -> ClusterState:
    primary = pg_primary()
    return ClusterState(
        taken_at=now,
        local_node=local,
        pacemaker=pacemaker(local, last_change=now - 86400, last_promotion=now - 86400),
        corosync=corosync(local),
        postgres=primary if local == "hub1" else pg_standby(),
        primary=primary,
        primary_clone_size=CloneSize(databases_bytes=GiB, wal_bytes=0, archive_bytes=0),
        data_dir=data_dir(),
        pgsql_lock=lock_file(local == "hub1"),
    )


def standby_failed(s: ClusterState, node: str = "hub2", age: float = 600) -> ClusterState:
    """The standby's monitor failed, migration-threshold=1: stopped, fail count 1."""
    p = s.pacemaker
    assert p.database is not None
    database = replace(
        p.database, active_nodes=tuple(n for n in p.database.active_nodes if n != node)
    )
    agents = tuple(
        agent(node, "STOP", "DISCONNECT") if v.node == node else v for v in p.agent_views
    )
    local = s.local_node == node
    primary: PgFacts | None = s.primary
    if primary is not None:
        primary = replace(primary, standbys=tuple(x for x in primary.standbys if x.name != node))
    state = with_pacemaker(
        s,
        database=database,
        resources=(database, *p.resources[1:]),
        failed_actions=(failure("cfpgsql", node, "monitor", "not running", s.taken_at - age),),
        history=(history("cfpgsql", node, 1, 1),),
        agent_views=agents,
    )
    return replace(
        state,
        postgres=pg_down() if local else s.postgres,
        primary=primary,
        data_dir=replace(s.data_dir, postmaster_running=False)
        if local and s.data_dir
        else s.data_dir,
    )
