"""The lab's health verdict (pure), on the product's own reading of crm_mon (`clusterstate`)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from clusterstate.pacemaker_state import PacemakerState, pacemaker_state
from clusterstate.parsers.crm_mon import parse_crm_mon
from clusterstate.postgres import PgFacts, StandbyLink, WalReceiver
from lab.status import NodeRuntime, health_problems

# crm_mon --output-as=xml --include=all of a lab after stop-standby plus a ban on hub2
# (pacemaker 2.1.5, captured from the lab itself).
STOPPED_STANDBY_XML = (Path(__file__).parent / "data/crm_mon_stopped_standby.xml").read_text()


def healthy_xml() -> str:
    """The same cluster, healthy: hub2 streaming as an unpromoted standby."""
    text = STOPPED_STANDBY_XML
    text = text.replace(
        '<resource id="cfpgsql" resource_agent="ocf:heartbeat:pgsql" role="Stopped"'
        ' active="false" orphaned="false" blocked="false" managed="true" failed="false"'
        ' failure_ignored="false" nodes_running_on="0"/>',
        '<resource id="cfpgsql" resource_agent="ocf:heartbeat:pgsql" role="Unpromoted"'
        ' active="true" orphaned="false" blocked="false" managed="true" failed="false"'
        ' failure_ignored="false" nodes_running_on="1"><node name="hub2" id="2"'
        ' cached="true"/></resource>',
    )
    text = text.replace('value="DISCONNECT"', 'value="STREAMING|ASYNC"')
    text = text.replace(
        'name="cfpgsql-status" value="STOP"', 'name="cfpgsql-status" value="HS:async"'
    )
    text = text.replace(' fail-count="1"', "")
    start, end = text.index("<failures>"), text.index("</bans>") + len("</bans>")
    return text[:start] + text[end:]


def read(xml: str) -> PacemakerState:
    """What the lab's reader makes of this crm_mon output (no CIB: bans come from crm_mon)."""
    status = parse_crm_mon(xml.encode(), local_tz=UTC)
    return pacemaker_state(
        status, None, local_node="hub1", database_resource="cfpgsql", vip_resource="cfvirtip"
    )


def test_the_captured_states_read_as_the_lab_expects():
    stopped = read(STOPPED_STANDBY_XML)
    assert stopped.dc == "hub1" and stopped.quorate and stopped.maintenance_mode is False
    assert stopped.database is not None and stopped.database.promoted_nodes == ("hub1",)
    assert [c.id for c in stopped.location_constraints] == ["cli-ban-mscfpgsql-on-hub2"]
    healthy = read(healthy_xml())
    assert healthy.database is not None and healthy.database.active_nodes == ("hub1", "hub2")
    assert not healthy.location_constraints and not healthy.failed_actions


def _nodes(vip_on: tuple[str, ...] = ("hub1",), lock_on: tuple[str, ...] = ("hub1",)):
    return {
        n: NodeRuntime(
            name=n,
            address=f"10.250.1.{i}",
            holder_alive=True,
            corosync_alive=True,
            pacemakerd_alive=True,
            vip_present=n in vip_on,
            lock_present=n in lock_on,
            pgdata_present=True,
            master_hub="10.250.1.1",
        )
        for i, n in ((1, "hub1"), (2, "hub2"))
    }


def _pg(streaming: bool = True):
    link = StandbyLink("hub2", "streaming" if streaming else "disconnected", "async", "10.250.1.2")
    return {
        "hub1": PgFacts(up=True, role="primary", timeline=1, standbys=(link,)),
        "hub2": PgFacts(
            up=True,
            role="standby",
            timeline=1,
            receiver=WalReceiver("streaming", "10.250.1.100", 5432, 1),
        ),
    }


def test_healthy_pair_has_no_problems():
    assert health_problems(read(healthy_xml()), None, _nodes(), _pg()) == ()


def test_stopped_standby_problems_name_each_fact():
    problems = health_problems(read(STOPPED_STANDBY_XML), None, _nodes(), _pg(False))
    text = "\n".join(problems)
    for needle in (
        "failed action cfpgsql_monitor_4000 on hub2",
        "fail-count cfpgsql=1 on hub2",
        "constraint cli-ban-mscfpgsql-on-hub2",
        "hub2: pgsql agent status=STOP data-status=DISCONNECT",
        "no streaming pg_stat_replication row for hub2",
    ):
        assert needle in text


@pytest.mark.parametrize(
    ("nodes", "pg", "needle"),
    [
        (_nodes(vip_on=("hub1", "hub2")), _pg(), "VIP configured on ['hub1', 'hub2']"),
        (_nodes(lock_on=("hub1", "hub2")), _pg(), "hub2: PGSQL.lock present"),
        (
            _nodes(),
            {**_pg(), "hub2": PgFacts(up=True, role="primary")},
            "hub2: PostgreSQL is not a reachable standby",
        ),
        (
            _nodes(),
            {**_pg(), "hub1": PgFacts(up=False, error="refused")},
            "hub1: PostgreSQL is not a reachable primary",
        ),
    ],
)
def test_facts_outside_pacemaker_make_it_unhealthy(nodes, pg, needle):
    assert needle in "\n".join(health_problems(read(healthy_xml()), None, nodes, pg))


def test_maintenance_and_no_crm_are_problems():
    maint = healthy_xml().replace('maintenance-mode="false"', 'maintenance-mode="true"')
    assert "maintenance-mode is on" in health_problems(read(maint), None, _nodes(), _pg())
    dead = {
        **_nodes(),
        "hub2": NodeRuntime("hub2", "10.250.1.2", True, False, False, False, False, True, None),
    }
    problems = health_problems(None, "no node runs pacemaker", dead, _pg())
    assert "hub2: cluster stack not running" in problems
    assert "crm_mon: no node runs pacemaker" in problems


def test_what_cannot_be_read_is_a_problem():
    unknown = read(healthy_xml().replace(' maintenance-mode="false"', ""))
    assert unknown.maintenance_mode is None
    assert "maintenance-mode is unknown" in health_problems(unknown, None, _nodes(), _pg())
    no_agent = read(
        healthy_xml().replace('name="cfpgsql-status" value="HS:async"', 'name="x" value="y"')
    )
    problems = "\n".join(health_problems(no_agent, None, _nodes(), _pg()))
    assert "hub2: pgsql agent status=None data-status=STREAMING|ASYNC" in problems
