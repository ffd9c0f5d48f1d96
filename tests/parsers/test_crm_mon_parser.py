"""crm_mon parser: cluster unavailable, live-only sections, legacy spellings, hardening."""

from __future__ import annotations

import math
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clusterstate.parsers.crm_mon import (
    CRM_MON_ARGV,
    ClusterUnavailableError,
    CrmMonParseError,
    parse_crm_mon,
    resource_of_op_key,
)
from clusterstate.parsers.crm_mon_model import FenceStatus, NoQuorumPolicy, PacemakerdState, Role
from lab.offline.cibstates import PCMK_TZ, CibStates, crm_mon_xml

CAPTURED = Path(__file__).parents[1] / "fixtures" / "pacemaker"
ZONE = ZoneInfo(PCMK_TZ)


def captured(name: str) -> bytes:
    return (CAPTURED / name).read_bytes()


class TestClusterUnavailable:
    def test_not_connected_2_1_5(self) -> None:
        with pytest.raises(ClusterUnavailableError) as caught:
            parse_crm_mon(captured("not-connected-2.1.5.xml"), local_tz=UTC)
        assert caught.value.code == 102
        assert caught.value.errors == (
            "error: Could not connect to launcher: Connection refused",
            "crm_mon: Connection to cluster failed: Connection refused",
        )
        assert caught.value.pacemakerd_state is None

    def test_legacy_empty_document(self) -> None:
        with pytest.raises(ClusterUnavailableError):
            parse_crm_mon(captured("not-connected-2.1.5-legacy.xml"), local_tz=UTC)

    def test_pacemaker_11_plain_text_error(self) -> None:
        with pytest.raises(ClusterUnavailableError) as caught:
            parse_crm_mon(captured("not-connected-1.1.23-legacy.txt"), local_tz=UTC)
        assert str(caught.value) == "Error: cluster is not available on this node"
        with pytest.raises(ClusterUnavailableError):
            parse_crm_mon(b"\nConnection to cluster failed: Permission denied\n", local_tz=UTC)
        with pytest.raises(CrmMonParseError) as other:
            parse_crm_mon(b"Error: something else entirely\n", local_tz=UTC)
        assert not isinstance(other.value, ClusterUnavailableError)

    def test_pacemaker_still_starting(self) -> None:
        # 2.1.5 says code 0, but there is only the launcher's state and an error
        with pytest.raises(ClusterUnavailableError) as caught:
            parse_crm_mon(captured("live-starting.xml"), local_tz=UTC)
        assert caught.value.code == 0
        assert caught.value.pacemakerd_state is PacemakerdState.RUNNING
        assert "Could not connect to the CIB" in str(caught.value)

    def test_crm_mon_disconnected_of_2_1_6(self) -> None:
        # element and attributes as pacemaker 2.1.6+ writes them (crm_mon_disconnected_xml)
        document = (
            b'<pacemaker-result api-version="2.29" request="crm_mon --output-as=xml">'
            b'<crm-mon-disconnected description="Latest connection attempt failed"'
            b' pacemakerd-state="shutting_down"/>'
            b'<status code="102" message="Not connected"/></pacemaker-result>'
        )
        with pytest.raises(ClusterUnavailableError) as caught:
            parse_crm_mon(document, local_tz=UTC)
        assert str(caught.value) == "Latest connection attempt failed"
        assert caught.value.pacemakerd_state is PacemakerdState.SHUTTING_DOWN
        assert caught.value.code == 102

    def test_unavailable_is_a_parse_error_for_callers_that_only_catch_that(self) -> None:
        assert issubclass(ClusterUnavailableError, CrmMonParseError)
        assert issubclass(CrmMonParseError, ValueError)


class TestLiveOnlySections:
    def test_failed_fencing_and_pacemakerd_state(self) -> None:
        status = parse_crm_mon(captured("live-failed-fencing.xml"), local_tz=UTC)
        assert status.summary is not None
        assert status.summary.pacemakerd_state is PacemakerdState.RUNNING
        (event,) = status.fence_events
        assert (event.target, event.action, event.status, event.origin, event.delegate) == (
            "hub1",
            "reboot",
            FenceStatus.FAILED,
            "hub1",
            None,
        )
        assert event.client is not None and event.client.startswith("stonith_admin.")
        assert event.completed is not None and event.completed == status.summary.last_update

    def test_stopping(self) -> None:
        status = parse_crm_mon(captured("live-stopping.xml"), local_tz=UTC)
        assert status.summary is not None
        assert status.summary.pacemakerd_state is PacemakerdState.SHUTTING_DOWN
        (node,) = status.nodes
        assert (node.shutdown, node.expected_up, node.feature_set) == (True, False, "3.16.1")


PRE_2_1 = {  # how pacemaker 2.0 (and --enable-compat-2.0 builds) spell what 2.1 renamed
    b'role="Promoted"': b'role="Master"',
    b'role="Unpromoted"': b'role="Slave"',
    b"ocf:heartbeat:": b"ocf::heartbeat:",
}


def test_pre_2_1_spellings_parse_like_2_1(cib_states: CibStates) -> None:
    modern = crm_mon_xml(cib_states.healthy())
    old = modern
    for new_spelling, old_spelling in PRE_2_1.items():
        old = old.replace(new_spelling, old_spelling)
    assert old != modern
    assert (
        parse_crm_mon(old, local_tz=ZONE).instances
        == parse_crm_mon(modern, local_tz=ZONE).instances
    )


def test_multi_active_primitive_keeps_every_node(cib_states: CibStates) -> None:
    status = parse_crm_mon(crm_mon_xml(cib_states.vip_multi_active()), local_tz=ZONE)
    (vip,) = status.instances_of("cfvirtip")
    assert vip.primitive.nodes == ("hub1", "hub2")
    assert vip.primitive.nodes_running_on == 2
    assert vip.primitive.multi_active
    assert status.active_nodes("cfengine") == ("hub1", "hub2")
    assert not any(i.primitive.multi_active for i in status.instances_of("mscfpgsql"))


SMALL = b"""<pacemaker-result api-version="2.35" request="crm_mon --output-as=xml">
  <summary>
    <stack type="corosync" pacemakerd-state="running"/>
    <current_dc present="false"/>
    <cluster_options fencing-enabled="true" no-quorum-policy="suicide" maintenance-mode="false"
      stop-all-resources="true" fencing-timeout-ms="90000"/>
  </summary>
  <nodes>
    <node name="hub1" id="1" online="true" standby="false" pending="true" type="member"/>
  </nodes>
  <resources>
    <resource id="gone" resource_agent="ocf:pacemaker:Dummy" role="Starting" removed="true"
      orphaned="false" active="false" managed="true" failed="true" pending="Starting"
      blocked="true" failure_ignored="false" nodes_running_on="0" target_role="Started"/>
    <future-element id="x"/>
  </resources>
  <node_history>
    <node name="hub1">
      <resource_history id="gone" removed="true" orphan="false" migration-threshold="1000000"
        fail-count="1000000" last-failure="Tue Jul 14 11:30:00 2026"/>
    </node>
  </node_history>
  <failures>
    <failure op_key="my_rsc_name_migrate_to_0" node="hub1" exitstatus="error" exitcode="1"
      call="3" status="Timed Out"/>
    <failure id="other_last_failure_0" node="hub1" exitcode="7" call="4" status="Done"/>
  </failures>
  <fence_history status="0">
    <fence_event action="off" target="hub2" client="pacemaker-controld.1" origin="hub1"
      status="pending" extended-status="2"/>
    <fence_event action="reboot" target="hub2" status="success" delegate="hub1"
      completed="2026-10-05 12:02:42.088147Z"/>
    <stonith-event action="reboot" target="hub2" status="done"/>
    <fence_event action="reboot" target="hub2" state="failed" completed="1791201762"/>
  </fence_history>
  <tickets>
    <ticket id="site-a" status="granted" standby="false" last-granted="Tue Jul 14 11:30:00 2026"/>
  </tickets>
  <bans>
    <ban id="cli-ban-x-on-hub1" resource="x" node="hub1" weight="-INFINITY" master_only="true"/>
  </bans>
  <status code="0" message="OK"/>
</pacemaker-result>"""


def test_rarer_sections_and_newer_spellings() -> None:
    status = parse_crm_mon(SMALL, local_tz=ZONE)
    summary = status.summary
    assert summary is not None and summary.dc is not None and summary.options is not None
    assert summary.pacemakerd_state is PacemakerdState.RUNNING
    assert (summary.dc.present, summary.dc.name, summary.dc.with_quorum) == (False, None, None)
    assert summary.options.fencing_enabled is True
    assert summary.options.no_quorum_policy is NoQuorumPolicy.FENCE  # was "suicide"
    assert summary.options.stop_all_resources is True
    assert summary.options.fencing_timeout_seconds == 90.0
    assert status.nodes[0].pending
    (gone,) = status.instances
    assert (
        gone.primitive.removed,
        gone.primitive.role,
        gone.primitive.target_role,
        gone.primitive.pending,
        gone.primitive.failed,
        gone.primitive.blocked,
    ) == (True, Role.STARTING, Role.STARTED, "Starting", True, True)
    (history,) = status.history
    assert (history.removed, history.fail_count, history.migration_threshold) == (
        True,
        math.inf,
        math.inf,
    )
    assert [(f.resource_id, f.task, f.interval_seconds) for f in status.failures] == [
        ("my_rsc_name", None, None),
        ("other", None, None),
    ]
    pending, done, early, legacy = status.fence_events
    assert (pending.status, pending.extended_status, pending.completed) == (
        FenceStatus.PENDING,
        "2",
        None,
    )
    assert (done.status, done.delegate, done.completed) == (
        FenceStatus.SUCCESS,
        "hub1",
        1791201762.088147,
    )
    assert (early.status, legacy.status, legacy.completed) == (
        FenceStatus.SUCCESS,
        FenceStatus.FAILED,
        1791201762.0,
    )
    (ticket,) = status.tickets
    assert (ticket.id, ticket.granted, ticket.standby) == ("site-a", True, False)
    (ban,) = status.bans
    assert (ban.weight, ban.promoted_only, ban.is_cli) == (-math.inf, True, True)
    assert "future-element" not in {type(r).__name__ for r in status.resources}


@pytest.mark.parametrize(
    ("op_key", "task", "interval", "resource"),
    [
        ("cfpgsql_monitor_4000", "monitor", "4000", "cfpgsql"),
        ("cfpgsql_monitor_4000", None, None, "cfpgsql"),
        ("my_rsc_start_0", None, None, "my_rsc"),
        ("rsc_migrate_from_0", None, None, "rsc"),
        ("cfpgsql_last_failure_0", None, None, "cfpgsql"),
        ("weird", None, None, "weird"),
    ],
)
def test_resource_of_op_key(
    op_key: str, task: str | None, interval: str | None, resource: str
) -> None:
    assert resource_of_op_key(op_key, task, interval) == resource


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"garbage",
        b"<html/>",
        b"<pacemaker-result><nodes><node online='true'/></nodes></pacemaker-result>",
        b"<pacemaker-result><nodes><node name='a' online='perhaps'/></nodes></pacemaker-result>",
        b"<pacemaker-result><summary><last_change time='Someday'/></summary></pacemaker-result>",
        b"<pacemaker-result><status code='x'/></pacemaker-result>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<pacemaker-result><summary/></pacemaker-result>",
        b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><pacemaker-result/>',
    ],
)
def test_malformed_documents_raise_only_the_parse_error(document: bytes) -> None:
    with pytest.raises(CrmMonParseError) as caught:
        parse_crm_mon(document, local_tz=UTC)
    assert not isinstance(caught.value, ClusterUnavailableError)


def test_argv_names_every_section_the_exporter_reads() -> None:
    assert CRM_MON_ARGV[0] == "crm_mon"
    include = next(arg for arg in CRM_MON_ARGV if arg.startswith("--include="))
    sections = include.removeprefix("--include=").split(",")
    assert sections[0] == "none"
    assert set(sections[1:]) == {
        "summary",
        "options",
        "nodes",
        "resources",
        "attributes",
        "failcounts",
        "operations",
        "failures",
        "fencing",
        "tickets",
        "bans",
    }
    assert "--output-as=xml" in CRM_MON_ARGV and "--inactive" in CRM_MON_ARGV


def test_no_exit_reason_is_none_not_the_word() -> None:
    # crm_mon prints exitreason="none" for an agent that gave no reason (CFEngine's pgsql fork)
    document = (
        b'<crm_mon version="1.1.23"><summary><current_dc present="false"/></summary><failures>'
        b'<failure op_key="cfpgsql_start_0" node="hub2" exitstatus="error" exitreason="none" '
        b'exitcode="1" call="12" status="complete" last-rc-change="Tue Jul 14 11:30:00 2026" '
        b'queued="0" exec="210" interval="0" task="start"/></failures></crm_mon>'
    )
    [failure] = parse_crm_mon(document, local_tz=ZONE).failures
    assert (failure.exitreason, failure.exitstatus, failure.exitcode) == (None, "error", 1)
