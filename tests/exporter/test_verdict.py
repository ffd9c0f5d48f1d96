"""The HA verdict's rules on hand-made facts: every reason holds, clears and is unknown."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from clusterstate.diagnosis import Diagnosis, Evidence
from clusterstate.parsers.cfengine_files import HaHub
from clusterstate.parsers.crm_mon_model import Node
from clusterstate.parsers.pg_messages import Cause
from clusterstate.postgres import PgFacts
from exporter.collectors.hub import HubFacts
from exporter.collectors.verdict import CHECKED, DEGRADED, REASON, inputs_from, write
from exporter.collectors.verdict_model import (
    Thresholds,
    Verdict,
    VerdictInputs,
)
from exporter.collectors.verdict_reasons import BY_CODE, CODES, REASONS, render_markdown
from exporter.collectors.verdict_rules import evaluate
from exporter.scrape import CollectorResult
from lab.offline.clusterstates import node
from servicekit.metrics import MetricWriter
from tests.conftest import REPO
from tests.exporter.verdict_facts import (
    IP,
    SHA,
    cluster,
    collectors,
    corosync,
    files,
    healthy,
    hub_facts,
    member,
    pg_down,
    pg_primary,
    pg_primary_alone,
    pg_standby,
    standby_link,
)

T = Thresholds(max_lag_bytes=64 * 2**20, max_lag_seconds=60, hub_report_stale_seconds=900)


def judge(inputs: VerdictInputs) -> Verdict:
    return evaluate(inputs, T)


def status(inputs: VerdictInputs, code: str) -> str:
    return judge(inputs).finding(code).status


def details(inputs: VerdictInputs, code: str) -> str:
    return " | ".join(judge(inputs).finding(code).details)


def without_pacemaker(node: str = "hub1", **changes: object) -> VerdictInputs:
    return healthy(node, cluster=None, corosync=None, **changes)


# -- the whole verdict -------------------------------------------------------------------------
@pytest.mark.parametrize("node", ["hub1", "hub2"])
def test_healthy_pair_is_ok_with_every_reason_checked(node: str) -> None:
    verdict = judge(healthy(node))
    assert not verdict.degraded
    assert [f.status for f in verdict.findings] == ["clear"] * len(CODES)
    roles = {h.node: h.role for h in verdict.hubs}
    assert roles == {"hub1": "active", "hub2": "passive"}
    assert [h.node for h in verdict.hubs if h.local] == [node]
    assert verdict.hubs[0].node == node  # this hub first


def test_without_pacemaker_the_cluster_reasons_are_unknown_not_ok() -> None:
    verdict = judge(without_pacemaker())
    assert not verdict.degraded
    unknown = {f.code for f in verdict.unknown}
    assert unknown == {
        "vip_not_on_primary", "pgsql_lock_on_standby", "node_offline", "node_standby",
        "node_unclean", "quorum_lost", "failed_actions", "cli_constraints", "maintenance_mode",
        "corosync_link_down", "ha_inventory_mismatch",
    }  # fmt: skip
    # PostgreSQL alone still tells there is exactly one writable database.
    for code in (
        "no_primary",
        "two_primaries",
        "replication_not_streaming",
        "master_hub_not_primary",
    ):
        assert verdict.finding(code).status == "clear"


def test_a_failing_collector_makes_the_verdict_degraded() -> None:
    inputs = healthy(
        "hub1",
        collectors=collectors(("pacemaker", "timeout")),
        cluster=None,
    )
    verdict = judge(inputs)
    assert verdict.degraded
    assert [f.code for f in verdict.holding] == ["collector_failed"]
    assert "pacemaker: timeout: pacemaker broke" in verdict.finding("collector_failed").details
    # corosync still says quorate, but one unknown source is not quorate (the one quorum rule)
    assert verdict.finding("quorum_lost").status == "unknown"
    assert verdict.finding("node_unclean").status == "unknown"


# -- PostgreSQL --------------------------------------------------------------------------------
def test_database_down() -> None:
    down = healthy("hub2", pg=pg_down(), pg_reason="connect",
                   collectors=collectors(("postgres", "connect")))  # fmt: skip
    assert status(down, "database_down") == "holds"
    assert "connection refused" in details(down, "database_down")
    assert status(down, "replication_not_streaming") == "holds"
    assert "the database on hub2 is down" in details(down, "replication_not_streaming")
    assert status(down, "collector_failed") == "holds"
    timeout = healthy("hub2", pg=None, pg_reason="timeout")
    assert status(timeout, "database_down") == "unknown"
    auth = healthy("hub2", pg=pg_down(), pg_reason="auth")
    assert status(auth, "database_down") == "unknown"  # refused login says nothing about "down"


@pytest.mark.parametrize(
    ("inputs", "detail"),
    [
        (without_pacemaker(pg=pg_primary(standby_link(state="disconnected"))),
         "standby hub2 is disconnected"),
        (without_pacemaker(pg=pg_primary(standby_link(state="catchup"))),
         "standby hub2 is catchup"),
        (without_pacemaker(pg=pg_primary_alone()), "no standby is connected to hub1"),
        (without_pacemaker("hub2", pg=pg_standby(receiver="waiting", lag=None)),
         "the WAL receiver on hub2 is waiting"),
        (without_pacemaker("hub2", pg=pg_standby(receiver="absent", lag=None)),
         "the WAL receiver on hub2 is absent"),
        (healthy(cluster=cluster(agent_data_status={"hub1": "LATEST", "hub2": "DISCONNECT"})),
         "pacemaker: hub2's data status is DISCONNECT"),
    ],
)  # fmt: skip
def test_replication_not_streaming(inputs: VerdictInputs, detail: str) -> None:
    assert status(inputs, "replication_not_streaming") == "holds"
    assert detail in details(inputs, "replication_not_streaming")


def test_replication_not_streaming_names_the_diagnosed_cause() -> None:
    cause = Diagnosis(
        "hub2",
        Cause.AUTH_REJECTED,
        Evidence("server_log", "FATAL: pg_hba.conf rejects replication connection"),
    )
    inputs = healthy("hub2", pg=pg_standby(receiver="waiting", lag=None), diagnosis=cause)
    assert details(inputs, "replication_not_streaming").endswith(
        "cause on hub2: auth_rejected (server_log: FATAL: pg_hba.conf rejects replication "
        "connection)"
    )


@pytest.mark.parametrize(
    ("pg", "expected"),
    [
        (pg_standby(), "clear"),
        (dataclasses.replace(pg_standby(), replay_paused=True), "holds"),
        (dataclasses.replace(pg_standby(), replay_paused=None), "unknown"),
        (pg_primary(), "clear"),
        (pg_down(), "unknown"),
    ],
)
def test_replay_paused(pg: PgFacts, expected: str) -> None:
    inputs = healthy("hub2" if pg.role != "primary" else "hub1", pg=pg)
    assert status(inputs, "replay_paused") == expected
    if expected == "holds":
        assert details(inputs, "replay_paused") == "replay is paused on hub2"


def test_replication_not_streaming_unknown_without_any_view() -> None:
    assert status(without_pacemaker(pg=None), "replication_not_streaming") == "unknown"


@pytest.mark.parametrize(
    ("inputs", "expected", "detail"),
    [
        (healthy(pg=pg_primary(standby_link(lag_bytes=65 * 2**20))), "holds", "65.0 MiB behind"),
        (healthy(pg=pg_primary(standby_link(lag_seconds=61))), "holds", "replays 61 s late"),
        (healthy(pg=pg_primary(standby_link(lag_bytes=64 * 2**20, lag_seconds=60))), "clear", ""),
        (healthy("hub2", pg=pg_standby(lag=75)), "holds", "hub2 replays 75 s late"),
        (healthy("hub2", pg=pg_standby(lag=1, pending=100 * 2**20)), "holds",
         "100.0 MiB received but not replayed"),
        (healthy("hub2", pg=pg_standby(lag=0)), "clear", ""),
        # A standby that is not streaming has an unknown lag, never 0.
        (healthy(pg=pg_primary(standby_link(state="disconnected"))), "unknown", ""),
        (healthy("hub2", pg=pg_standby(receiver="waiting", lag=None)), "unknown", ""),
        (healthy(pg=None), "unknown", ""),
    ],
)  # fmt: skip
def test_replication_lag(inputs: VerdictInputs, expected: str, detail: str) -> None:
    assert status(inputs, "replication_lag") == expected
    assert detail in details(inputs, "replication_lag")


def test_lag_thresholds_are_configurable() -> None:
    inputs = healthy(pg=pg_primary(standby_link(lag_bytes=2 * 2**20)))
    strict = Thresholds(max_lag_bytes=2**20, max_lag_seconds=60, hub_report_stale_seconds=900)
    assert evaluate(inputs, strict).finding("replication_lag").status == "holds"
    assert evaluate(inputs, T).finding("replication_lag").status == "clear"


# -- who is primary ----------------------------------------------------------------------------
def test_no_primary() -> None:
    assert status(healthy(cluster=cluster(promoted=())), "no_primary") == "holds"
    assert status(without_pacemaker(), "no_primary") == "clear"
    assert status(without_pacemaker("hub2"), "no_primary") == "clear"  # it streams from one
    lonely = without_pacemaker("hub2", pg=pg_standby(receiver="waiting", lag=None))
    assert status(lonely, "no_primary") == "unknown"


@pytest.mark.parametrize(
    ("inputs", "expected", "detail"),
    [
        (healthy(cluster=cluster(promoted=("hub1", "hub2"))), "holds", "promoted hub1 and hub2"),
        (healthy(cluster=cluster(agent_status={"hub1": "PRI", "hub2": "PRI"})), "holds",
         "PRI on hub1 and hub2"),
        (healthy(cluster=cluster(promoted=("hub2",), vip_nodes=("hub2",))), "holds",
         "hub1's database accepts writes while pacemaker promoted hub2"),
        (without_pacemaker(), "clear", ""),  # a standby streams from hub1
        (without_pacemaker(pg=pg_primary_alone()), "unknown", ""),
        (without_pacemaker("hub2"), "clear", ""),
        (without_pacemaker("hub2", pg=pg_down(), pg_reason="connect"), "clear", ""),
    ],
)  # fmt: skip
def test_two_primaries(inputs: VerdictInputs, expected: str, detail: str) -> None:
    assert status(inputs, "two_primaries") == expected
    assert detail in details(inputs, "two_primaries")


def test_vip_not_on_primary() -> None:
    assert status(healthy(cluster=cluster(vip_nodes=())), "vip_not_on_primary") == "holds"
    moved = healthy(cluster=cluster(vip_nodes=("hub2",)))
    assert status(moved, "vip_not_on_primary") == "holds"
    assert "runs on hub2, the primary is hub1" in details(moved, "vip_not_on_primary")
    assert status(healthy(cluster=cluster(promoted=())), "vip_not_on_primary") == "unknown"
    assert status(healthy(cluster=cluster(vip_nodes=None)), "vip_not_on_primary") == "unknown"


def test_pgsql_lock_on_standby() -> None:
    stale_lock = healthy("hub2", cluster=cluster(pgsql_lock_local=True))
    assert status(stale_lock, "pgsql_lock_on_standby") == "holds"
    assert "PGSQL.lock exists on hub2" in details(stale_lock, "pgsql_lock_on_standby")
    # The agent keeps the lock on the primary while it runs.
    assert status(healthy("hub1", cluster=cluster(pgsql_lock_local=True)),
                  "pgsql_lock_on_standby") == "clear"  # fmt: skip
    no_primary = healthy("hub1", cluster=cluster(promoted=(), pgsql_lock_local=True))
    assert status(no_primary, "pgsql_lock_on_standby") == "holds"
    assert status(healthy(cluster=cluster(pgsql_lock_local=None)), "pgsql_lock_on_standby") == (
        "unknown"
    )


# -- pacemaker and corosync --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "code"),
    [
        (node("hub2", online=False), "node_offline"),
        (node("hub2", standby=True), "node_standby"),
        (node("hub2", standby_onfail=True), "node_standby"),
        (node("hub2", online=False, unclean=True), "node_unclean"),
    ],
)
def test_node_states(peer: Node, code: str) -> None:
    inputs = healthy(cluster=cluster(nodes=(node("hub1"), peer)))
    verdict = judge(inputs)
    assert verdict.finding(code).status == "holds"
    assert verdict.finding(code).details == ("hub2",)
    assert verdict.degraded
    assert status(healthy(cluster=cluster(nodes=())), code) == "unknown"


def test_quorum_lost() -> None:
    assert status(healthy(cluster=cluster(quorate=False)), "quorum_lost") == "holds"
    assert status(healthy(corosync=corosync(quorate=False)), "quorum_lost") == "holds"
    neither = healthy(cluster=cluster(quorate=None), corosync=corosync(quorate=None))
    assert status(neither, "quorum_lost") == "unknown"
    # One quorum rule: one unknown source is not quorate (the remediator refuses on it too).
    one_unknown = healthy(corosync=corosync(quorate=None))
    assert status(one_unknown, "quorum_lost") == "unknown"
    # A disabled corosync collector is not a source.
    assert status(healthy(corosync=None), "quorum_lost") == "clear"


def test_failed_actions_and_cli_constraints() -> None:
    failed = healthy(cluster=cluster(failed_actions=(("cfpgsql", "monitor", "hub2", "gone"),)))
    assert status(failed, "failed_actions") == "holds"
    assert "cfpgsql monitor on hub2" in details(failed, "failed_actions")
    banned = healthy(cluster=cluster(cli_constraints=("cli-ban-mscfpgsql-on-hub2",)))
    assert status(banned, "cli_constraints") == "holds"
    assert status(without_pacemaker(), "failed_actions") == "unknown"


def test_maintenance_mode() -> None:
    assert status(healthy(cluster=cluster(maintenance_mode=True)), "maintenance_mode") == "holds"
    nodes = (node("hub1"), node("hub2", maintenance=True))
    node_maint = healthy(cluster=cluster(nodes=nodes))
    assert "node hub2 is in maintenance" in details(node_maint, "maintenance_mode")
    assert status(healthy(cluster=cluster(maintenance_mode=None)), "maintenance_mode") == "unknown"


def test_corosync_link_down() -> None:
    down = healthy(corosync=corosync(links_down=("hub2",)))
    assert status(down, "corosync_link_down") == "holds"
    assert "link 0 to hub2 is disconnected" in details(down, "corosync_link_down")
    assert status(healthy(corosync=corosync(links_down=None)), "corosync_link_down") == "unknown"


# -- CFEngine ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hub", "expected", "detail"),
    [
        # The newest report in cfdb is 5 s old: hub2's own is 901 s older than that.
        (hub_facts(member("hub1"), member("hub2", 906)), "holds",
         "hub2 last reported 901 s before the newest report in cfdb"),
        (hub_facts(member("hub1"), member("hub2", None)), "holds", "hub2 has never reported"),
        (hub_facts(member("hub1"), member("hub2", 904)), "clear", ""),
        # A replication-only third node is not an HA hub: its reports do not count.
        (hub_facts(member("hub1"), member("hub2"), member("hub3", 5000, in_cluster=False)),
         "clear", ""),
        (HubFacts(up=False, error="connection refused"), "unknown", ""),
        (dataclasses.replace(hub_facts(), members=None), "unknown", ""),
    ],
)  # fmt: skip
def test_hub_reports_stale(hub: HubFacts, expected: str, detail: str) -> None:
    inputs = healthy(hub=hub)
    assert status(inputs, "hub_reports_stale") == expected
    assert detail in details(inputs, "hub_reports_stale")


def test_hub_state_as_of_and_staleness_per_hub() -> None:
    verdict = judge(healthy(hub=hub_facts(member("hub1"), member("hub2", 1200))))
    by_node = {h.node: h for h in verdict.hubs}
    assert by_node["hub1"].state_as_of == hub_facts().now - 30  # type: ignore[operator]
    assert by_node["hub1"].stale is False and by_node["hub2"].stale is True
    assert by_node["hub2"].ip == IP["hub2"]


@pytest.mark.parametrize(
    ("inputs", "expected", "detail"),
    [
        (healthy("hub1", files=files(master=IP["hub2"])), "holds",
         "master_hub.dat names 10.250.5.2, the primary is this hub (hub1)"),
        (healthy("hub2", files=files(master=IP["hub2"], local=IP["hub2"])), "holds",
         "the primary is hub1 (10.250.5.1)"),
        (healthy("hub2", files=files(master="10.9.9.9", local=IP["hub2"])), "holds",
         "names 10.9.9.9"),
        (healthy("hub2", files=files(master=IP["hub1"], local=IP["hub2"])), "clear", ""),
        (healthy("hub1", files=files(master=IP["hub1"])), "clear", ""),
        (healthy("hub1", files=files(master_hub_dat="missing")), "unknown", ""),
        (healthy("hub1", cluster=cluster(promoted=())), "unknown", ""),
        # Without pacemaker the primary is known from PostgreSQL when this hub is it.
        (without_pacemaker("hub1", files=files(master=IP["hub2"])), "holds", "this hub (hub1)"),
    ],
)  # fmt: skip
def test_master_hub_not_primary(inputs: VerdictInputs, expected: str, detail: str) -> None:
    assert status(inputs, "master_hub_not_primary") == expected
    assert detail in details(inputs, "master_hub_not_primary")


@pytest.mark.parametrize(
    ("facts", "detail"),
    [
        (files(ha_enabled="missing"), "ha_enabled: ha_enabled is missing"),
        (files(ha_info_json="invalid"), "ha_info.json: ha_info.json is invalid"),
        (files(master_hub_dat="unreadable"), "master_hub.dat: master_hub.dat is unreadable"),
        (files(hubs=(HaHub(IP["hub1"], SHA["hub1"], None, True),
                     HaHub(IP["hub2"], SHA["hub2"], None, False))),
         "ha_info.json lists 1 cluster hub(s), not two"),
        (files(local="10.9.9.9"), "ha_info.json does not list this hub (hub1)"),
    ],
)  # fmt: skip
def test_cfengine_ha_config(facts: object, detail: str) -> None:
    inputs = healthy(files=facts)
    assert status(inputs, "cfengine_ha_config") == "holds"
    assert detail in details(inputs, "cfengine_ha_config")
    assert status(healthy(files=None), "cfengine_ha_config") == "unknown"


def test_collector_failed_names_each_failure() -> None:
    inputs = healthy(collectors=collectors(("hub", "schema"), ("cfengine", "permission")))
    assert status(inputs, "collector_failed") == "holds"
    assert details(inputs, "collector_failed") == (
        "cfengine: permission: cfengine broke | hub: schema: hub broke"
    )


# -- roles -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("agent", "role"),
    [("PRI", "active"), ("HS:async", "passive"), ("HS:sync", "passive"), ("HS:alone", "passive"),
     ("HS:connected", "unknown"), ("STOP", "unknown"), ("UNKNOWN", "unknown")],
)  # fmt: skip
def test_role_follows_the_agent_status_like_ha_cfg(agent: str, role: str) -> None:
    inputs = healthy(cluster=cluster(agent_status={"hub1": "PRI", "hub2": agent}))
    assert {h.node: h.role for h in judge(inputs).hubs}["hub2"] == role


def test_roles_without_pacemaker_from_postgres() -> None:
    def roles(inputs: VerdictInputs) -> dict[str, str]:
        return {h.node: h.role for h in judge(inputs).hubs}

    assert roles(without_pacemaker("hub1")) == {"hub1": "active", "hub2": "passive"}
    assert roles(without_pacemaker("hub2")) == {"hub1": "active", "hub2": "passive"}
    cut_off = without_pacemaker("hub1", pg=pg_primary(standby_link(state="disconnected")))
    assert roles(cut_off) == {"hub1": "active", "hub2": "unknown"}
    alone = without_pacemaker("hub2", pg=pg_standby(receiver="waiting", lag=None))
    assert roles(alone) == {"hub1": "unknown", "hub2": "passive"}
    down = without_pacemaker("hub2", pg=pg_down(), pg_reason="connect")
    assert roles(down) == {"hub1": "unknown", "hub2": "unknown"}


def test_hubs_listed_from_cfdb_pacemaker_and_self() -> None:
    inputs = healthy(
        "hub1",
        hub=hub_facts(member("hub1")),
        cluster=cluster(nodes=(node("hub1"), node("hub2", online=False))),
    )
    hubs = judge(inputs).hubs
    assert [h.node for h in hubs] == ["hub1", "hub2"]
    # hub2 is known from pacemaker only: no report in cfdb, no address.
    assert hubs[1].state_as_of is None and hubs[1].ip is None and hubs[1].stale is None


# -- metrics and plumbing ----------------------------------------------------------------------
def test_metrics_publish_every_code_with_nan_for_unknown() -> None:
    out = MetricWriter()
    verdict = judge(without_pacemaker(pg=pg_primary(standby_link(state="disconnected"))))
    write(out, verdict)
    assert out.value(DEGRADED, node="hub1") == 1.0
    for code in CODES:
        value = out.value(REASON, node="hub1", reason=code)
        checked = out.value(CHECKED, node="hub1", reason=code)
        assert value is not None and checked is not None
        finding = verdict.finding(code)
        if finding.status == "unknown":
            assert math.isnan(value) and checked == 0.0
        else:
            assert value == (1.0 if finding.status == "holds" else 0.0) and checked == 1.0
    assert out.value(REASON, node="hub1", reason="replication_not_streaming") == 1.0


def test_inputs_from_results_keeps_facts_of_failed_collectors() -> None:
    down = PgFacts(up=False, error="refused")
    results = {
        "postgres": CollectorResult("postgres", False, 0.1, 0.0, facts=down, reason="connect",
                                    message="refused"),
        "hub": CollectorResult("hub", True, 0.1, 0.0, facts=hub_facts()),
        "cfengine": CollectorResult("cfengine", True, 0.1, 0.0, facts="not facts"),
    }  # fmt: skip
    inputs = inputs_from("hub2", results)
    assert inputs.pg is down and inputs.pg_reason == "connect"
    assert inputs.hub is not None and inputs.files is None
    assert [c.name for c in inputs.collectors] == ["cfengine", "hub", "postgres"]
    assert judge(inputs).finding("database_down").status == "holds"


def test_reason_codes_are_stable_snake_case_with_sentences() -> None:
    assert len(CODES) == len(set(CODES)) == len(BY_CODE)
    for reason in REASONS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", reason.code)
        assert reason.sentence.endswith(".") and reason.inputs


def test_verdict_reference_is_current() -> None:
    committed = (REPO / "docs" / "verdict.md").read_text()
    assert committed == render_markdown(), "docs/verdict.md is stale: run `make docs`"
