"""Hand-made cluster snapshots: a healthy CFEngine HA pair and the states tests derive from it.

hub1 is the primary (promoted, PRI, VIP, PGSQL.lock is normal there), hub2 the standby streaming
on timeline 1. `local` says which hub the remediator under test runs on.
"""

from __future__ import annotations

from dataclasses import replace

from remediator.cluster import (
    ClusterSnapshot,
    FailCount,
    LocalHost,
    LocationConstraint,
    NodeState,
    PgsqlParams,
    PgView,
    ResourceFailure,
    ResourceState,
)

NOW = 1_800_000_000.0


def cleanup_argv(node: str, resource: str = "cfpgsql") -> tuple[str, ...]:
    """The cleanup step's command as the remediator must run it (pacemaker's tool, not pcs)."""
    return ("crm_resource", "--cleanup", "--resource", resource, "--node", node)


GiB = 1024**3
PGSQL = PgsqlParams(
    resource="cfpgsql",
    clone="mscfpgsql",
    pgdata="/var/cfengine/state/pg/data",
    tmpdir="/var/cfengine/state/pg/tmp",
    pgdba="postgres",
    pgctl="/usr/lib/postgresql/15/bin/pg_ctl",
    master_ip="10.250.0.100",
    repuser="postgres",
    pgport=5432,
    socketdir="/var/cfengine/state/pg",
)


def host(**kw: object) -> LocalHost:
    values: dict[str, object] = {
        "pgdata_exists": True,
        "pgdata_is_symlink": False,
        "pgdata_owner": "postgres",
        "pgdata_has_version": True,
        "pgsql_lock_present": False,
        "postmaster_running": True,
        "free_bytes": 100 * GiB,
        "pgdata_files": frozenset({"postgresql.conf", "pg_hba.conf"}),
    }
    values.update(kw)
    return LocalHost(**values)  # type: ignore[arg-type]


def healthy(local: str = "hub2", now: float = NOW) -> ClusterSnapshot:
    primary_view = PgView(
        reachable=True, in_recovery=False, timeline=1, streaming_to=("hub2",), database_bytes=GiB
    )
    standby_view = PgView(
        reachable=True,
        in_recovery=True,
        timeline=1,
        receiver_status="streaming",
        received_timeline=1,
    )
    return ClusterSnapshot(
        taken_at=now,
        local_node=local,
        nodes=(NodeState("hub1", online=True), NodeState("hub2", online=True)),
        resources=(
            ResourceState("cfpgsql", "mscfpgsql", ("hub1", "hub2"), promoted_nodes=("hub1",)),
            ResourceState("cfvirtip", None, ("hub1",)),
        ),
        quorate=True,
        fencing_enabled=True,
        maintenance_mode=False,
        cib_last_written=now - 86400,
        node_attributes={
            "hub1": {"cfpgsql-status": "PRI", "cfpgsql-data-status": "LATEST"},
            "hub2": {"cfpgsql-status": "HS:sync", "cfpgsql-data-status": "STREAMING|SYNC"},
        },
        last_promotion=now - 86400,
        pgsql=PGSQL,
        pg_local=primary_view if local == "hub1" else standby_view,
        pg_primary=primary_view,
        host=host(pgsql_lock_present=local == "hub1"),
    )


def standby_failed(s: ClusterSnapshot, node: str = "hub2", age: float = 600) -> ClusterSnapshot:
    """The standby's monitor failed, migration-threshold=1: stopped, fail count 1."""
    attrs = {
        **s.node_attributes,
        node: {"cfpgsql-status": "STOP", "cfpgsql-data-status": "DISCONNECT"},
    }
    pgsql = s.resource("cfpgsql")
    assert pgsql is not None
    active = tuple(n for n in pgsql.active_nodes if n != node)
    local_host = (
        s.host
        if s.local_node != node or s.host is None
        else replace(s.host, postmaster_running=False)
    )
    return replace(
        s,
        resources=tuple(
            replace(r, active_nodes=active) if r.id == "cfpgsql" else r for r in s.resources
        ),
        failures=(ResourceFailure("cfpgsql", node, "monitor", "not running", s.taken_at - age),),
        fail_counts=(FailCount("cfpgsql", node, 1, 1),),
        node_attributes=attrs,
        pg_local=PgView(reachable=False, error="connection refused")
        if s.local_node == node
        else s.pg_local,
        pg_primary=replace(s.pg_primary, streaming_to=()) if s.pg_primary else None,
        host=local_host,
    )


def with_ban(
    s: ClusterSnapshot, cid: str = "cli-ban-mscfpgsql-on-hub2", **kw: object
) -> ClusterSnapshot:
    values: dict[str, object] = {"resource": "mscfpgsql", "node": "hub2", "score": "-INFINITY"}
    values.update(kw)
    return replace(s, constraints=(*s.constraints, LocationConstraint(cid, **values)))  # type: ignore[arg-type]
