"""One reading of the cluster: what the exporter publishes and what the remediator decides on agree.

For every offline pacemaker state the suite builds (real crm_mon/cibadmin on saved CIBs) and every
crm_mon document of pacemaker's own regression suite (the shared fixtures of three versions), the
same inputs go to the exporter (its pacemaker, pgsql_agent and corosync collectors, read back from
the metrics they publish) and to the remediator's snapshot; the facts both use must be equal:
the promoted node, each node's state (standby-on-fail included), quorum, the location constraints
and their kinds, the pgsql agent's status per node, and the times pacemaker prints in local time
(the last configuration change, failed actions, the last promotion), read under a TZ that names a
zone file, as systemd units and containers often set it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterstate.disk import CloneSize
from clusterstate.errors import ReadError
from clusterstate.model import ClusterState, quorum
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.postgres import PgFacts
from exporter.collectors.corosync import CorosyncCollector, CorosyncConfig
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig
from exporter.scrape import ScheduledCollector, Scraper
from lab.offline.cibstates import PCMK_TZ, CibStates
from remediator.config import config_from_mapping
from remediator.live import cluster_reader
from tests.support.metrics_text import samples, scrape_text
from tests.support.runners import OfflineRunner
from tests.support.shared import pacemaker_fixture_dirs

TZ_FILE = f"/usr/share/zoneinfo/{PCMK_TZ}"
NO_LOCK = "/nonexistent/PGSQL.lock"
NODE_FLAGS = ("online", "standby", "unclean", "pending", "maintenance")
EMPTY_CIB = (
    b'<cib validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0">'
    b"<configuration><crm_config/><nodes/><resources/><constraints/></configuration>"
    b"<status/></cib>"
)


@dataclass(frozen=True)
class Facts:
    """The facts both services use, in one comparable shape."""

    promoted: frozenset[str]
    nodes: Mapping[str, frozenset[str]]
    quorate: bool | None
    constraints: Mapping[str, str]
    agent_status: Mapping[str, str]
    last_change: float | None
    failure_times: Mapping[tuple[str, str, str], float | None]
    last_promotion: float | None


# -- the exporter: what it publishes -------------------------------------------------------------


def exporter_text(runner: OfflineRunner, node: str) -> str:
    scraper = Scraper(
        [
            ScheduledCollector(PacemakerCollector(PacemakerConfig(), node, runner), 10),
            ScheduledCollector(CorosyncCollector(CorosyncConfig(), node, runner), 10),
        ],
        [
            PgsqlAgentCollector(
                PgsqlAgentConfig(lock_path="/nonexistent/PGSQL.lock"), node, "cfpgsql"
            )
        ],
        node=node,
        cluster="cfcluster",
    )
    try:
        return scrape_text(scraper.scrape())
    finally:
        scraper.close()


def on(text: str, name: str, **labels: str) -> list[dict[str, str]]:
    return [found for found, value in samples(text, name, **labels) if value == 1]


def value(text: str, name: str, **labels: str) -> float | None:
    found = samples(text, name, **labels)
    return found[0][1] if found else None


def key(labels: Mapping[str, str]) -> tuple[str, str, str]:
    return labels["resource"], labels["node"], labels["operation"]


def published_facts(text: str) -> Facts:
    nodes: dict[str, set[str]] = {}
    for labels, value_ in samples(text, "cfha_pacemaker_node_state"):
        flags = nodes.setdefault(labels["node"], set())
        state = "standby" if labels["state"] == "standby_onfail" else labels["state"]
        if value_ == 1 and state in NODE_FLAGS:
            flags.add(state)
    views = [value(text, "cfha_pacemaker_quorate"), value(text, "cfha_corosync_quorate")]
    return Facts(
        promoted=frozenset(
            s["node"] for s in on(text, "cfha_pacemaker_database_promoted", resource="cfpgsql")
        ),
        nodes={name: frozenset(flags) for name, flags in nodes.items()},
        quorate=quorum(*(None if v is None else v == 1 for v in views)),
        constraints={
            s["constraint"]: s["kind"]
            for s, _ in samples(text, "cfha_pacemaker_location_constraint_score")
        },
        agent_status={
            s["node"]: s["state"]
            for s in on(text, "cfha_pgsql_status", resource="cfpgsql")
            if s["state"] != "absent"
        },
        last_change=value(text, "cfha_pacemaker_config_last_change_timestamp_seconds"),
        failure_times={
            key(s): value(text, "cfha_pacemaker_failed_action_timestamp_seconds", **s)
            for s, _ in samples(text, "cfha_pacemaker_failed_action_exit_code")
        },
        last_promotion=value(text, "cfha_pacemaker_database_promoted_timestamp_seconds"),
    )


# -- the remediator: what its snapshot holds -----------------------------------------------------


class NoPostgres:
    """The saved states have no database: the PostgreSQL part is not compared here."""

    def local(self, _p: PgsqlParams) -> PgFacts:
        return PgFacts(up=False, error="not compared")

    def primary(self, _p: PgsqlParams) -> tuple[PgFacts, CloneSize | None]:
        return PgFacts(up=False, error="not compared"), None


def remediator_snapshot(runner: OfflineRunner, node: str) -> ClusterState | None:
    """What the remediator decides on, read as it reads it (None: it refuses to read)."""
    config = config_from_mapping({"cluster": "cfcluster", "node": node})
    try:
        return cluster_reader(config, runner, NoPostgres()).read()
    except ReadError:
        return None


def snapshot_facts(s: ClusterState | None) -> Facts:
    if s is None:
        return Facts(frozenset(), {}, None, {}, {}, None, {}, None)
    p = s.pacemaker
    return Facts(
        promoted=frozenset(p.database.promoted_nodes if p.database else ()),
        nodes={
            n.name: frozenset(
                flag
                for flag, held in zip(
                    NODE_FLAGS,
                    (n.online, n.in_standby, n.unclean, n.pending, n.maintenance),
                    strict=True,
                )
                if held
            )
            for n in p.nodes
        },
        quorate=s.quorate,
        constraints={c.id: c.kind.value for c in p.location_constraints},
        agent_status={v.node: v.status.value for v in p.agent_views if v.status is not None},
        last_change=p.last_change,
        failure_times={
            (f.resource_id, f.node or "", f.task or ""): f.last_rc_change for f in p.failed_actions
        },
        last_promotion=p.last_promotion,
    )


# -- the inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    name: str
    cib: Path
    crm_mon: bytes | None = None


def shared_fixtures() -> Iterator[tuple[str, Path, Path | None]]:
    """Every shared crm_mon document, with the CIB it came from where the suite has it."""
    for directory in pacemaker_fixture_dirs():
        cib = directory / "cib" / "crm_mon.xml"
        for document in sorted(directory.glob("*.xml")):
            yield f"{directory.name}/{document.stem}", document, cib if cib.exists() else None


@pytest.fixture(autouse=True)
def zone_file_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both services read local times in the zone TZ names; here TZ is a zone file's path."""
    monkeypatch.setenv("TZ", TZ_FILE)


def compare(inputs: Inputs, tmp_path: Path, node: str = "hub2") -> None:
    copy = tmp_path / "cib.xml"
    shutil.copyfile(inputs.cib, copy)
    runner = OfflineRunner(copy, crm_mon=inputs.crm_mon)
    published = published_facts(exporter_text(runner, node))
    held = snapshot_facts(remediator_snapshot(runner, node))
    assert held == published


@pytest.mark.parametrize("state", CibStates.NAMES)
def test_offline_states_read_alike(state: str, cib_states: CibStates, tmp_path: Path) -> None:
    compare(Inputs(state, getattr(cib_states, state)()), tmp_path)


@pytest.mark.parametrize(
    ("document", "cib"),
    [pytest.param(d, c, id=name) for name, d, c in shared_fixtures()],
)
def test_shared_fixtures_read_alike(document: Path, cib: Path | None, tmp_path: Path) -> None:
    source = tmp_path / "source-cib.xml"
    if cib is None:
        source.write_bytes(EMPTY_CIB)
    else:
        shutil.copyfile(cib, source)
    compare(Inputs(document.stem, source, document.read_bytes()), tmp_path, node="cluster01")
