"""The `pgsql_agent` collector: PGSQL.lock on this hub (real files), where its path comes from,
and what it publishes when pacemaker's view is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clusterstate.host import pgsql_lock
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.pgsql_ra import PgsqlStatus, ReplicationState
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig, PgsqlAgentFacts
from exporter.scrape import CollectorError, CollectorResult
from lab.offline.cibstates import PCMK_TZ, CibStates
from servicekit.metrics import MetricWriter, exposition_text
from servicekit.settings import parse_settings
from tests.support.metrics_text import sample_value
from tests.support.runners import CibFileRunner

NOW = 1_800_000_000.0


def pacemaker_result(cib: Path, **config: object) -> CollectorResult:
    collector = PacemakerCollector(
        parse_settings(PacemakerConfig, {"time_zone": PCMK_TZ, **config}, "test"),
        "hub1",
        CibFileRunner(cib),
    )
    facts = collector.collect(MetricWriter())
    return CollectorResult("pacemaker", True, 0.0, 0.0, facts=facts)


def agent(lock_path: str | None = None) -> PgsqlAgentCollector:
    return PgsqlAgentCollector(
        PgsqlAgentConfig(lock_path=lock_path), "hub1", "cfpgsql", clock=lambda: NOW
    )


def test_a_lock_left_behind_is_present_with_its_age(cib_states: CibStates, tmp_path: Path) -> None:
    lock = tmp_path / "PGSQL.lock"
    lock.touch()
    os.utime(lock, (NOW - 3600, NOW - 3600))
    out = MetricWriter()
    facts = agent(str(lock)).collect(out, {"pacemaker": pacemaker_result(cib_states.failover())})
    text = exposition_text(out, "cfcluster")
    assert sample_value(text, "cfha_pgsql_lock_present", node="hub1") == 1
    assert sample_value(text, "cfha_pgsql_lock_age_seconds", node="hub1") == 3600
    assert sample_value(text, "cfha_pgsql_lock_modified_timestamp_seconds", node="hub1") == (
        NOW - 3600
    )
    assert facts.lock.present is True and facts.lock.age_seconds == 3600
    # the situation the verdict looks for: a lock on a hub the agent says is stopped
    view = facts.view("hub1")
    assert view is not None and view.status is PgsqlStatus.STOP
    assert [v.node for v in facts.views if v.is_primary] == ["hub2"]


def test_the_lock_path_comes_from_the_resources_tmpdir(cib_states: CibStates) -> None:
    out = MetricWriter()
    facts = agent().collect(out, {"pacemaker": pacemaker_result(cib_states.healthy())})
    assert facts.lock.path == "/var/cfengine/state/pg/tmp/PGSQL.lock"
    assert facts.lock.present is False
    text = exposition_text(out, "cfcluster")
    assert sample_value(text, "cfha_pgsql_lock_age_seconds", node="hub1") is None


def test_a_missing_directory_means_no_lock_and_a_directory_is_not_a_lock(tmp_path: Path) -> None:
    assert pgsql_lock(str(tmp_path / "file" / "PGSQL.lock"), NOW).present is False
    (tmp_path / "file").write_text("")
    assert pgsql_lock(str(tmp_path / "file" / "PGSQL.lock"), NOW).present is False
    (tmp_path / "PGSQL.lock").mkdir()
    odd = pgsql_lock(str(tmp_path / "PGSQL.lock"), NOW)
    assert odd.present is None and odd.error_reason == "unavailable"


def test_without_pacemaker_only_the_lock_is_published(tmp_path: Path) -> None:
    lock = tmp_path / "PGSQL.lock"
    lock.touch()
    down = PacemakerState.down(
        local_node="hub1", reason="unavailable", message="not running", database_resource="cfpgsql"
    )
    result = CollectorResult("pacemaker", False, 0.0, 0.0, facts=down, reason="unavailable")
    out = MetricWriter()
    with pytest.raises(CollectorError) as raised:
        agent(str(lock)).collect(out, {"pacemaker": result})
    assert raised.value.reason == "unavailable"
    assert "not running" in str(raised.value)
    facts = raised.value.facts
    assert isinstance(facts, PgsqlAgentFacts) and facts.views == ()
    text = exposition_text(out, "cfcluster")
    assert sample_value(text, "cfha_pgsql_lock_present", node="hub1") == 1
    assert sample_value(text, "cfha_pgsql_status", node="hub1", state="PRI") is None
    with pytest.raises(CollectorError, match="disabled"):
        agent(str(lock)).collect(MetricWriter(), {})


def test_without_any_cib_the_lock_is_unknown_rather_than_guessed() -> None:
    down = PacemakerState.down(
        local_node="hub1", reason="unavailable", message="not running", database_resource="cfpgsql"
    )
    result = CollectorResult("pacemaker", False, 0.0, 0.0, facts=down, reason="unavailable")
    out = MetricWriter()
    with pytest.raises(CollectorError, match=r"set collectors\.pgsql_agent\.lock_path"):
        agent().collect(out, {"pacemaker": result})
    text = exposition_text(out, "cfcluster")
    assert sample_value(text, "cfha_pgsql_lock_present", node="hub1") is None
    assert "cfha_pgsql_lock_info{" not in text


def test_permanent_attributes_of_an_offline_node_come_from_the_cib(cib_states: CibStates) -> None:
    facts = agent().collect(MetricWriter(), {"pacemaker": pacemaker_result(cib_states.node_down())})
    hub1 = facts.view("hub1")
    assert hub1 is not None
    assert hub1.status is None  # transient: gone with the node
    assert hub1.replication_state is ReplicationState.DISCONNECT  # permanent: kept in the CIB


FORK = Path(__file__).parents[1] / "fixtures" / "pgsql-agent" / "cfengine-pgsql_RA.excerpt"
STOCK = "/usr/lib/ocf/resource.d/heartbeat/pgsql"


@pytest.mark.parametrize(
    ("script", "flavour", "reading", "reads"),
    [
        (None, "stock", "xml", 1.0),  # the CIB's ocf:heartbeat:pgsql, installed here
        (str(FORK), "cfengine_fork", "text", 0.0),  # the fork cannot read pacemaker 2.1's text
    ],
    ids=["stock-agent", "cfengine-fork"],
)
def test_which_agent_runs_and_whether_it_can_read_this_crm_mon(
    cib_states: CibStates, script: str | None, flavour: str, reading: str, reads: float
) -> None:
    collector = PgsqlAgentCollector(
        PgsqlAgentConfig(lock_path="/nonexistent/PGSQL.lock", agent_script_path=script),
        "hub1",
        "cfpgsql",
        clock=lambda: NOW,
    )
    out = MetricWriter()
    collector.collect(out, {"pacemaker": pacemaker_result(cib_states.healthy())})
    text = exposition_text(out, "cfcluster")
    info = "cfha_pgsql_agent_info"
    assert sample_value(text, info, node="hub1", flavour=flavour, crm_mon=reading) == 1
    assert sample_value(text, "cfha_pgsql_agent_reads_crm_mon", node="hub1") == reads
    assert os.path.exists(STOCK)


def test_an_unreadable_agent_script_is_unknown(cib_states: CibStates, tmp_path: Path) -> None:
    collector = PgsqlAgentCollector(
        PgsqlAgentConfig(lock_path="/nonexistent/PGSQL.lock", agent_script_path=str(tmp_path)),
        "hub1",
        "cfpgsql",
    )
    out = MetricWriter()
    collector.collect(out, {"pacemaker": pacemaker_result(cib_states.healthy())})
    text = exposition_text(out, "cfcluster")
    assert "cfha_pgsql_agent_info{" not in text
    assert sample_value(text, "cfha_pgsql_agent_reads_crm_mon", node="hub1") is None
