"""Each precondition on hand-made snapshots: what passes, what refuses, and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from remediator import guard
from remediator.cluster import ClusterSnapshot, LockState, NodeState, PgView, ResourceState

from .snapshots import NOW, PGSQL, healthy, host


def with_resource(s: ClusterSnapshot, rid: str, **kw: object) -> ClusterSnapshot:
    return replace(
        s,
        resources=tuple(replace(r, **kw) if r.id == rid else r for r in s.resources),  # type: ignore[arg-type]
    )


def test_healthy_pair_passes_everything() -> None:
    for local in ("hub1", "hub2"):
        s = healthy(local)
        checks = [
            guard.quorate(s),
            guard.fencing(s, required=True),
            guard.no_unclean_node(s),
            guard.not_maintenance(s, ("cfpgsql", "mscfpgsql")),
            guard.single_primary(s, "cfvirtip", require_vip=True),
            guard.target_not_primary(s, "hub2", "cfvirtip"),
            guard.no_recent_failover(s, 900),
            guard.cluster_lock(s, "job"),
            guard.disk_room(s, 1.2),
        ]
        assert [c for c in checks if not c.ok] == [], local


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (replace(healthy(), quorate=False), "no quorum"),
        (replace(healthy(), quorate=None), "could not be read"),
    ],
)
def test_quorum(snapshot: ClusterSnapshot, expected: str) -> None:
    check = guard.quorate(snapshot)
    assert not check.ok and expected in check.detail


def test_fencing_is_required_unless_configured_off() -> None:
    s = replace(healthy(), fencing_enabled=False)
    assert not guard.fencing(s, required=True).ok
    assert guard.fencing(s, required=False).ok


def test_unclean_or_pending_node() -> None:
    unclean = replace(
        healthy(), nodes=(NodeState("hub1", False, unclean=True), NodeState("hub2", True))
    )
    pending = replace(
        healthy(), nodes=(NodeState("hub1", True, pending=True), NodeState("hub2", True))
    )
    assert "hub1" in guard.no_unclean_node(unclean).detail
    assert not guard.no_unclean_node(pending).ok


def test_maintenance_in_any_form() -> None:
    assert not guard.not_maintenance(replace(healthy(), maintenance_mode=True), ()).ok
    assert not guard.not_maintenance(replace(healthy(), maintenance_mode=None), ()).ok
    node_maint = replace(
        healthy(), nodes=(NodeState("hub1", True, maintenance=True), NodeState("hub2", True))
    )
    assert not guard.not_maintenance(node_maint, ()).ok
    unmanaged = with_resource(healthy(), "cfpgsql", managed=False)
    assert not guard.not_maintenance(unmanaged, ("cfpgsql",)).ok
    assert guard.not_maintenance(unmanaged, ("cfvirtip",)).ok


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (with_resource(healthy(), "cfpgsql", promoted_nodes=("hub1", "hub2")), "need exactly one"),
        (with_resource(healthy(), "cfpgsql", promoted_nodes=()), "need exactly one"),
        (
            replace(
                healthy(),
                node_attributes={
                    "hub1": {"cfpgsql-status": "PRI"},
                    "hub2": {"cfpgsql-status": "PRI"},
                },
            ),
            "cfpgsql-status=PRI on [hub1, hub2]",
        ),
        (replace(healthy("hub2"), pg_local=PgView(True, in_recovery=False)), "writable"),
        (
            replace(healthy("hub1"), pg_local=PgView(True, in_recovery=True)),
            "not a readable primary",
        ),
        (with_resource(healthy(), "cfvirtip", active_nodes=("hub2",)), "VIP cfvirtip on hub2"),
        (
            replace(healthy(), pg_primary=PgView(True, in_recovery=True)),
            "reaches a server in recovery",
        ),
        (replace(healthy(), pgsql=None), "pgsql resource not found"),
    ],
    ids=[
        "two-promoted",
        "none-promoted",
        "agent-two-pri",
        "local-writable-standby",
        "primary-in-recovery",
        "vip-elsewhere",
        "vip-reaches-standby",
        "no-pgsql",
    ],
)
def test_single_primary_refuses_any_disagreement(snapshot: ClusterSnapshot, expected: str) -> None:
    check = guard.single_primary(snapshot, "cfvirtip", require_vip=False)
    assert not check.ok
    assert expected in check.detail


def test_vip_is_only_required_for_resync() -> None:
    no_vip = with_resource(replace(healthy(), pg_primary=None), "cfvirtip", active_nodes=())
    assert guard.single_primary(no_vip, "cfvirtip", require_vip=False).ok
    assert not guard.single_primary(no_vip, "cfvirtip", require_vip=True).ok


def test_target_not_primary() -> None:
    s = healthy("hub1")
    assert "promoted" in guard.target_not_primary(s, "hub1", "cfvirtip").detail
    demoted_but_vip = with_resource(s, "cfpgsql", promoted_nodes=())
    assert (
        "VIP"
        in guard.target_not_primary(
            replace(demoted_but_vip, node_attributes={}), "hub1", "cfvirtip"
        ).detail
    )


def test_recent_failover_and_unknown_promotion_time() -> None:
    assert not guard.no_recent_failover(replace(healthy(), last_promotion=NOW - 60), 900).ok
    assert guard.no_recent_failover(replace(healthy(), last_promotion=NOW - 901), 900).ok
    assert not guard.no_recent_failover(replace(healthy(), last_promotion=None), 900).ok


def test_cluster_lock_states() -> None:
    other = LockState("hub1", "theirs", NOW + 60, "owner=hub1;job=theirs")
    assert not guard.cluster_lock(replace(healthy(), lock=other), "mine").ok
    assert guard.cluster_lock(replace(healthy(), lock=other), "theirs").ok
    expired = replace(other, expires=NOW - 1)
    assert guard.cluster_lock(replace(healthy(), lock=expired), "mine").ok
    malformed = LockState(None, None, None, "garbage")
    assert not guard.cluster_lock(replace(healthy(), lock=malformed), "mine").ok


def test_disk_room_needs_both_facts() -> None:
    assert not guard.disk_room(
        replace(healthy(), pg_primary=PgView(True, in_recovery=False)), 1.2
    ).ok
    assert not guard.disk_room(replace(healthy(), host=host(free_bytes=None)), 1.2).ok
    tight = replace(healthy(), host=host(free_bytes=int(1.1 * 1024**3)))
    assert not guard.disk_room(tight, 1.2).ok and guard.disk_room(tight, 1.0).ok


@pytest.mark.parametrize(
    ("pgdata", "tmpdir", "ok"),
    [
        ("/var/cfengine/state/pg/data", "/var/cfengine/state/pg/tmp", True),
        ("/", "/var/tmp/x", False),
        ("/data", "/var/tmp/x", False),
        ("relative/pg/data", "/var/tmp/x", False),
        ("/var/lib/../../etc", "/var/tmp/x", False),
        ("/srv/pg/data", "/srv/pg/data/tmp", False),
    ],
)
def test_pgdata_sanity(pgdata: str, tmpdir: str, ok: bool) -> None:
    s = replace(healthy(), pgsql=replace(PGSQL, pgdata=pgdata, tmpdir=tmpdir))
    assert guard.pgdata_sane(s, "postgres").ok is ok


def test_resource_lookup_by_clone_id() -> None:
    s = healthy()
    assert s.resource("mscfpgsql") == s.resource("cfpgsql")
    assert isinstance(s.resource("cfpgsql"), ResourceState)
    assert s.resource("nope") is None
