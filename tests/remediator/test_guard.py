"""Each precondition on hand-made states: what passes, what refuses, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest

from clusterstate.disk import CloneSize
from clusterstate.model import ClusterState
from clusterstate.pacemaker_state import LockState, ResourcePlacement, pacemaker_state
from clusterstate.parsers.crm_mon import parse_crm_mon
from clusterstate.parsers.crm_mon_model import FenceEvent, FenceStatus
from lab.offline.clusterstates import agent, corosync, node, pg_down, pg_primary, pg_standby
from lab.offline.clusterstates import with_pacemaker as pacemaker_with
from remediator import guard
from remediator.actions.base import cluster_safety
from remediator.config import config_from_mapping

from .snapshots import NOW, PGSQL, healthy, host


def with_resource(s: ClusterState, rid: str, **kw: object) -> ClusterState:
    """``s`` with the database (``cfpgsql``) or the VIP (``cfvirtip``) placed otherwise."""
    field = "database" if rid == "cfpgsql" else "vip"
    changed = replace(getattr(s.pacemaker, field), **kw)
    resources = tuple(changed if r.primitive == rid else r for r in s.pacemaker.resources)
    return pacemaker_with(s, **{field: changed, "resources": resources})


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
        (pacemaker_with(healthy(), quorate=False), "no quorum"),
        (replace(healthy(), corosync=corosync("hub2", quorate=False)), "no quorum"),
        (pacemaker_with(healthy(), quorate=None), "could not be read from pacemaker"),
        (replace(healthy(), corosync=corosync("hub2", quorate=None)), "read from corosync"),
    ],
    ids=["pacemaker-says-no", "corosync-says-no", "pacemaker-unknown", "corosync-unknown"],
)
def test_quorum_needs_every_source(snapshot: ClusterState, expected: str) -> None:
    """One quorum rule: any source saying no is no; one unknown source is not quorate."""
    check = guard.quorate(snapshot)
    assert not check.ok and expected in check.detail


def test_fencing_is_required_unless_configured_off() -> None:
    s = pacemaker_with(healthy(), fencing_enabled=False)
    assert not guard.fencing(s, required=True).ok
    assert guard.fencing(s, required=False).ok


def test_unclean_or_pending_node() -> None:
    unclean = pacemaker_with(healthy(), nodes=(node("hub1", False, unclean=True), node("hub2")))
    pending = pacemaker_with(healthy(), nodes=(node("hub1", pending=True), node("hub2")))
    assert "hub1" in guard.no_unclean_node(unclean).detail
    assert not guard.no_unclean_node(pending).ok


def test_maintenance_in_any_form() -> None:
    assert not guard.not_maintenance(pacemaker_with(healthy(), maintenance_mode=True), ()).ok
    assert not guard.not_maintenance(pacemaker_with(healthy(), maintenance_mode=None), ()).ok
    node_maint = pacemaker_with(healthy(), nodes=(node("hub1", maintenance=True), node("hub2")))
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
            pacemaker_with(healthy(), agent_views=(agent("hub1", "PRI"), agent("hub2", "PRI"))),
            "reports PRI on [hub1, hub2]",
        ),
        (replace(healthy("hub2"), postgres=pg_primary()), "writable"),
        (
            replace(healthy("hub2"), postgres=pg_down(), data_dir=host(postmaster_running=None)),
            "could not be read",
        ),
        (replace(healthy("hub1"), postgres=pg_standby()), "not a readable primary"),
        (with_resource(healthy(), "cfvirtip", active_nodes=("hub2",)), "VIP cfvirtip on hub2"),
        (replace(healthy(), primary=pg_standby()), "reaches a server in recovery"),
        (pacemaker_with(healthy(), database=None), "pgsql resource not found"),
    ],
    ids=[
        "two-promoted",
        "none-promoted",
        "agent-two-pri",
        "local-writable-standby",
        "local-unreadable-but-running",
        "primary-in-recovery",
        "vip-elsewhere",
        "vip-reaches-standby",
        "no-pgsql",
    ],
)
def test_single_primary_refuses_any_disagreement(snapshot: ClusterState, expected: str) -> None:
    check = guard.single_primary(snapshot, "cfvirtip", require_vip=False)
    assert not check.ok
    assert expected in check.detail


def test_vip_is_only_required_for_resync() -> None:
    no_vip = with_resource(replace(healthy(), primary=None), "cfvirtip", active_nodes=())
    assert guard.single_primary(no_vip, "cfvirtip", require_vip=False).ok
    assert not guard.single_primary(no_vip, "cfvirtip", require_vip=True).ok


def test_target_not_primary() -> None:
    s = healthy("hub1")
    assert "promoted" in guard.target_not_primary(s, "hub1", "cfvirtip").detail
    demoted_but_vip = pacemaker_with(with_resource(s, "cfpgsql", promoted_nodes=()), agent_views=())
    assert "VIP" in guard.target_not_primary(demoted_but_vip, "hub1", "cfvirtip").detail


def test_target_whose_local_role_cannot_be_read_is_not_taken_for_a_standby() -> None:
    """Unknown is not "not primary": a running server that does not answer may be writable."""
    s = replace(
        healthy("hub2"), postgres=pg_down("timeout"), data_dir=host(postmaster_running=True)
    )
    check = guard.target_not_primary(s, "hub2", "cfvirtip")
    assert not check.ok and "could not be read" in check.detail
    stopped = replace(s, data_dir=host(postmaster_running=False))
    assert guard.target_not_primary(stopped, "hub2", "cfvirtip").ok


def test_standby_on_fail_is_not_online() -> None:
    """The one standby rule: a node put in standby by a failure (on-fail=standby) is too."""
    s = pacemaker_with(healthy(), nodes=(node("hub1"), node("hub2", standby_onfail=True)))
    check = guard.target_online(s, "hub2")
    assert not check.ok and "on-fail=standby" in check.detail


def test_recent_failover_and_unknown_promotion_time() -> None:
    assert not guard.no_recent_failover(pacemaker_with(healthy(), last_promotion=NOW - 60), 900).ok
    assert guard.no_recent_failover(pacemaker_with(healthy(), last_promotion=NOW - 901), 900).ok
    assert not guard.no_recent_failover(pacemaker_with(healthy(), last_promotion=None), 900).ok


def test_cluster_lock_states() -> None:
    other = LockState("hub1", "theirs", NOW + 60, "owner=hub1;job=theirs")
    assert not guard.cluster_lock(pacemaker_with(healthy(), lock=other), "mine").ok
    assert guard.cluster_lock(pacemaker_with(healthy(), lock=other), "theirs").ok
    expired = replace(other, expires=NOW - 1)
    assert guard.cluster_lock(pacemaker_with(healthy(), lock=expired), "mine").ok
    malformed = LockState(None, None, None, "garbage")
    assert not guard.cluster_lock(pacemaker_with(healthy(), lock=malformed), "mine").ok
    assert not guard.cluster_lock(pacemaker_with(healthy(), lock=None), "mine").ok


def test_disk_room_needs_both_facts() -> None:
    assert not guard.disk_room(replace(healthy(), primary_clone_size=None), 1.2).ok
    # The archive counts: a primary whose archive cannot be listed is not known to fit.
    unknown_archive = CloneSize(
        databases_bytes=1024**2,
        wal_bytes=0,
        archive_bytes=None,
        archive_error="this role may not list the archive",
    )
    refused = guard.disk_room(replace(healthy(), primary_clone_size=unknown_archive), 1.2)
    assert not refused.ok and "may not list the archive" in refused.detail
    big_archive = CloneSize(databases_bytes=1024**2, wal_bytes=0, archive_bytes=100 * 1024**3)
    assert not guard.disk_room(replace(healthy(), primary_clone_size=big_archive), 1.2).ok
    assert not guard.disk_room(replace(healthy(), data_dir=host(free_bytes=None)), 1.2).ok
    tight = replace(healthy(), data_dir=host(free_bytes=int(1.1 * 1024**3)))
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
    s = pacemaker_with(healthy(), pgsql=replace(PGSQL, pgdata=pgdata, tmpdir=tmpdir))
    assert guard.pgdata_sane(s, "postgres").ok is ok


def test_resource_lookup_by_clone_id() -> None:
    p = healthy().pacemaker
    assert p.resource("mscfpgsql") == p.resource("cfpgsql")
    assert isinstance(p.resource("cfpgsql"), ResourcePlacement)
    assert p.resource("nope") is None


@pytest.mark.parametrize(
    ("status", "ok"),
    [(FenceStatus.PENDING, False), (FenceStatus.FAILED, False), (FenceStatus.SUCCESS, True)],
)
def test_pending_or_failed_fencing_refuses_every_destructive_action(
    status: FenceStatus, ok: bool
) -> None:
    event = FenceEvent("hub1", "reboot", status, None, None, "hub2", None, "hub2", NOW - 60)
    s = pacemaker_with(healthy(), fence_events=(event,))
    check = guard.no_fencing_trouble(s)
    assert check.ok is ok
    if not ok:
        assert f"reboot of hub1 {status.value}" in check.detail
    assert check in cluster_safety(s, config_from_mapping({"cluster": "c"}), (), False)
    assert not guard.no_fencing_trouble(pacemaker_with(healthy(), up=False)).ok


def test_a_resource_that_is_not_in_the_live_cluster_is_not_managed_for_sure() -> None:
    check = guard.not_maintenance(healthy(), ("cfpgsql", "gone"))
    assert not check.ok and "not in the live cluster: gone" in check.detail


def test_a_real_failed_fencing_refuses() -> None:
    """crm_mon of a live cluster after `stonith_admin --reboot hub1` without a fencing device."""
    captured = Path(__file__).parents[1] / "fixtures" / "pacemaker" / "live-failed-fencing.xml"
    status = parse_crm_mon(captured.read_bytes(), local_tz=UTC)
    state = pacemaker_state(
        status, None, local_node="hub2", database_resource="cfpgsql", vip_resource="cfvirtip"
    )
    check = guard.no_fencing_trouble(replace(healthy(), pacemaker=state))
    assert not check.ok and "reboot of hub1 failed" in check.detail
