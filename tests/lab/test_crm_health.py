"""The lab's crm_mon parser and its health verdict (pure)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import crm
from lab.postgres import PgFacts, ReplicationRow, WalReceiverRow
from lab.status import NodeRuntime, health_problems
from tests.support.shared import not_found, pacemaker_fixture_dirs

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


def test_parse_a_stopped_standby():
    view = crm.parse(STOPPED_STANDBY_XML)
    assert view.dc == "hub1" and view.quorate and not view.maintenance_mode
    assert set(view.nodes) == {"hub1", "hub2"}
    assert view.promoted_nodes() == ["hub1"]
    assert view.role_on("hub2") == "Stopped"
    assert view.attr("hub2", "cfpgsql-status") == "STOP"
    assert view.attr("hub1", "master-cfpgsql") == "1000"
    assert view.fail_counts == {("hub2", "cfpgsql"): 1}
    assert [(f.op_key, f.node, f.exitstatus) for f in view.failures] == [
        ("cfpgsql_monitor_4000", "hub2", "error")
    ]
    assert [b.id for b in view.bans] == ["cli-ban-mscfpgsql-on-hub2"]
    assert [(r.node, r.role) for r in view.instances("cfvirtip")] == [("hub1", "Started")]


def test_old_role_names_are_normalised():
    view = crm.parse(STOPPED_STANDBY_XML.replace('role="Promoted"', 'role="Master"'))
    assert view.promoted_nodes() == ["hub1"]


@pytest.mark.parametrize("bad", ["", "<nope/>", "<pacemaker-result", b"\xff\xfe"])
def test_bad_xml_is_a_parse_error(bad):
    with pytest.raises(crm.CrmParseError):
        crm.parse(bad)


def test_parses_every_shared_pacemaker_fixture():
    files = sorted(p for d in pacemaker_fixture_dirs() for p in d.glob("xml-output*.xml"))
    if not files:
        not_found("the shared pacemaker fixtures (xml-output*.xml)")
    for path in files:
        raw = path.read_bytes()
        view = crm.parse(raw)
        section = raw.split(b"<nodes>")[1].split(b"</nodes>")[0] if b"<nodes>" in raw else b""
        names = sorted({n.decode() for n in re.findall(rb'<node name="([^"]+)"', section)})
        assert sorted(view.nodes) == names, path
        assert bool(view.resources) == (b"<resource id=" in raw), path


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
    rows = (ReplicationRow("hub2", "10.250.1.2", "streaming", "async"),) if streaming else ()
    return {
        "hub1": PgFacts("hub1", True, in_recovery=False, timeline=1, replication=rows),
        "hub2": PgFacts(
            "hub2",
            True,
            in_recovery=True,
            timeline=1,
            wal_receiver=WalReceiverRow("streaming", "10.250.1.100", 1),
        ),
    }


def test_healthy_pair_has_no_problems():
    assert health_problems(crm.parse(healthy_xml()), None, _nodes(), _pg()) == ()


def test_stopped_standby_problems_name_each_fact():
    problems = health_problems(crm.parse(STOPPED_STANDBY_XML), None, _nodes(), _pg(False))
    text = "\n".join(problems)
    for needle in (
        "failed action cfpgsql_monitor_4000 on hub2",
        "fail-count cfpgsql=1 on hub2",
        "constraint cli-ban-mscfpgsql-on-hub2",
        "hub2: cfpgsql-status=STOP",
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
            {**_pg(), "hub2": PgFacts("hub2", True, in_recovery=False)},
            "hub2: PostgreSQL is not a reachable standby",
        ),
        (
            _nodes(),
            {**_pg(), "hub1": PgFacts("hub1", False, error="refused")},
            "hub1: PostgreSQL is not a reachable primary",
        ),
    ],
)
def test_facts_outside_pacemaker_make_it_unhealthy(nodes, pg, needle):
    assert needle in "\n".join(health_problems(crm.parse(healthy_xml()), None, nodes, pg))


def test_maintenance_and_no_crm_are_problems():
    maint = healthy_xml().replace('maintenance-mode="false"', 'maintenance-mode="true"')
    assert "maintenance-mode is on" in health_problems(crm.parse(maint), None, _nodes(), _pg())
    dead = {
        **_nodes(),
        "hub2": NodeRuntime("hub2", "10.250.1.2", True, False, False, False, False, True, None),
    }
    problems = health_problems(None, "no node runs pacemaker", dead, _pg())
    assert "hub2: cluster stack not running" in problems
    assert "crm_mon: no node runs pacemaker" in problems
