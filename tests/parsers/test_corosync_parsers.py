"""corosync-cfgtool / corosync-quorumtool parsers.

The 3.1.7 outputs under ``fixtures/corosync`` were captured from real corosync instances by
``fixtures/corosync/capture.sh`` (one node; two nodes with two knet links; links taken down).
The ``corosync2-*`` files are corosync 2 outputs published by ClusterLabs (see the folder's
README for each one's source). Other outputs of versions not installed here (3.0, 2.x) and the
quorum-device lines are written out from the printf formats in corosync's own
tools/corosync-cfgtool.c and corosync-quorumtool.c of those versions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterstate.parsers.corosync import (
    CorosyncParseError,
    CorosyncUnavailableError,
    LinkPeer,
    LinkState,
    QdeviceInfo,
    QuorumFlag,
    QuorumMember,
    parse_cfgtool_status,
    parse_quorumtool,
)

CAPTURED = Path(__file__).parents[1] / "fixtures" / "corosync"
LOCAL, CONNECTED, DISCONNECTED = LinkState.LOCALHOST, LinkState.CONNECTED, LinkState.DISCONNECTED


def captured(name: str) -> str:
    return (CAPTURED / f"{name}.txt").read_text()


def peers(name: str) -> list[tuple[int, bool, list[tuple[int | None, LinkState]]]]:
    links = parse_cfgtool_status(captured(name))
    return [
        (link.link_id, link.faulty, [(p.nodeid, p.state) for p in link.peers])
        for link in links.links
    ]


class TestCfgtool31:
    def test_two_healthy_links(self) -> None:
        links = parse_cfgtool_status(captured("two-node-healthy.hub1.cfgtool-s"))
        assert (links.local_nodeid, links.transport, links.faulty_links) == (1, "knet", 0)
        assert [(link.link_id, link.transport, link.address) for link in links.links] == [
            (0, "udp", "10.251.0.1"),
            (1, "udp", "10.252.0.1"),
        ]
        assert links.links[0].peers == (
            LinkPeer(1, 0, LOCAL, "localhost"),
            LinkPeer(2, 1, CONNECTED, "connected"),
        )
        assert peers("two-node-healthy.hub2.cfgtool-s") == [
            (0, False, [(1, CONNECTED), (2, LOCAL)]),
            (1, False, [(1, CONNECTED), (2, LOCAL)]),
        ]

    def test_one_link_down(self) -> None:
        links = parse_cfgtool_status(captured("two-node-link1-down.hub1.cfgtool-s"))
        assert links.faulty_links == 1
        assert peers("two-node-link1-down.hub1.cfgtool-s") == [
            (0, False, [(1, LOCAL), (2, CONNECTED)]),
            (1, True, [(1, LOCAL), (2, DISCONNECTED)]),
        ]

    def test_all_links_down(self) -> None:
        assert peers("no-two-node-links-down.hub1.cfgtool-s") == [
            (0, True, [(1, LOCAL), (2, DISCONNECTED)]),
            (1, True, [(1, LOCAL), (2, DISCONNECTED)]),
        ]

    def test_single_node(self) -> None:
        assert peers("one-node.cfgtool-s") == [(0, False, [(1, LOCAL)])]

    def test_brief_mode_has_positions_not_ids(self) -> None:
        links = parse_cfgtool_status(captured("two-node-link1-down.hub1.cfgtool-bs"))
        assert [link.status_text for link in links.links] == ["n3", "n1"]
        assert [[(p.nodeid, p.position, p.state) for p in link.peers] for link in links.links] == [
            [(None, 0, LOCAL), (None, 1, CONNECTED)],
            [(None, 0, LOCAL), (None, 1, DISCONNECTED)],
        ]
        assert links.faulty_links == 1

    def test_no_corosync_means_no_output(self) -> None:
        with pytest.raises(CorosyncParseError):
            parse_cfgtool_status(captured("not-running.cfgtool-s"))


COROSYNC_30 = """Printing link status.
Local node ID 1
LINK ID 0
\taddr\t= 10.0.0.1
\tstatus:
\t\tnodeid  1:\tlink enabled:1\tlink connected:1
\t\tnodeid  2:\tlink enabled:1\tlink connected:0
\t\tnodeid  3:\tlink enabled:0\tlink connected:0
"""
COROSYNC_300 = """Printing link status.
Local node ID 2
LINK ID 0
\taddr\t= 10.0.0.2
\tstatus:
\t\tnode 0:\tlink enabled:1\tlink connected:1
\t\tnode 1:\tlink enabled:1\tlink connected:1
"""
COROSYNC_2 = """Printing ring status.
Local node ID 303938909
RING ID 0
\tid\t= 10.0.1.1
\tstatus\t= ring 0 active with no faults
RING ID 1
\tid\t= 192.168.42.1
\tstatus\t= Marking ringid 1 interface 192.168.42.1 FAULTY
"""


def test_corosync_3_0_link_flags() -> None:
    links = parse_cfgtool_status(COROSYNC_30)
    assert (links.local_nodeid, links.transport) == (1, None)
    (link,) = links.links
    assert [(p.nodeid, p.state) for p in link.peers] == [
        (1, LOCAL),
        (2, DISCONNECTED),
        (3, LinkState.DISABLED),
    ]
    assert link.faulty
    early = parse_cfgtool_status(COROSYNC_300)
    assert [(p.nodeid, p.position, p.state) for p in early.links[0].peers] == [
        (None, 0, CONNECTED),
        (None, 1, CONNECTED),
    ]


def test_corosync_2_rings() -> None:
    links = parse_cfgtool_status(COROSYNC_2)
    assert links.local_nodeid == 303938909
    assert [(ring.link_id, ring.address, ring.faulty, ring.peers) for ring in links.links] == [
        (0, "10.0.1.1", False, ()),
        (1, "192.168.42.1", True, ()),
    ]


class TestCorosync2:
    """Corosync 2 (RHEL 7): totem rings instead of knet links, ``nodeid/seq`` ring ids."""

    def test_healthy_ring(self) -> None:
        links = parse_cfgtool_status(captured("corosync2-healthy.pcmk-1.cfgtool-s"))
        assert (links.local_nodeid, links.transport, links.faulty_links) == (1, None, 0)
        (ring,) = links.links
        assert (ring.link_id, ring.address, ring.ring, ring.faulty, ring.peers) == (
            0,
            "192.168.122.101",
            True,
            False,
            (),
        )
        assert ring.status_text == "ring 0 active with no faults"

    def test_faulty_ring_of_two(self) -> None:
        links = parse_cfgtool_status(captured("corosync2-rrp-ring0-faulty.node1.cfgtool-s"))
        assert links.local_nodeid == 16777226
        assert [(r.link_id, r.address, r.faulty, r.ring) for r in links.links] == [
            (0, "10.0.0.1", True, True),
            (1, "172.16.0.1", False, True),
        ]
        assert links.faulty_links == 1

    def test_links_of_corosync_3_are_not_rings(self) -> None:
        links = parse_cfgtool_status(captured("two-node-healthy.hub1.cfgtool-s"))
        assert not any(link.ring for link in links.links)

    def test_not_running_is_said_on_stdout(self) -> None:
        with pytest.raises(CorosyncUnavailableError) as caught:
            parse_cfgtool_status(captured("corosync2-not-running.cfgtool-s"))
        assert "Could not initialize corosync configuration API error 2" in str(caught.value)

    def test_quorum_status(self) -> None:
        status = parse_quorumtool(captured("corosync2-two-node.node2.quorumtool-s"))
        assert (status.quorate, status.provider, status.nodes, status.node_id) == (
            True,
            "corosync_votequorum",
            2,
            2,
        )
        assert (status.ring_id, status.expected_votes, status.total_votes, status.quorum) == (
            "1/8",
            2,
            2,
            1,
        )
        assert status.flags == {QuorumFlag.TWO_NODE, QuorumFlag.QUORATE, QuorumFlag.WAIT_FOR_ALL}
        assert status.members == (
            QuorumMember(1, 1, None, "192.168.127.20", False),
            QuorumMember(2, 1, None, "192.168.127.21", True),
        )

    def test_quorum_device_states_of_members(self) -> None:
        status = parse_quorumtool(captured("corosync2-qdevice-member.hana01.quorumtool-ps"))
        assert (status.node_id, status.ring_id) == (1084783375, "1084783375/40")
        assert status.members == (
            QuorumMember(1084783375, 1, "NR", "stefanotorresi-hana01", True),
            QuorumMember(1084783376, 1, "A,V,NMW", "stefanotorresi-hana02", False),
        )
        assert status.qdevice is None

    def test_membership_list(self) -> None:
        status = parse_quorumtool(captured("corosync2-healthy.pcmk-1.quorumtool-l"))
        assert status.quorate is None
        assert [(m.nodeid, m.votes, m.name, m.local) for m in status.members] == [
            (1, 1, "pcmk-1", True),
            (2, 1, "pcmk-2", False),
        ]


class TestQuorumtool:
    def test_two_node_healthy(self) -> None:
        status = parse_quorumtool(captured("two-node-healthy.hub1.quorumtool-s"))
        assert (status.quorate, status.provider, status.nodes, status.node_id, status.ring_id) == (
            True,
            "corosync_votequorum",
            2,
            1,
            "1.9",
        )
        assert (
            status.expected_votes,
            status.highest_expected,
            status.total_votes,
            status.quorum,
            status.activity_blocked,
        ) == (2, 2, 2, 1, False)
        assert status.flags == {QuorumFlag.TWO_NODE, QuorumFlag.QUORATE, QuorumFlag.WAIT_FOR_ALL}
        assert status.members == (
            QuorumMember(1, 1, None, "hub1", True),
            QuorumMember(2, 1, None, "hub2", False),
        )
        assert status.qdevice is None and status.other_flags == ()

    def test_machine_parsable_variant(self) -> None:
        status = parse_quorumtool(captured("two-node-healthy.hub1.quorumtool-ps"))
        assert status.members == (
            QuorumMember(1, 1, "NR", "hub1", True),
            QuorumMember(2, 1, "NR", "hub2", False),
        )

    def test_two_node_survivor_keeps_quorum(self) -> None:
        status = parse_quorumtool(captured("two-node-links-down.hub1.quorumtool-s"))
        assert (status.quorate, status.nodes, status.total_votes, status.quorum) == (True, 1, 1, 1)
        assert [m.name for m in status.members] == ["hub1"]

    def test_without_two_node_the_survivor_is_blocked(self) -> None:
        status = parse_quorumtool(captured("no-two-node-links-down.hub1.quorumtool-s"))
        assert (
            status.quorate,
            status.expected_votes,
            status.total_votes,
            status.quorum,
            status.activity_blocked,
            status.flags,
        ) == (False, 2, 1, 2, True, frozenset())

    def test_member_list_only(self) -> None:
        status = parse_quorumtool(captured("two-node-healthy.hub1.quorumtool-pl"))
        assert status.quorate is None and status.expected_votes is None
        assert [(m.nodeid, m.name, m.local) for m in status.members] == [
            (1, "hub1", True),
            (2, "hub2", False),
        ]

    def test_no_corosync_means_no_output(self) -> None:
        with pytest.raises(CorosyncParseError):
            parse_quorumtool(captured("not-running.quorumtool-s"))


QDEVICE_TABLE = """
Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2\x20\x20
Flags:            Quorate Qdevice LastManStanding Future\x20

Membership information
----------------------
    Nodeid      Votes    Qdevice Name
         1          1    A,V,NMW hub1 (local)
         2          1    A,V,NMW hub2
         0          1            Qdevice
"""


def test_quorum_device_line_is_not_a_member() -> None:
    # ha_cluster_exporter read this line as a node "Qdevice" and broke /metrics (issue #245)
    status = parse_quorumtool("Quorate:          Yes\n" + QDEVICE_TABLE)
    assert [m.nodeid for m in status.members] == [1, 2]
    assert status.members[0].qdevice == "A,V,NMW"
    assert status.qdevice == QdeviceInfo(votes=1, name="Qdevice", casting_vote=True)
    assert status.flags == {QuorumFlag.QUORATE, QuorumFlag.QDEVICE, QuorumFlag.LAST_MAN_STANDING}
    assert status.other_flags == ("Future",)
    inactive = parse_quorumtool(
        QDEVICE_TABLE.replace(
            "         0          1            Qdevice",
            "         0          0            Qdevice (votes 1)",
        )
    )
    assert inactive.qdevice == QdeviceInfo(votes=1, name="Qdevice", casting_vote=False)


def test_corosync_2_ring_id_and_hex_node_ids() -> None:
    status = parse_quorumtool(
        "Quorate:          Yes\nNode ID:          0x00000001\n"
        "Ring ID:          1/8\n\nMembership information\n"
        "    Nodeid      Votes Name\n0x00000001          1 hub1 (local)\n"
    )
    assert (status.node_id, status.ring_id, status.members[0].nodeid) == (1, "1/8", 1)


# every capture of the tools these parsers read (-n, the reachable-node list, is not parsed)
CAPTURES = sorted(path for path in CAPTURED.glob("*.*tool-*.txt") if ".cfgtool-n." not in path.name)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_capture_parses_or_is_empty(path: Path) -> None:
    text = path.read_text()
    parser = parse_cfgtool_status if ".cfgtool-" in path.name else parse_quorumtool
    if not text.strip() or "not-running" in path.name:
        with pytest.raises(CorosyncParseError):
            parser(text)
    else:
        parser(text)


@pytest.mark.parametrize(
    "text",
    [
        "LINK ID x",
        "Local node ID 1\nsomething else",
        "Quorate: Maybe",
        "Nodes: many\nQuorate: Yes",
        "    Nodeid      Votes Name\n         1 hub1",
        "Membership information\n    Nodeid Votes Qdevice\n1 1 NR",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(CorosyncParseError):
        if "LINK" in text or "Local" in text:
            parse_cfgtool_status(text)
        else:
            parse_quorumtool(text)
