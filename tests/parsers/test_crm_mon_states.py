"""The CFEngine cluster's states, made offline with the real pacemaker tools, read back through
``crm_mon`` (the exporter's exact argv) and parsed: every field that matters is asserted exactly.

crm_mon runs in Europe/Berlin (summer time on the simulated date) and the parser is given that
zone: ``last_change`` and every operation time must come back as the exact Unix time.
"""

from __future__ import annotations

import math
import time
from zoneinfo import ZoneInfo

import pytest

from clusterstate.pacemaker_state import agent_views
from clusterstate.parsers.crm_mon import ClusterStatus, parse_crm_mon
from clusterstate.parsers.crm_mon_model import (
    Ban,
    Failure,
    Node,
    NodeHealth,
    NodeType,
    NoQuorumPolicy,
    Primitive,
    ResourceInstance,
)
from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import (
    PgsqlStatus,
    ReceiverStatus,
    ReplicationState,
    SyncState,
)
from lab.offline.cibstates import (
    BASE_AT,
    HEALTHY_AT,
    INCIDENT_AT,
    PCMK_TZ,
    CibStates,
    crm_mon_xml,
    run_tool,
)

ZONE = ZoneInfo(PCMK_TZ)
BASELINE = 0x5000060  # cfpgsql-master-baseline 0000000005000060


def parse(cib_states: CibStates, state: str) -> ClusterStatus:
    started = time.time()
    status = parse_crm_mon(crm_mon_xml(getattr(cib_states, state)()), local_tz=ZONE)
    assert status.summary is not None and status.summary.last_update is not None
    assert int(started) <= status.summary.last_update <= time.time()  # crm_mon's own clock
    return status


def member(
    name: str,
    node_id: str,
    running: int,
    *,
    dc: bool = False,
    online: bool = True,
    unclean: bool = False,
    standby: bool = False,
    expected_up: bool = True,
) -> Node:
    return Node(
        name=name,
        id=node_id,
        type=NodeType.MEMBER,
        online=online,
        standby=standby,
        standby_onfail=False,
        maintenance=False,
        pending=False,
        unclean=unclean,
        shutdown=False,
        expected_up=expected_up,
        is_dc=dc,
        resources_running=running,
        health=NodeHealth.GREEN,
        feature_set="<3.15.1" if online else None,
        id_as_resource=None,
    )


def pgsql(role: Role, *nodes: str, managed: bool = True) -> ResourceInstance:
    return ResourceInstance(
        "cfpgsql",
        "mscfpgsql",
        None,
        None,
        None,
        Primitive(
            id="cfpgsql",
            agent="ocf:heartbeat:pgsql",
            role=role,
            target_role=None,
            active=bool(nodes),
            managed=managed,
            failed=False,
            blocked=False,
            removed=False,
            failure_ignored=False,
            maintenance=None,
            pending=None,
            locked_to=None,
            nodes=nodes,
            nodes_running_on=len(nodes),
        ),
    )


def vip(*nodes: str, managed: bool = True) -> ResourceInstance:
    return ResourceInstance(
        "cfvirtip",
        None,
        "cfengine",
        None,
        None,
        Primitive(
            id="cfvirtip",
            agent="ocf:heartbeat:IPaddr2",
            role=Role.STARTED if nodes else Role.STOPPED,
            target_role=None,
            active=bool(nodes),
            managed=managed,
            failed=False,
            blocked=False,
            removed=False,
            failure_ignored=False,
            maintenance=None,
            pending=None,
            locked_to=None,
            nodes=nodes,
            nodes_running_on=len(nodes),
        ),
    )


PRIMARY = (
    PgsqlStatus.PRI,
    ReplicationState.LATEST,
    SyncState.NONE,
    ReceiverStatus.NORMAL_MASTER,
    1000.0,
    BASELINE,
)
STANDBY = (
    PgsqlStatus.HS_ASYNC,
    ReplicationState.STREAMING,
    SyncState.ASYNC,
    ReceiverStatus.NORMAL,
    100.0,
    None,
)
STOPPED = (PgsqlStatus.STOP, ReplicationState.DISCONNECT, SyncState.NONE, None, -math.inf, None)
NOT_SHOWN = (None, None, None, None, None, None)  # crm_mon lists no attributes of offline nodes


def agent_view(status: ClusterStatus) -> dict[str, tuple[object, ...]]:
    return {
        view.node: (
            view.status,
            view.replication_state,
            view.sync_state,
            view.receiver_status,
            view.promotion_score,
            view.master_baseline_lsn,
        )
        for view in agent_views(status, None, "cfpgsql")
    }


def fail_counts(status: ClusterStatus) -> dict[tuple[str, str], tuple[float, float | None]]:
    return {
        (h.node, h.resource_id): (h.fail_count, h.last_failure)
        for h in status.history
        if h.fail_count
    }


def check_summary(
    status: ClusterStatus,
    *,
    dc: str,
    changed_at: int,
    fencing: bool = False,
    maintenance: bool = False,
) -> None:
    summary = status.summary
    assert summary is not None and summary.dc is not None and summary.options is not None
    assert (summary.stack, summary.dc.present, summary.dc.name, summary.dc.with_quorum) == (
        "corosync",
        True,
        dc,
        True,
    )
    assert summary.dc.version == "2.1.5-a3f44794f94"
    assert summary.last_change == changed_at
    assert (summary.last_change_user, summary.last_change_client, summary.last_change_origin) == (
        "hacluster",
        "crmd",
        "hub1",
    )
    assert (
        summary.nodes_configured,
        summary.resources_configured,
        summary.resources_disabled,
        summary.resources_blocked,
    ) == (2, 3, 0, 0)
    assert summary.options.fencing_enabled is fencing
    assert summary.options.maintenance_mode is maintenance
    assert summary.options.stop_all_resources is False
    assert summary.options.no_quorum_policy is NoQuorumPolicy.IGNORE
    assert all(h.migration_threshold == 1.0 for h in status.history)


def test_healthy(cib_states: CibStates) -> None:
    status = parse(cib_states, "healthy")
    check_summary(status, dc="hub1", changed_at=BASE_AT)
    assert status.nodes == (member("hub1", "1", 2, dc=True), member("hub2", "2", 1))
    assert status.instances == (
        pgsql(Role.PROMOTED, "hub1"),
        pgsql(Role.UNPROMOTED, "hub2"),
        vip("hub1"),
    )
    assert status.promoted_nodes("mscfpgsql") == ("hub1",)
    assert status.active_nodes("cfvirtip") == ("hub1",)
    assert agent_view(status) == {"hub1": PRIMARY, "hub2": STANDBY}
    assert (fail_counts(status), status.failures, status.bans) == ({}, (), ())
    primary = status.history_of("hub1", "cfpgsql")
    standby = status.history_of("hub2", "cfpgsql")
    assert primary is not None and standby is not None
    assert primary.last_monitor is not None and standby.last_monitor is not None
    assert (
        primary.last_monitor.interval_seconds,
        primary.last_monitor.rc,
        primary.last_monitor.rc_text,
        primary.last_monitor.last_rc_change,
        primary.last_monitor.exec_time_seconds,
    ) == (3.0, 8, "promoted", HEALTHY_AT, 0.0)
    assert (
        standby.last_monitor.interval_seconds,
        standby.last_monitor.rc,
        standby.last_monitor.last_rc_change,
    ) == (4.0, 0, BASE_AT)


def test_failed_standby_monitor(cib_states: CibStates) -> None:
    status = parse(cib_states, "failed_standby_monitor")
    check_summary(status, dc="hub1", changed_at=BASE_AT)
    assert status.nodes == (member("hub1", "1", 2, dc=True), member("hub2", "2", 0))
    assert status.instances == (pgsql(Role.PROMOTED, "hub1"), pgsql(Role.STOPPED), vip("hub1"))
    assert agent_view(status) == {"hub1": PRIMARY, "hub2": STOPPED}
    assert fail_counts(status) == {("hub2", "cfpgsql"): (1.0, INCIDENT_AT)}
    assert status.failures == (
        Failure(
            op_key="cfpgsql_monitor_4000",
            resource_id="cfpgsql",
            task="monitor",
            interval_seconds=4.0,
            node="hub2",
            exitcode=1,
            exitstatus="error",
            exitreason="Simulated action result",
            call=7,
            status="complete",
            last_rc_change=INCIDENT_AT,
            queued_seconds=0.0,
            exec_seconds=0.0,
        ),
    )
    history = status.history_of("hub2", "cfpgsql")
    assert history is not None and history.last_monitor is not None
    assert (
        history.last_monitor.rc,
        history.last_monitor.rc_text,
        history.last_monitor.last_rc_change,
    ) == (1, "error", INCIDENT_AT)
    assert status.bans == ()


def test_failover(cib_states: CibStates) -> None:
    status = parse(cib_states, "failover")
    check_summary(status, dc="hub1", changed_at=BASE_AT)
    assert status.nodes == (member("hub1", "1", 0, dc=True), member("hub2", "2", 2))
    assert status.instances == (pgsql(Role.PROMOTED, "hub2"), pgsql(Role.STOPPED), vip("hub2"))
    assert status.promoted_nodes("cfpgsql") == ("hub2",)
    assert agent_view(status) == {"hub1": STOPPED, "hub2": PRIMARY}
    assert fail_counts(status) == {("hub1", "cfpgsql"): (1.0, INCIDENT_AT)}
    (failure,) = status.failures
    assert (
        failure.resource_id,
        failure.task,
        failure.interval_seconds,
        failure.node,
        failure.exitcode,
        failure.exitstatus,
    ) == ("cfpgsql", "monitor", 3.0, "hub1", 7, "not running")


def test_node_down(cib_states: CibStates) -> None:
    status = parse(cib_states, "node_down")
    check_summary(status, dc="hub2", changed_at=BASE_AT)
    assert status.nodes == (
        member("hub1", "1", 0, online=False, expected_up=False),
        member("hub2", "2", 2, dc=True),
    )
    assert status.instances == (pgsql(Role.PROMOTED, "hub2"), pgsql(Role.STOPPED), vip("hub2"))
    assert agent_view(status) == {"hub1": NOT_SHOWN, "hub2": PRIMARY}
    assert (fail_counts(status), status.failures) == ({}, ())


def test_unclean_node(cib_states: CibStates) -> None:
    status = parse(cib_states, "unclean_node")
    check_summary(status, dc="hub2", changed_at=INCIDENT_AT, fencing=True)
    assert status.nodes == (
        member("hub1", "1", 2, online=False, unclean=True),
        member("hub2", "2", 1, dc=True),
    )
    # without a fencing device nothing can be recovered: hub1's resources stay where they were
    assert status.instances == (
        pgsql(Role.PROMOTED, "hub1"),
        pgsql(Role.UNPROMOTED, "hub2"),
        vip("hub1"),
    )
    assert agent_view(status) == {"hub1": NOT_SHOWN, "hub2": STANDBY}
    assert status.fence_events == ()  # the fencing history is not part of an offline CIB


def test_leftover_ban(cib_states: CibStates) -> None:
    status = parse(cib_states, "leftover_ban")
    check_summary(status, dc="hub1", changed_at=INCIDENT_AT)
    assert status.bans == (
        Ban(
            id="cli-ban-mscfpgsql-on-hub2",
            resource="mscfpgsql",
            node="hub2",
            weight=-math.inf,
            promoted_only=False,
        ),
    )
    assert status.bans[0].is_cli
    assert status.instances == (pgsql(Role.PROMOTED, "hub1"), pgsql(Role.STOPPED), vip("hub1"))
    assert agent_view(status) == {"hub1": PRIMARY, "hub2": STOPPED}
    assert (fail_counts(status), status.failures) == ({}, ())


def test_maintenance_mode(cib_states: CibStates) -> None:
    status = parse(cib_states, "maintenance_mode")
    check_summary(status, dc="hub1", changed_at=INCIDENT_AT, maintenance=True)
    assert status.nodes == (member("hub1", "1", 2, dc=True), member("hub2", "2", 1))
    assert status.instances == (
        pgsql(Role.PROMOTED, "hub1", managed=False),
        pgsql(Role.UNPROMOTED, "hub2", managed=False),
        vip("hub1", managed=False),
    )
    assert agent_view(status) == {"hub1": PRIMARY, "hub2": STANDBY}


def test_node_standby(cib_states: CibStates) -> None:
    status = parse(cib_states, "node_standby")
    check_summary(status, dc="hub1", changed_at=INCIDENT_AT)
    assert status.nodes == (member("hub1", "1", 2, dc=True), member("hub2", "2", 0, standby=True))
    assert status.instances == (pgsql(Role.PROMOTED, "hub1"), pgsql(Role.STOPPED), vip("hub1"))
    assert agent_view(status) == {"hub1": PRIMARY, "hub2": STOPPED}


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_times_are_the_same_instants_whatever_zone_crm_mon_prints_in(
    cib_states: CibStates, zone: str
) -> None:
    # operation times are stored as epochs and printed by crm_mon in its zone; parsed with that
    # zone they must give back the stored epochs (cib-last-written is text and stays verbatim)
    state = cib_states.failed_standby_monitor()
    local = parse_crm_mon(crm_mon_xml(state), local_tz=ZONE)
    other = parse_crm_mon(crm_mon_xml(state, tz=zone), local_tz=ZoneInfo(zone))
    assert other.history == local.history
    assert other.failures == local.failures


def test_legacy_crm_mon_x_reads_like_output_as_xml(cib_states: CibStates) -> None:
    state = cib_states.failed_standby_monitor()
    legacy = parse_crm_mon(run_tool(["crm_mon", "-X"], cib=state), local_tz=ZONE)
    modern = parse_crm_mon(crm_mon_xml(state), local_tz=ZONE)
    assert legacy.legacy and not modern.legacy
    assert legacy.api_version == "2.1.5"
    for field in ("nodes", "instances", "node_attributes", "history", "failures", "bans"):
        assert getattr(legacy, field) == getattr(modern, field), field
