"""The verdict on the cluster collectors' real output, seen from hub1.

Pacemaker: the CFEngine cluster's offline states (saved CIBs read with the real crm_mon and
cibadmin through `CIB_file`). Only the pacemaker and pgsql_agent collectors run, so the
PostgreSQL, cfdb and file reasons are unknown; every pacemaker reason is decided, and must be
exactly the ones each state shows. Corosync: outputs of corosync 3.1.7 captured on two machines
(tests/fixtures/corosync), replayed: a two-node link state cannot be made on one machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterstate.corosync import CorosyncState
from exporter.collectors.corosync import CorosyncCollector, CorosyncConfig
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.collectors.verdict_model import Thresholds, Verdict
from exporter.collectors.verdict_rules import evaluate
from exporter.scrape import CollectorError, ScheduledCollector, Scraper
from lab.offline.cibstates import PCMK_TZ, CibStates
from servicekit.metrics import MetricWriter
from tests.exporter.verdict_facts import healthy
from tests.support.golden import NOW
from tests.support.runners import CibFileRunner, ScriptedRunner

COROSYNC = Path(__file__).parents[1] / "fixtures" / "corosync"

PACEMAKER_REASONS = {
    "no_primary", "vip_not_on_primary", "pgsql_lock_on_standby", "node_offline", "node_standby",
    "node_unclean", "quorum_lost", "failed_actions", "cli_constraints", "maintenance_mode",
}  # fmt: skip


def verdict_for(cib_states: CibStates, state: str) -> Verdict:
    cib = getattr(cib_states, state)()
    pacemaker = PacemakerCollector(
        PacemakerConfig(time_zone=PCMK_TZ), "hub1", CibFileRunner(cib), clock=lambda: NOW
    )
    agent = PgsqlAgentCollector(PgsqlAgentConfig(), "hub1", "cfpgsql", clock=lambda: NOW)
    verdict = VerdictCollector(VerdictConfig(), "hub1")
    scraper = Scraper(
        [ScheduledCollector(pacemaker, 10.0)], [agent, verdict], node="hub1", clock=lambda: NOW
    )
    try:
        result = scraper.scrape().facts("verdict", Verdict)
    finally:
        scraper.close()
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("state", "holding", "roles"),
    [
        ("healthy", set(), {"hub1": "active", "hub2": "passive"}),
        ("failed_standby_monitor", {"failed_actions", "replication_not_streaming"},
         {"hub1": "active", "hub2": "unknown"}),
        ("failover", {"failed_actions", "replication_not_streaming"},
         {"hub1": "unknown", "hub2": "active"}),
        ("node_down", {"node_offline", "replication_not_streaming"},
         {"hub1": "unknown", "hub2": "active"}),
        # hub1 keeps its last role while UNCLEAN, and nobody updates the agent's attributes:
        # what is known is that hub1 is UNCLEAN and gone.
        ("unclean_node", {"node_offline", "node_unclean"}, {"hub1": "unknown", "hub2": "passive"}),
        ("leftover_ban", {"cli_constraints", "replication_not_streaming"},
         {"hub1": "active", "hub2": "unknown"}),
        ("maintenance_mode", {"maintenance_mode"}, {"hub1": "active", "hub2": "passive"}),
        ("node_standby", {"node_standby", "replication_not_streaming"},
         {"hub1": "active", "hub2": "unknown"}),
        ("vip_multi_active", {"vip_not_on_primary"}, {"hub1": "active", "hub2": "passive"}),
    ],
)  # fmt: skip
def test_each_offline_state_gives_its_reasons(
    cib_states: CibStates, state: str, holding: set[str], roles: dict[str, str]
) -> None:
    verdict = verdict_for(cib_states, state)
    assert {f.code for f in verdict.holding} == holding
    assert verdict.degraded == bool(holding)
    # Every pacemaker reason was decided: none is left unknown when pacemaker answered.
    assert not PACEMAKER_REASONS & {f.code for f in verdict.unknown}
    assert {h.node: h.role for h in verdict.hubs} == roles


def corosync_captured(scenario: str) -> ScriptedRunner:
    scripted = ScriptedRunner()
    quorum = COROSYNC / f"{scenario}.hub1.quorumtool-ps.txt"
    scripted.set("corosync-quorumtool", quorum.read_text())
    scripted.set("corosync-cfgtool", (COROSYNC / f"{scenario}.hub1.cfgtool-s.txt").read_text())
    nodelist = COROSYNC / "two-node-healthy.hub1.cmapctl-nodelist.txt"
    scripted.set("corosync-cmapctl", nodelist.read_text())
    return scripted


@pytest.mark.parametrize(
    ("scenario", "links_down"),
    [
        ("two-node-healthy", ()),
        ("two-node-link1-down", ("link 1 to hub2 is disconnected",)),
        ("two-node-links-down", ("link 0 to hub2 is disconnected",
                                 "link 1 to hub2 is disconnected")),
    ],
)  # fmt: skip
def test_corosync_links_down(scenario: str, links_down: tuple[str, ...]) -> None:
    facts = CorosyncCollector(CorosyncConfig(), "hub1", corosync_captured(scenario)).collect(
        MetricWriter()
    )
    assert facts.quorate is True  # two_node keeps a lone hub quorate
    finding = evaluate(healthy(corosync=facts), Thresholds()).finding("corosync_link_down")
    assert finding.details == links_down
    assert finding.status == ("holds" if links_down else "clear")


def test_corosync_not_running_is_unknown_not_fine() -> None:
    scripted = ScriptedRunner()
    stderr = (COROSYNC / "not-running.quorumtool-s.stderr").read_text()
    scripted.set("corosync-quorumtool", "", returncode=1, stderr=stderr)
    with pytest.raises(CollectorError) as raised:
        CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(MetricWriter())
    down = raised.value.facts
    assert isinstance(down, CorosyncState) and not down.up
    verdict = evaluate(healthy(corosync=down), Thresholds())
    assert verdict.finding("corosync_link_down").status == "unknown"
    assert verdict.finding("quorum_lost").status == "unknown"
