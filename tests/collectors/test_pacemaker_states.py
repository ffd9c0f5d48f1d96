"""The `pacemaker` and `pgsql_agent` collectors on the CFEngine cluster's offline states, read with
the real crm_mon and cibadmin through `CIB_file`.

Each state's whole output is compared with its reviewed golden file (regenerate with
`python -m tests.support.golden`), and the facts that matter for that state are also asserted
explicitly here, so a wrong golden cannot slip through unnoticed.
"""

from __future__ import annotations

import math

import pytest

from lab.offline.cibstates import BASE_AT, INCIDENT_AT, CibStates
from tests.support.golden import STATES, golden_path, render
from tests.support.metrics_text import sample_value


@pytest.mark.parametrize("state", STATES)
def test_output_matches_the_reviewed_golden_file(cib_states: CibStates, state: str) -> None:
    expected = golden_path(state).read_text()
    actual = render(getattr(cib_states, state)())
    assert actual == expected, "regenerate with `python -m tests.support.golden` if intended"


def scrape(cib_states: CibStates, state: str) -> str:
    return render(getattr(cib_states, state)())


def role(text: str, resource: str, node: str) -> str:
    states = [
        s
        for s in ("stopped", "started", "unpromoted", "promoted")
        if sample_value(text, "cfha_pacemaker_resource_role", resource=resource, node=node, state=s)
        == 1
    ]
    assert len(states) == 1, states
    return states[0]


def node_flag(text: str, node: str, flag: str) -> float | None:
    return sample_value(text, "cfha_pacemaker_node_state", node=node, state=flag)


def agent(text: str, metric: str, node: str, state: str) -> float | None:
    return sample_value(text, f"cfha_pgsql_{metric}", node=node, resource="cfpgsql", state=state)


def test_healthy(cib_states: CibStates) -> None:
    text = scrape(cib_states, "healthy")
    assert sample_value(text, "cfha_pacemaker_up", node="hub1") == 1
    assert sample_value(text, "cfha_pacemaker_local_is_dc", node="hub1") == 1
    assert sample_value(text, "cfha_pacemaker_quorate") == 1
    # cib-last-written "Tue Jul 14 10:00:00 2026" in Europe/Berlin (CEST) is 08:00 UTC
    assert sample_value(text, "cfha_pacemaker_config_last_change_timestamp_seconds") == BASE_AT
    assert role(text, "cfpgsql", "hub1") == "promoted"
    assert role(text, "cfpgsql", "hub2") == "unpromoted"
    assert role(text, "cfvirtip", "hub1") == "started"
    assert role(text, "cfvirtip", "hub2") == "stopped"
    promoted = "cfha_pacemaker_database_promoted"
    assert sample_value(text, promoted, node="hub1", resource="cfpgsql") == 1
    assert sample_value(text, promoted, node="hub2", resource="cfpgsql") == 0
    assert sample_value(text, "cfha_pacemaker_vip_active", node="hub1", resource="cfvirtip") == 1
    assert agent(text, "status", "hub1", "PRI") == 1
    assert agent(text, "status", "hub2", "HS:async") == 1
    assert agent(text, "data_status", "hub2", "STREAMING") == 1
    assert agent(text, "sync_state", "hub2", "ASYNC") == 1
    assert agent(text, "receiver_status", "hub1", "normal (master)") == 1
    score = "cfha_pgsql_promotion_score"
    assert sample_value(text, score, node="hub2", resource="cfpgsql") == 100
    assert sample_value(text, "cfha_pgsql_master_baseline_lsn_bytes", node="hub1") == 0x5000060
    assert sample_value(text, "cfha_pacemaker_failed_actions") == 0
    assert sample_value(text, "cfha_pacemaker_cli_constraints", kind="cli-ban") == 0
    assert sample_value(text, "cfha_pacemaker_maintenance_mode") == 0
    assert sample_value(text, "cfha_pacemaker_monitor_rc", resource="cfpgsql", node="hub1") == 8
    # the lock path is the resource's tmpdir parameter read from the CIB
    assert (
        sample_value(
            text, "cfha_pgsql_lock_info", node="hub1", path="/var/cfengine/state/pg/tmp/PGSQL.lock"
        )
        == 1
    )
    assert sample_value(text, "cfha_pgsql_lock_present", node="hub1") == 0


def test_failed_standby_monitor(cib_states: CibStates) -> None:
    text = scrape(cib_states, "failed_standby_monitor")
    labels = {"resource": "cfpgsql", "node": "hub2", "operation": "monitor", "interval": "4"}
    assert sample_value(text, "cfha_pacemaker_failed_action_exit_code", **labels) == 1
    assert sample_value(text, "cfha_pacemaker_failed_action_timestamp_seconds", **labels) == (
        INCIDENT_AT
    )
    assert sample_value(text, "cfha_pacemaker_failcount", resource="cfpgsql", node="hub2") == 1
    assert (
        sample_value(text, "cfha_pacemaker_migration_threshold", resource="cfpgsql", node="hub2")
        == 1
    )
    assert sample_value(text, "cfha_pacemaker_monitor_rc", resource="cfpgsql", node="hub2") == 1
    assert role(text, "cfpgsql", "hub2") == "stopped"
    assert role(text, "cfpgsql", "hub1") == "promoted"
    assert agent(text, "status", "hub2", "STOP") == 1
    assert agent(text, "data_status", "hub2", "DISCONNECT") == 1
    assert sample_value(text, "cfha_pgsql_promotion_score", node="hub2") == -math.inf


def test_failover(cib_states: CibStates) -> None:
    text = scrape(cib_states, "failover")
    promoted = "cfha_pacemaker_database_promoted"
    assert sample_value(text, promoted, node="hub1", resource="cfpgsql") == 0
    assert sample_value(text, promoted, node="hub2", resource="cfpgsql") == 1
    assert sample_value(text, "cfha_pacemaker_vip_active", node="hub2", resource="cfvirtip") == 1
    assert sample_value(text, "cfha_pacemaker_vip_active", node="hub1", resource="cfvirtip") == 0
    labels = {"resource": "cfpgsql", "node": "hub1", "operation": "monitor", "interval": "3"}
    assert sample_value(text, "cfha_pacemaker_failed_action_exit_code", **labels) == 7
    assert agent(text, "status", "hub1", "STOP") == 1
    assert agent(text, "status", "hub2", "PRI") == 1


def test_node_down_keeps_the_offline_nodes_permanent_attribute(cib_states: CibStates) -> None:
    text = scrape(cib_states, "node_down")
    assert node_flag(text, "hub1", "online") == 0
    assert node_flag(text, "hub2", "dc") == 1
    assert sample_value(text, "cfha_pacemaker_local_is_dc", node="hub1") == 0
    assert role(text, "cfpgsql", "hub2") == "promoted"
    assert role(text, "cfpgsql", "hub1") == "stopped"
    # crm_mon lists no attributes for an offline node; the CIB keeps the permanent one
    assert agent(text, "status", "hub1", "absent") == 1
    assert agent(text, "data_status", "hub1", "DISCONNECT") == 1


def test_unclean_node(cib_states: CibStates) -> None:
    text = scrape(cib_states, "unclean_node")
    assert node_flag(text, "hub1", "unclean") == 1
    assert node_flag(text, "hub1", "online") == 0
    assert sample_value(text, "cfha_pacemaker_fencing_enabled") == 1
    # pacemaker still believes hub1 holds the promoted instance until it is fenced
    assert role(text, "cfpgsql", "hub1") == "promoted"
    assert (
        sample_value(text, "cfha_pacemaker_database_promoted", node="hub1", resource="cfpgsql") == 1
    )
    assert sample_value(text, "cfha_pacemaker_config_last_change_timestamp_seconds") == INCIDENT_AT


def test_leftover_ban_is_recognisable(cib_states: CibStates) -> None:
    text = scrape(cib_states, "leftover_ban")
    assert sample_value(text, "cfha_pacemaker_cli_constraints", kind="cli-ban") == 1
    assert sample_value(text, "cfha_pacemaker_cli_constraints", kind="cli-prefer") == 0
    score = sample_value(
        text,
        "cfha_pacemaker_location_constraint_score",
        constraint="cli-ban-mscfpgsql-on-hub2",
        kind="cli-ban",
        resource="mscfpgsql",
        node="hub2",
    )
    assert score == -math.inf
    assert role(text, "cfpgsql", "hub2") == "stopped"


def test_maintenance_mode(cib_states: CibStates) -> None:
    text = scrape(cib_states, "maintenance_mode")
    assert sample_value(text, "cfha_pacemaker_maintenance_mode") == 1
    for resource in ("cfpgsql", "cfvirtip"):
        managed = sample_value(
            text, "cfha_pacemaker_resource_status", resource=resource, state="managed"
        )
        assert managed == 0
    assert role(text, "cfpgsql", "hub1") == "promoted"  # everything keeps running


def test_node_standby(cib_states: CibStates) -> None:
    text = scrape(cib_states, "node_standby")
    assert node_flag(text, "hub2", "standby") == 1
    assert node_flag(text, "hub2", "online") == 1
    assert role(text, "cfpgsql", "hub2") == "stopped"


def test_vip_multi_active(cib_states: CibStates) -> None:
    text = scrape(cib_states, "vip_multi_active")
    flag = sample_value(
        text, "cfha_pacemaker_resource_status", resource="cfvirtip", state="multi_active"
    )
    assert flag == 1
    assert sample_value(text, "cfha_pacemaker_resource_active_nodes", resource="cfvirtip") == 2
    for node in ("hub1", "hub2"):
        assert sample_value(text, "cfha_pacemaker_vip_active", node=node, resource="cfvirtip") == 1
