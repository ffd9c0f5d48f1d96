"""``parse_cib`` on ``cibadmin --query`` of the offline states, and on hand-made corner cases."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clusterstate.pacemaker_state import pgsql_params
from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.cib_model import LocationConstraint
from clusterstate.parsers.crm_mon import parse_crm_mon
from clusterstate.parsers.pcmk_values import ConstraintKind, Role
from lab.offline.cibstates import (
    BASE_AT,
    INCIDENT_AT,
    PCMK_TZ,
    CibStates,
    cibadmin_query,
    crm_mon_xml,
    run_tool,
)

ZONE = ZoneInfo(PCMK_TZ)


def test_healthy_configuration(cib_states: CibStates) -> None:
    config = parse_cib(cibadmin_query(cib_states.healthy()), local_tz=ZONE)
    assert config.last_written == BASE_AT
    assert config.cib_last_written == "Tue Jul 14 10:00:00 2026"
    assert (config.have_quorum, config.dc_uuid, config.validate_with) == (
        True,
        "1",
        "pacemaker-3.9",
    )
    assert config.fencing_enabled is False
    assert config.properties["no-quorum-policy"] == "ignore"
    assert config.properties["cluster-name"] == "cfcluster"
    assert config.rsc_defaults == {"resource-stickiness": "INFINITY", "migration-threshold": "1"}

    cfpgsql = config.primitive("cfpgsql")
    assert cfpgsql is not None
    assert (cfpgsql.agent, cfpgsql.clone_id, cfpgsql.group_id) == (
        "ocf:heartbeat:pgsql",
        "mscfpgsql",
        None,
    )
    params = cfpgsql.instance_attributes
    assert params["tmpdir"] == "/var/cfengine/state/pg/tmp"
    assert params["pgdata"] == "/var/cfengine/state/pg/data"
    assert params["node_list"] == "hub1 hub2"
    assert params["master_ip"] == "192.168.100.100"
    assert params["rep_mode"] == "async"
    monitors = {(op.interval_seconds, op.role) for op in cfpgsql.operations if op.name == "monitor"}
    assert monitors == {(4.0, None), (3.0, Role.PROMOTED)}
    pgsql = pgsql_params(config, "cfpgsql")
    assert pgsql is not None and pgsql.lock_path == "/var/cfengine/state/pg/tmp/PGSQL.lock"

    (clone,) = config.clones
    assert (clone.id, clone.promotable, clone.child_id) == ("mscfpgsql", True, "cfpgsql")
    assert clone.meta_attributes["promoted-max"] == "1"
    assert clone.meta_attributes["notify"] == "true"
    (group,) = config.groups
    assert (group.id, group.members) == ("cfengine", ("cfvirtip",))
    vip = config.primitive("cfvirtip")
    assert vip is not None and (vip.agent, vip.group_id) == ("ocf:heartbeat:IPaddr2", "cfengine")

    (colocation,) = config.colocations
    assert (colocation.rsc, colocation.with_rsc, colocation.score, colocation.with_rsc_role) == (
        "cfengine",
        "mscfpgsql",
        math.inf,
        Role.PROMOTED,
    )
    assert {(o.first, o.first_action, o.then, o.then_action, o.kind) for o in config.orders} == {
        ("mscfpgsql", "promote", "cfengine", "start", "Mandatory"),
        ("mscfpgsql", "demote", "cfengine", "stop", "Optional"),
    }
    assert config.locations == ()
    # the agent's data-status is a permanent attribute: it lives in the <nodes> section
    assert config.node_attributes("hub1") == {"cfpgsql-data-status": "LATEST"}
    assert config.node_attributes("hub2") == {"cfpgsql-data-status": "STREAMING|ASYNC"}


def test_permanent_attributes_of_an_offline_node(cib_states: CibStates) -> None:
    # crm_mon shows no attributes of an offline node; the CIB still has the permanent ones
    config = parse_cib(cibadmin_query(cib_states.node_down()))
    assert config.node_attributes("hub1") == {"cfpgsql-data-status": "DISCONNECT"}
    assert config.dc_uuid == "2"


def test_leftover_ban(cib_states: CibStates) -> None:
    config = parse_cib(cibadmin_query(cib_states.leftover_ban()), local_tz=ZONE)
    assert config.last_written == INCIDENT_AT
    assert config.locations == (
        LocationConstraint(
            id="cli-ban-mscfpgsql-on-hub2",
            resources=("mscfpgsql",),
            resource_pattern=None,
            node="hub2",
            score=-math.inf,
            score_attribute=None,
            role=Role.STARTED,
            rule_based=False,
            expires_at=None,
        ),
    )
    assert config.cli_constraints() == config.locations
    assert config.locations[0].kind is ConstraintKind.CLI_BAN and config.locations[0].is_cli


def test_maintenance_and_fencing_properties(cib_states: CibStates) -> None:
    assert (
        parse_cib(cibadmin_query(cib_states.maintenance_mode())).properties["maintenance-mode"]
        == "true"
    )
    assert parse_cib(cibadmin_query(cib_states.unclean_node())).fencing_enabled is True


def test_lifetime_bans_and_moves_expire(cib_states: CibStates, tmp_path: Path) -> None:
    cib = tmp_path / "lifetime.xml"
    shutil.copyfile(cib_states.healthy(), cib)
    before = int(time.time())
    run_tool(
        [
            "crm_resource",
            "--ban",
            "--resource",
            "mscfpgsql",
            "--node",
            "hub2",
            "--promoted",
            "--lifetime",
            "PT1H",
        ],
        cib=cib,
    )
    run_tool(
        ["crm_resource", "--move", "--resource", "cfengine", "--node", "hub2", "--lifetime", "P1D"],
        cib=cib,
    )
    run_tool(["pcs", "-f", str(cib), "resource", "ban", "cfvirtip", "hub1", "lifetime=PT30M"])
    run_tool(["pcs", "-f", str(cib), "constraint", "location", "cfengine", "prefers", "hub1=50"])
    after = int(time.time()) + 1
    config = parse_cib(cibadmin_query(cib))
    by_id = {location.id: location for location in config.locations}

    ban = by_id["cli-ban-mscfpgsql-on-hub2"]
    assert (ban.resources, ban.node, ban.score, ban.role, ban.rule_based) == (
        ("mscfpgsql",),
        "hub2",
        -math.inf,
        Role.PROMOTED,
        True,
    )
    assert ban.expires_at is not None and before + 3600 <= ban.expires_at <= after + 3600
    move = by_id["cli-prefer-cfengine"]
    assert (move.node, move.score, move.kind) == ("hub2", math.inf, ConstraintKind.CLI_PREFER)
    assert move.expires_at is not None and before + 86400 <= move.expires_at <= after + 86400
    pcs_ban = by_id["cli-ban-cfvirtip-on-hub1"]
    assert pcs_ban.expires_at is not None and before + 1800 <= pcs_ban.expires_at <= after + 1800
    plain = by_id["location-cfengine-hub1-50"]
    assert (plain.node, plain.score, plain.is_cli, plain.expires_at) == ("hub1", 50.0, False, None)
    assert {location.id for location in config.cli_constraints()} == {
        "cli-ban-mscfpgsql-on-hub2",
        "cli-prefer-cfengine",
        "cli-ban-cfvirtip-on-hub1",
    }

    # crm_mon lists the rule-based bans under the rule's id: still recognisably cli-ban-*
    status = parse_crm_mon(crm_mon_xml(cib), local_tz=ZONE)
    assert {(b.id, b.is_cli) for b in status.bans} == {
        ("cli-ban-mscfpgsql-on-hub2-rule", True),
        ("cli-ban-cfvirtip-on-hub1-rule", True),
    }


CONFIGURATION_ONLY = b"""<configuration>
  <crm_config><cluster_property_set id="o">
    <nvpair id="o1" name="fencing-enabled" value="true"/>
    <nvpair id="o2" name="stonith-enabled" value="false"/>
  </cluster_property_set></crm_config>
  <nodes><node id="1" uname="hub1"/></nodes>
  <resources>
    <master id="ms-legacy">
      <primitive id="db" class="ocf" provider="heartbeat" type="pgsql"/>
    </master>
    <clone id="group-clone"><group id="g"><primitive id="a" class="lsb" type="a"/></group></clone>
  </resources>
  <constraints>
    <rsc_location id="by-pattern" rsc-pattern="^db" node="hub1" score="-INFINITY"/>
    <rsc_location id="set" node="hub1" score="10">
      <resource_set id="s"><resource_ref id="db"/><resource_ref id="a"/></resource_set>
    </rsc_location>
    <rsc_location id="until-local" rsc="db">
      <rule id="r" score="-INFINITY"><expression id="e" attribute="#uname" operation="eq"
        value="hub1"/><date_expression id="d" operation="lt" end="2026-07-14 12:00:00"/></rule>
    </rsc_location>
    <rsc_location id="by-attribute" rsc="db">
      <rule id="r2" score-attribute="pingd"><expression id="e2" attribute="pingd"
        operation="defined"/></rule>
    </rsc_location>
  </constraints>
</configuration>"""


def test_configuration_scope_and_older_shapes() -> None:
    config = parse_cib(CONFIGURATION_ONLY)
    assert config.epoch is None and config.last_written is None
    assert config.fencing_enabled is True  # the 3.0.2 name wins over the deprecated one
    assert {(c.id, c.promotable, c.child_id) for c in config.clones} == {
        ("ms-legacy", True, "db"),
        ("group-clone", False, "g"),
    }
    member = config.primitive("a")
    assert member is not None and (member.clone_id, member.group_id) == ("group-clone", "g")
    by_id = {location.id: location for location in config.locations}
    assert (by_id["by-pattern"].resource_pattern, by_id["by-pattern"].resource) == ("^db", None)
    assert by_id["set"].resources == ("db", "a")
    # a lifetime written without a zone stays unknown unless the zone is given
    assert by_id["until-local"].expires_at is None
    zoned = parse_cib(CONFIGURATION_ONLY, local_tz=ZONE)
    assert {loc.id: loc for loc in zoned.locations}["until-local"].expires_at == INCIDENT_AT + 1800
    assert (
        by_id["by-attribute"].score,
        by_id["by-attribute"].score_attribute,
        by_id["by-attribute"].node,
    ) == (None, "pingd", None)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<cib/>",
        b"<status/>",
        b"not xml",
        b"<cib><configuration><nodes><node/></nodes></configuration></cib>",
        b'<!DOCTYPE cib [<!ENTITY x "y">]><cib><configuration/></cib>',
    ],
)
def test_malformed_cibs_raise_only_the_parse_error(raw: bytes) -> None:
    with pytest.raises(CibParseError):
        parse_cib(raw)


def test_promoted_only_ban(cib_states: CibStates, tmp_path: Path) -> None:
    cib = tmp_path / "promoted-ban.xml"
    shutil.copyfile(cib_states.healthy(), cib)
    run_tool(
        ["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub2", "--promoted"],
        cib=cib,
    )
    (ban,) = parse_crm_mon(crm_mon_xml(cib), local_tz=ZONE).bans
    assert (ban.id, ban.promoted_only, ban.weight) == ("cli-ban-mscfpgsql-on-hub2", True, -math.inf)
    (location,) = parse_cib(cibadmin_query(cib)).locations
    assert (location.role, location.node, location.rule_based) == (Role.PROMOTED, "hub2", False)
