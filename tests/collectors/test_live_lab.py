"""The collectors on the live two-hub lab: the real cfha-exporter runs inside each hub, both hubs
are scraped, and each failure scenario shows in the metrics.

Each test starts from a healthy lab (restored first) and leaves its scenario for the next
restore; the lab is torn down at the end of the session.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import LabServer, http_get, lab_servers
from lab.cluster import Lab
from tests.support.metrics_text import sample_value, samples

pytestmark = pytest.mark.lab
HUBS = ("hub1", "hub2")
PORT = 19732  # inside each hub's own network namespace


@pytest.fixture
def lab(healthy_lab: Lab) -> Lab:
    """The session's shared lab, restored to healthy before each test."""
    return healthy_lab


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exporter configuration per hub (the hubs see the host's /tmp)."""
    folder = tmp_path_factory.mktemp("lab-exporter")
    for node in HUBS:
        peer = HUBS[1 - HUBS.index(node)]
        (folder / f"{node}.yml").write_text(
            f"cluster: cfcluster\nnode: {node}\ncollectors:\n  postgres:\n"
            "    conninfo: host=/var/cfengine/state/pg port=5432 user=postgres dbname=cfdb\n"
            f"    expected_standbys: [{peer}]\n"
        )
    return folder


def exporter_argv(config_dir: Path, node: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "exporter", "--config.file", str(config_dir / f"{node}.yml"),
            *extra]  # fmt: skip


def scrape(lab: Lab, node: str, config_dir: Path) -> str:
    """`cfha-exporter --once` inside the hub."""
    done = lab.run(node, exporter_argv(config_dir, node, "--once"), timeout=60)
    assert "cfha_pacemaker_up" in done.stdout, done.stderr
    return str(done.stdout)


def both(lab: Lab, config_dir: Path) -> dict[str, str]:
    return {node: scrape(lab, node, config_dir) for node in HUBS}


def promoted(text: str) -> list[str]:
    return [n for n in HUBS if sample_value(text, "cfha_pacemaker_database_promoted", node=n) == 1]


def role(text: str, node: str) -> str | None:
    found = [
        labels["state"]
        for labels, value in samples(
            text, "cfha_pacemaker_resource_role", resource="cfpgsql", node=node
        )
        if value == 1
    ]
    return found[0] if len(found) == 1 else None


def test_both_hubs_publish_one_agreeing_view(lab: Lab, config_dir: Path) -> None:
    pages = both(lab, config_dir)
    primary = lab.primary()
    standby = lab.other(primary)
    dcs = [n for n in HUBS if sample_value(pages[n], "cfha_pacemaker_local_is_dc", node=n) == 1]
    assert len(dcs) == 1
    for node, text in pages.items():
        assert sample_value(text, "cfha_pacemaker_up", node=node) == 1
        assert (
            sample_value(text, "cfha_pacemaker_pacemakerd_state", node=node, state="running") == 1
        )
        assert sample_value(text, "cfha_pacemaker_quorate") == 1
        assert promoted(text) == [primary]
        assert sample_value(text, "cfha_pacemaker_vip_active", node=primary) == 1
        assert sample_value(text, "cfha_pgsql_status", node=primary, state="PRI") == 1
        assert sample_value(text, "cfha_pgsql_data_status", node=standby, state="STREAMING") == 1
        assert sample_value(text, "cfha_pacemaker_failed_actions") == 0
        assert sample_value(text, "cfha_pacemaker_cli_constraints", kind="cli-ban") == 0
        # corosync 3 knet: the peer is a member and connected on every link
        peer = lab.other(node)
        assert sample_value(text, "cfha_corosync_quorate", node=node) == 1
        assert sample_value(text, "cfha_corosync_quorum_flags", node=node, state="2Node") == 1
        assert sample_value(text, "cfha_corosync_peer_member", node=node, peer=peer) == 1
        assert sample_value(text, "cfha_corosync_faulty_links", node=node) == 0
        links = sample_value(text, "cfha_corosync_peer_connected_links", node=node, peer=peer)
        assert links is not None and links >= 1
        success = "cfha_exporter_collector_success"
        for collector in ("postgres", "pacemaker", "corosync", "pgsql_agent"):
            assert sample_value(text, success, collector=collector) == 1, (node, collector)
    # the three agreement facts point at the same hub; the lock is the primary's own
    assert sample_value(pages[primary], "cfha_pg_role", node=primary, state="primary") == 1
    assert sample_value(pages[standby], "cfha_pg_role", node=standby, state="standby") == 1
    assert sample_value(pages[primary], "cfha_pgsql_lock_present", node=primary) == 1
    assert sample_value(pages[standby], "cfha_pgsql_lock_present", node=standby) == 0


@pytest.fixture
def served(lab: Lab, config_dir: Path) -> Iterator[dict[str, str]]:
    """cfha-exporter as a server inside each hub, reached through the lab's forwarders."""
    servers = {}
    for node in HUBS:
        argv = exporter_argv(config_dir, node, "--web.listen-address", f"127.0.0.1:{PORT}")
        servers[node] = LabServer(node, argv, PORT, config_dir / f"{node}.log")
    with lab_servers(lab, servers) as urls:
        yield urls


def test_the_exporter_serves_inside_both_hubs(served: dict[str, str]) -> None:
    for node, url in served.items():
        text = http_get(url).decode()
        assert sample_value(text, "cfha_pacemaker_up", node=node) == 1
        assert sample_value(text, "cfha_corosync_up", node=node) == 1
        assert sample_value(text, "cfha_exporter_collector_success", collector="pacemaker") == 1


def test_kill_primary(lab: Lab, config_dir: Path) -> None:
    old = lab.primary()
    new = lab.other(old)
    lab.inject("kill-primary", old)
    pages = both(lab, config_dir)
    for text in pages.values():
        assert promoted(text) == [new]
        assert sample_value(text, "cfha_pacemaker_vip_active", node=new) == 1
        assert role(text, old) == "stopped"
        assert sample_value(text, "cfha_pacemaker_failcount", resource="cfpgsql", node=old) == 1
        failed = samples(text, "cfha_pacemaker_failed_action_exit_code", resource="cfpgsql")
        assert any(labels["node"] == old for labels, _ in failed)
        assert sample_value(text, "cfha_pgsql_status", node=old, state="STOP") == 1
        assert sample_value(text, "cfha_pgsql_status", node=new, state="PRI") == 1
    # the old primary keeps its PGSQL.lock, which only its own exporter can see
    assert sample_value(pages[old], "cfha_pgsql_lock_present", node=old) == 1
    assert sample_value(pages[old], "cfha_pg_up", node=old) == 0
    assert sample_value(pages[new], "cfha_pg_role", node=new, state="primary") == 1


def test_fail_monitor(lab: Lab, config_dir: Path) -> None:
    standby = lab.standby()
    lab.inject("fail-monitor", standby)
    text = scrape(lab, lab.other(standby), config_dir)
    failed = samples(text, "cfha_pacemaker_failed_action_exit_code", resource="cfpgsql",
                     node=standby, operation="monitor")  # fmt: skip
    assert len(failed) == 1 and failed[0][1] != 0
    assert sample_value(text, "cfha_pacemaker_failcount", resource="cfpgsql", node=standby) == 1
    assert role(text, standby) == "stopped"


def test_ban(lab: Lab, config_dir: Path) -> None:
    standby = lab.standby()
    lab.inject("ban", standby)
    for text in both(lab, config_dir).values():
        assert sample_value(text, "cfha_pacemaker_cli_constraints", kind="cli-ban") == 1
        score = sample_value(
            text,
            "cfha_pacemaker_location_constraint_score",
            constraint=f"cli-ban-mscfpgsql-on-{standby}",
            kind="cli-ban",
            node=standby,
        )
        assert score == -math.inf
        assert role(text, standby) == "stopped"


def test_maintenance(lab: Lab, config_dir: Path) -> None:
    lab.inject("maintenance")
    for text in both(lab, config_dir).values():
        assert sample_value(text, "cfha_pacemaker_maintenance_mode") == 1
        for resource in ("cfpgsql", "cfvirtip"):
            managed = sample_value(
                text, "cfha_pacemaker_resource_status", resource=resource, state="managed"
            )
            assert managed == 0
        assert len(promoted(text)) == 1  # everything keeps running
