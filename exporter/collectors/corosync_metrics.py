"""Metric declarations of the `corosync` collector (see `corosync.py`).

Every series is this hub's own view of the membership (`node` = this hub); a series about a
peer also carries `peer` (its name in corosync's nodelist) and `peer_id` (its corosync node id).
"""

from __future__ import annotations

from clusterstate.parsers.corosync import LinkState, QuorumFlag
from servicekit.metrics import Kind, MetricSpec

N = ("node",)
PEER = ("node", "peer", "peer_id")

UP = MetricSpec(
    "cfha_corosync_up",
    "1 if corosync answered on this hub; 0 if it is not running or not reachable (the reason "
    "is in cfha_exporter_collector_failure_reason).",
    labels=N,
)
QUORATE = MetricSpec(
    "cfha_corosync_quorate", "1 if this hub's partition has quorum (votequorum).", labels=N
)
QUORUM_FLAGS = MetricSpec(
    "cfha_corosync_quorum_flags",
    "votequorum flags as corosync-quorumtool prints them (several may be 1 at once).",
    kind=Kind.STATESET,
    labels=N,
    states=tuple(f.value for f in QuorumFlag),
    state_help=tuple(f.description for f in QuorumFlag),
)
EXPECTED_VOTES = MetricSpec("cfha_corosync_expected_votes", "Expected votes.", labels=N)
HIGHEST_EXPECTED = MetricSpec(
    "cfha_corosync_highest_expected_votes", "Highest expected votes.", labels=N
)
TOTAL_VOTES = MetricSpec(
    "cfha_corosync_total_votes", "Votes present in this hub's partition.", labels=N
)
QUORUM_VOTES = MetricSpec("cfha_corosync_quorum_votes", "Votes needed for quorum.", labels=N)
ACTIVITY_BLOCKED = MetricSpec(
    "cfha_corosync_activity_blocked",
    "1 if votequorum blocks activity in this partition (no quorum).",
    labels=N,
)
MEMBERS = MetricSpec(
    "cfha_corosync_members", "Nodes in this hub's membership (itself included).", labels=N
)
NODE_ID = MetricSpec("cfha_corosync_node_id", "This hub's corosync node id.", labels=N)
PEER_MEMBER = MetricSpec(
    "cfha_corosync_peer_member",
    "1 if the configured node is in this hub's membership, 0 if it is not (this hub itself "
    "included).",
    labels=PEER,
)
MEMBER_VOTES = MetricSpec("cfha_corosync_member_votes", "Votes of each member.", labels=PEER)
QDEVICE_VOTES = MetricSpec(
    "cfha_corosync_qdevice_votes",
    "Votes of the quorum device (0 when its vote does not count here); absent without one.",
    labels=N,
)
LINK_STATE = MetricSpec(
    "cfha_corosync_link_state",
    "State of each knet link (corosync 2: ring) towards each peer, as corosync-cfgtool -s shows.",
    kind=Kind.STATESET,
    labels=("node", "link", "peer", "peer_id"),
    states=tuple(s.value for s in LinkState if s is not LinkState.LOCALHOST),
    state_help=tuple(s.description for s in LinkState if s is not LinkState.LOCALHOST),
)
PEER_CONNECTED_LINKS = MetricSpec(
    "cfha_corosync_peer_connected_links",
    "Links on which the peer is connected (0: the peer is cut off from this hub).",
    labels=PEER,
)
LINK_FAULTY = MetricSpec(
    "cfha_corosync_link_faulty",
    "1 if the link is not connected to every peer (or the ring is FAULTY).",
    labels=("node", "link"),
)
FAULTY_LINKS = MetricSpec(
    "cfha_corosync_faulty_links", "Number of faulty links (rings) on this hub.", labels=N
)
LINK_INFO = MetricSpec(
    "cfha_corosync_link_info",
    "Each link's transport and this hub's address on it.",
    kind=Kind.INFO,
    labels=("node", "link", "transport", "address"),
)

METRICS: tuple[MetricSpec, ...] = (
    UP, QUORATE, QUORUM_FLAGS, EXPECTED_VOTES, HIGHEST_EXPECTED, TOTAL_VOTES, QUORUM_VOTES,
    ACTIVITY_BLOCKED, MEMBERS, NODE_ID, PEER_MEMBER, MEMBER_VOTES, QDEVICE_VOTES, LINK_STATE,
    PEER_CONNECTED_LINKS, LINK_FAULTY, FAULTY_LINKS, LINK_INFO,
)  # fmt: skip
