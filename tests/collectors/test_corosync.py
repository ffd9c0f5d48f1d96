"""The `corosync` collector on corosync 3.1.7 outputs captured from real instances
(`tests/fixtures/corosync/`), replayed by a scripted runner: two-node states need two machines."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from clusterstate.corosync import CorosyncState
from clusterstate.tools import CommandError, CommandResult
from exporter.collectors.corosync import CorosyncCollector, CorosyncConfig
from exporter.scrape import CollectorError
from servicekit.metrics import MetricWriter, exposition_text
from tests.support.metrics_text import sample_value
from tests.support.runners import ScriptedRunner

FIXTURES = Path(__file__).parents[1] / "fixtures" / "corosync"


def runner(scenario: str, *, quorum_rc: int = 0, nodelist: bool = True) -> ScriptedRunner:
    scripted = ScriptedRunner()
    quorum = FIXTURES / f"{scenario}.hub1.quorumtool-ps.txt"
    if not quorum.exists():  # not every state was captured with -p; -s parses the same
        quorum = FIXTURES / f"{scenario}.hub1.quorumtool-s.txt"
    scripted.set("corosync-quorumtool", quorum.read_text(), returncode=quorum_rc)
    scripted.set("corosync-cfgtool", (FIXTURES / f"{scenario}.hub1.cfgtool-s.txt").read_text())
    if nodelist:
        scripted.set(
            "corosync-cmapctl",
            (FIXTURES / "two-node-healthy.hub1.cmapctl-nodelist.txt").read_text(),
        )
    return scripted


def collect(scripted: ScriptedRunner) -> tuple[CorosyncState, str]:
    out = MetricWriter()
    facts = CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(out)
    return facts, exposition_text(out, "cfcluster")


def series(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith("cfha_corosync_"))


def test_healthy_two_node_cluster_exactly() -> None:
    facts, text = collect(runner("two-node-healthy"))
    c, n = 'cluster="cfcluster"', 'node="hub1"'
    flags = {"2Node": 1, "Quorate": 1, "WaitForAll": 1, "LastManStanding": 0,
             "AutoTieBreaker": 0, "AllowDownscale": 0, "Qdevice": 0}  # fmt: skip
    states = ("connected", "disconnected", "disabled", "unknown")
    expected = [
        f"cfha_corosync_activity_blocked{{{c},{n}}} 0.0",
        f"cfha_corosync_expected_votes{{{c},{n}}} 2.0",
        f"cfha_corosync_faulty_links{{{c},{n}}} 0.0",
        f"cfha_corosync_highest_expected_votes{{{c},{n}}} 2.0",
        *(
            f'cfha_corosync_link_info{{address="10.25{1 + link}.0.1",{c},link="{link}",{n},'
            f'transport="udp"}} 1.0'
            for link in (0, 1)
        ),
        *(
            f'cfha_corosync_link_state{{{c},link="{link}",{n},peer="hub2",peer_id="2",'
            f'state="{s}"}} {1.0 if s == "connected" else 0.0}'
            for link in (0, 1)
            for s in states
        ),
        *(f'cfha_corosync_link_faulty{{{c},link="{link}",{n}}} 0.0' for link in (0, 1)),
        f'cfha_corosync_member_votes{{{c},{n},peer="hub1",peer_id="1"}} 1.0',
        f'cfha_corosync_member_votes{{{c},{n},peer="hub2",peer_id="2"}} 1.0',
        f"cfha_corosync_members{{{c},{n}}} 2.0",
        f"cfha_corosync_node_id{{{c},{n}}} 1.0",
        f'cfha_corosync_peer_connected_links{{{c},{n},peer="hub2",peer_id="2"}} 2.0',
        f'cfha_corosync_peer_member{{{c},{n},peer="hub1",peer_id="1"}} 1.0',
        f'cfha_corosync_peer_member{{{c},{n},peer="hub2",peer_id="2"}} 1.0',
        *(
            f'cfha_corosync_quorum_flags{{{c},{n},state="{flag}"}} {float(on)}'
            for flag, on in flags.items()
        ),
        f"cfha_corosync_quorum_votes{{{c},{n}}} 1.0",
        f"cfha_corosync_quorate{{{c},{n}}} 1.0",
        f"cfha_corosync_total_votes{{{c},{n}}} 2.0",
        f"cfha_corosync_up{{{c},{n}}} 1.0",
    ]
    assert series(text) == sorted(expected)
    assert facts.quorate is True and facts.faulty_links == 0 and facts.cut_off_peers == ()


def test_one_knet_link_down_is_seen_per_link_and_peer() -> None:
    facts, text = collect(runner("two-node-link1-down"))
    state = "cfha_corosync_link_state"
    assert sample_value(text, state, link="1", peer="hub2", state="disconnected") == 1
    assert sample_value(text, state, link="0", peer="hub2", state="connected") == 1
    assert sample_value(text, "cfha_corosync_link_faulty", link="1") == 1
    assert sample_value(text, "cfha_corosync_link_faulty", link="0") == 0
    assert sample_value(text, "cfha_corosync_faulty_links", node="hub1") == 1
    assert sample_value(text, "cfha_corosync_peer_connected_links", peer="hub2") == 1
    assert facts.quorate is True and facts.cut_off_peers == ()


def test_a_peer_cut_off_keeps_its_name_from_the_nodelist() -> None:
    facts, text = collect(runner("two-node-links-down"))
    assert sample_value(text, "cfha_corosync_quorate", node="hub1") == 1  # two_node: 1
    assert sample_value(text, "cfha_corosync_members", node="hub1") == 1
    assert sample_value(text, "cfha_corosync_peer_member", peer="hub2", peer_id="2") == 0
    assert sample_value(text, "cfha_corosync_member_votes", peer="hub2") is None
    assert sample_value(text, "cfha_corosync_peer_connected_links", peer="hub2") == 0
    assert sample_value(text, "cfha_corosync_faulty_links", node="hub1") == 2
    assert facts.cut_off_peers == ("hub2",)


def test_without_the_nodelist_peers_are_named_from_the_membership() -> None:
    scripted = runner("two-node-link1-down", nodelist=False)
    _, text = collect(scripted)
    assert sample_value(text, "cfha_corosync_peer_connected_links", peer="hub2", peer_id="2") == 1
    scripted = runner("two-node-links-down", nodelist=False)
    facts, text = collect(scripted)
    assert sample_value(text, "cfha_corosync_peer_connected_links", peer="", peer_id="2") == 0
    assert facts.cut_off_peers == ("2",)


def test_not_quorate_is_a_state_not_a_failure() -> None:
    facts, text = collect(runner("no-two-node-links-down", quorum_rc=2))
    assert sample_value(text, "cfha_corosync_up", node="hub1") == 1
    assert sample_value(text, "cfha_corosync_quorate", node="hub1") == 0
    assert sample_value(text, "cfha_corosync_activity_blocked", node="hub1") == 1
    assert sample_value(text, "cfha_corosync_quorum_flags", state="Quorate") == 0
    assert facts.quorate is False


def test_corosync_not_running_gives_explicit_down_series() -> None:
    scripted = ScriptedRunner()
    scripted.set(
        "corosync-quorumtool",
        "",
        returncode=1,
        stderr=(FIXTURES / "not-running.quorumtool-s.stderr").read_text(),
    )
    out = MetricWriter()
    with pytest.raises(CollectorError) as raised:
        CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(out)
    assert raised.value.reason == "unavailable"
    assert isinstance(raised.value.facts, CorosyncState) and not raised.value.facts.up
    assert raised.value.partial is not None
    assert series(exposition_text(raised.value.partial, "cfcluster")) == [
        'cfha_corosync_up{cluster="cfcluster",node="hub1"} 0.0'
    ]


def test_a_failing_cfgtool_still_publishes_quorum() -> None:
    scripted = runner("two-node-healthy")
    scripted.answers["corosync-cfgtool"] = CommandError(
        "timeout", ["corosync-cfgtool"], "no answer within 1s"
    )
    with pytest.raises(CollectorError) as raised:
        CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(MetricWriter())
    assert raised.value.reason == "timeout"
    assert raised.value.partial is not None
    text = exposition_text(raised.value.partial, "cfcluster")
    assert sample_value(text, "cfha_corosync_quorate", node="hub1") == 1
    assert sample_value(text, "cfha_corosync_faulty_links", node="hub1") is None
    facts = raised.value.facts
    assert isinstance(facts, CorosyncState) and facts.links is None and facts.up


def test_garbage_is_a_parse_failure() -> None:
    scripted = runner("two-node-healthy")
    scripted.set("corosync-quorumtool", "Segmentation fault\n")
    with pytest.raises(CollectorError) as raised:
        CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(MetricWriter())
    assert raised.value.reason == "parse"


def test_the_nodelist_is_read_once_a_minute() -> None:
    scripted = runner("two-node-healthy")
    collector = CorosyncCollector(CorosyncConfig(), "hub1", scripted)
    for _ in range(3):
        collector.collect(MetricWriter())
    assert scripted.count("corosync-quorumtool") == 3
    assert scripted.count("corosync-cmapctl") == 1


def test_the_two_tools_run_side_by_side() -> None:
    """corosync-quorumtool answers only once corosync-cfgtool has started: run one after the
    other, this would time out."""
    scripted = runner("two-node-healthy")
    quorum = scripted.answers["corosync-quorumtool"]
    links = scripted.answers["corosync-cfgtool"]
    assert isinstance(quorum, CommandResult) and isinstance(links, CommandResult)
    cfgtool_started = threading.Event()

    def quorumtool() -> CommandResult:
        assert cfgtool_started.wait(timeout=5), "corosync-cfgtool did not start meanwhile"
        return quorum

    def cfgtool() -> CommandResult:
        cfgtool_started.set()
        return links

    scripted.answers["corosync-quorumtool"] = quorumtool
    scripted.answers["corosync-cfgtool"] = cfgtool
    facts = CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(MetricWriter())
    assert facts.quorate and facts.faulty_links == 0


def test_a_failing_quorumtool_waits_for_cfgtool() -> None:
    """No tool is left running once the collection has failed."""
    scripted = runner("two-node-healthy")
    links = scripted.answers["corosync-cfgtool"]
    assert isinstance(links, CommandResult)
    finished = threading.Event()

    def slow_cfgtool() -> CommandResult:
        time.sleep(0.3)
        finished.set()
        return links

    scripted.answers["corosync-cfgtool"] = slow_cfgtool
    scripted.set("corosync-quorumtool", "Segmentation fault\n")
    with pytest.raises(CollectorError):
        CorosyncCollector(CorosyncConfig(), "hub1", scripted).collect(MetricWriter())
    assert finished.is_set()
