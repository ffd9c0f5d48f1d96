"""Pure parsers for ``corosync-cfgtool -s`` and ``corosync-quorumtool -s``/``-p``/``-l``.

Link status formats understood (fixtures of 3.1.7 were captured from real corosync instances,
the older ones follow corosync's own printf formats):

* 3.1 knet: ``Local node ID 1, transport knet`` / ``LINK ID 0 udp`` / ``addr = ...`` /
  ``status:`` / ``nodeid:  2:  connected`` (or ``localhost``, ``disconnected``);
* 3.1 brief (``-b -s``): ``status = n3`` - one character per node in node id order;
* 3.0 knet: ``LINK ID 0`` / ``nodeid  2:  link enabled:1  link connected:1``
  (3.0.0 printed ``node 1:`` with the node's position instead of its id);
* 2.x totem rings: ``RING ID 0`` / ``id = ...`` / ``status = ring 0 active with no faults``
  (``Marking ringid 1 interface ... FAULTY`` when redundant ring protocol gave up a ring). A ring
  becomes a ``CorosyncLink`` with ``ring=True`` and no peers: corosync 2 reports no per-node state
  of a ring, so peer connectivity is unknown there (the membership still says who is reachable).

Anything else raises ``CorosyncParseError``; corosync 2's "Could not initialize corosync
configuration API" (printed on stdout, exit 1, when corosync does not run) raises its subclass
``CorosyncUnavailableError``. Nothing else is ever raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clusterstate.parsers.described import DescribedEnum

__all__ = [
    "CorosyncLink",
    "CorosyncLinks",
    "CorosyncParseError",
    "CorosyncUnavailableError",
    "LinkPeer",
    "LinkState",
    "QdeviceInfo",
    "QuorumFlag",
    "QuorumMember",
    "QuorumStatus",
    "parse_cfgtool_status",
    "parse_quorumtool",
]


class CorosyncParseError(ValueError):
    """The text is not corosync tool output this parser understands."""


class CorosyncUnavailableError(CorosyncParseError):
    """The tool answered that corosync is not running (corosync 2 says so on stdout)."""


class LinkState(DescribedEnum):
    """State of one link towards one node."""

    LOCALHOST = "localhost", "The local node itself."
    CONNECTED = "connected", "The link to this node is up and connected."
    DISCONNECTED = "disconnected", "The link to this node is down (configured, not connected)."
    DISABLED = "disabled", "The link to this node is not enabled."
    UNKNOWN = "unknown", "Corosync could not tell, or printed a state unknown to this parser."


@dataclass(frozen=True, slots=True)
class LinkPeer:
    """One node's state on one link. ``nodeid`` is ``None`` when corosync printed positions."""

    nodeid: int | None
    position: int
    state: LinkState
    detail: str
    """The text corosync printed for this node."""


@dataclass(frozen=True, slots=True)
class CorosyncLink:
    """One knet link (or totem ring of corosync 2)."""

    link_id: int
    transport: str | None
    address: str | None
    peers: tuple[LinkPeer, ...]
    status_text: str | None
    """The one-line ``status = ...`` (brief mode, corosync 2 rings), else ``None``."""
    faulty: bool
    """Any peer not connected on this link, or a corosync 2 ring marked FAULTY."""
    ring: bool
    """A corosync 2 totem ring: ``status_text`` is all there is, ``peers`` is empty."""


@dataclass(frozen=True, slots=True)
class CorosyncLinks:
    """``corosync-cfgtool -s`` output."""

    local_nodeid: int | None
    transport: str | None
    links: tuple[CorosyncLink, ...]

    @property
    def faulty_links(self) -> int:
        """How many links (rings) have a fault."""
        return sum(1 for link in self.links if link.faulty)


_LOCAL_RE = re.compile(r"Local node ID ([0-9]{1,10})(?:, transport (\S+))?")
_LINK_RE = re.compile(r"(LINK|RING) ID ([0-9]{1,10})(?: (\S+))?")
_ADDR_RE = re.compile(r"(?:addr|id)\s*=\s*(.*)")
_STATUS_LINE_RE = re.compile(r"status\s*=\s*(.*)")
_PEER_31_RE = re.compile(r"nodeid:\s*([0-9]{1,10}):\s*(.*)")
_PEER_30_RE = re.compile(
    r"(nodeid|node)\s+([0-9]{1,10}):\s*link enabled:([0-9])\s+link connected:([0-9])"
)
_BRIEF_RE = re.compile(r"[0-9nd?]+")
_NOT_RUNNING = "Could not initialize corosync configuration API"


def _knet_state(text: str) -> LinkState:
    lowered = text.strip().lower()
    if lowered == "localhost":
        return LinkState.LOCALHOST
    if lowered == "connected":
        return LinkState.CONNECTED
    if lowered.startswith("disconnected"):
        return LinkState.DISCONNECTED
    return LinkState.UNKNOWN


def _flags_state(enabled: bool, connected: bool) -> LinkState:
    if connected:
        return LinkState.CONNECTED
    return LinkState.DISCONNECTED if enabled else LinkState.DISABLED


def _brief_peers(codes: str) -> tuple[LinkPeer, ...]:
    """``n3`` -> localhost, connected (positions in node id order, ids not printed)."""
    peers = []
    for position, code in enumerate(codes):
        if code == "n":
            state = LinkState.LOCALHOST
        elif code.isdigit():
            value = int(code)
            state = _flags_state(bool(value & 1), bool(value & 2))
        else:
            state = LinkState.UNKNOWN  # '?' status unknown, 'd' link not configured
        peers.append(LinkPeer(None, position, state, code))
    return tuple(peers)


class _LinkBuilder:
    def __init__(self, link_id: int, transport: str | None, ring: bool) -> None:
        self.link_id = link_id
        self.transport = transport
        self.ring = ring
        self.address: str | None = None
        self.peers: list[LinkPeer] = []
        self.status_text: str | None = None

    def build(self, local_nodeid: int | None) -> CorosyncLink:
        # corosync 3.0 printed the local node like a peer: it is not a link to anyone
        peers = [
            LinkPeer(p.nodeid, p.position, LinkState.LOCALHOST, p.detail)
            if p.nodeid is not None and p.nodeid == local_nodeid
            else p
            for p in self.peers
        ]
        status = self.status_text or ""
        if self.status_text is not None and _BRIEF_RE.fullmatch(status) and not peers:
            peers = list(_brief_peers(status))
        faulty = "FAULTY" in status or any(
            p.state not in (LinkState.LOCALHOST, LinkState.CONNECTED) for p in peers
        )
        return CorosyncLink(
            self.link_id,
            self.transport,
            self.address,
            tuple(peers),
            self.status_text,
            faulty,
            self.ring,
        )


def _raise_if_not_running(text: str) -> None:
    said = next((line.strip() for line in text.splitlines() if _NOT_RUNNING in line), None)
    if said is not None:
        raise CorosyncUnavailableError(f"corosync is not running: {said}")


def parse_cfgtool_status(text: str) -> CorosyncLinks:
    """Parse ``corosync-cfgtool -s`` (or ``-b -s``) output of corosync 2.x, 3.0 or 3.1."""
    if not isinstance(text, str):
        raise CorosyncParseError(f"expected text, got {type(text).__name__}")
    _raise_if_not_running(text)
    local_nodeid: int | None = None
    transport: str | None = None
    links: list[_LinkBuilder] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line in ("Printing link status.", "Printing ring status.", "status:"):
            continue
        if match := _LOCAL_RE.fullmatch(line):
            local_nodeid, transport = int(match.group(1)), match.group(2)
        elif match := _LINK_RE.fullmatch(line):
            links.append(
                _LinkBuilder(int(match.group(2)), match.group(3), match.group(1) == "RING")
            )
        elif not links:
            raise CorosyncParseError(f"line {number}: unexpected before any link: {line!r}")
        elif match := _ADDR_RE.fullmatch(line):
            links[-1].address = match.group(1).strip()
        elif match := _STATUS_LINE_RE.fullmatch(line):
            links[-1].status_text = match.group(1).strip()
        elif match := _PEER_31_RE.fullmatch(line):
            peers = links[-1].peers
            peers.append(
                LinkPeer(
                    int(match.group(1)),
                    len(peers),
                    _knet_state(match.group(2)),
                    match.group(2).strip(),
                )
            )
        elif match := _PEER_30_RE.fullmatch(line):
            peers = links[-1].peers
            by_id = match.group(1) == "nodeid"
            peers.append(
                LinkPeer(
                    int(match.group(2)) if by_id else None,
                    len(peers),
                    _flags_state(match.group(3) == "1", match.group(4) == "1"),
                    line.partition(":")[2].strip(),
                )
            )
        else:
            raise CorosyncParseError(f"line {number}: not corosync-cfgtool output: {line!r}")
    if not links:
        raise CorosyncParseError("no link or ring in corosync-cfgtool output")
    return CorosyncLinks(local_nodeid, transport, tuple(b.build(local_nodeid) for b in links))


class QuorumFlag(DescribedEnum):
    """A votequorum flag (``Flags:`` line)."""

    TWO_NODE = "2Node", "two_node mode: one node of two keeps quorum."
    QUORATE = "Quorate", "This partition has quorum."
    WAIT_FOR_ALL = "WaitForAll", "Quorum is first granted only once all nodes have been seen."
    LAST_MAN_STANDING = "LastManStanding", "Expected votes shrink as nodes leave."
    AUTO_TIE_BREAKER = "AutoTieBreaker", "A 50/50 split is resolved in favour of one side."
    ALLOW_DOWNSCALE = "AllowDownscale", "Expected votes shrink on clean node shutdown."
    QDEVICE = "Qdevice", "A quorum device is registered."


@dataclass(frozen=True, slots=True)
class QuorumMember:
    """One member line of the membership table."""

    nodeid: int
    votes: int | None
    qdevice: str | None
    """The member's quorum-device state: ``NR`` (not registered) or e.g. ``A,V,NMW``."""
    name: str
    local: bool


@dataclass(frozen=True, slots=True)
class QdeviceInfo:
    """The quorum device line of the membership table (node id 0, never a member)."""

    votes: int
    name: str
    casting_vote: bool
    """False when this node's device is inactive (corosync prints its votes as 0)."""


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    """``corosync-quorumtool -s`` (``-p`` too) or ``-l`` output; absent parts are ``None``."""

    quorate: bool | None
    provider: str | None
    nodes: int | None
    node_id: int | None
    ring_id: str | None
    expected_votes: int | None
    highest_expected: int | None
    total_votes: int | None
    quorum: int | None
    activity_blocked: bool
    flags: frozenset[QuorumFlag]
    other_flags: tuple[str, ...]
    """Flags this parser does not know (kept rather than dropped)."""
    members: tuple[QuorumMember, ...]
    qdevice: QdeviceInfo | None


_KEY_RE = re.compile(r"([A-Za-z][A-Za-z ]*?):\s*(.*)")
_NODEID_RE = re.compile(r"0x[0-9a-fA-F]{1,8}|[0-9]{1,10}")
_VOTES_SUFFIX_RE = re.compile(r"(.*?)\s*\(votes ([0-9]{1,10})\)")


def _number(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise CorosyncParseError(f"{what}: not a number: {text!r}")
    return int(text)


def _nodeid(text: str) -> int:
    if not _NODEID_RE.fullmatch(text):
        raise CorosyncParseError(f"not a node id: {text!r}")
    return int(text, 16) if text.startswith("0x") else int(text)


class _QuorumBuilder:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.columns: list[str] | None = None
        self.members: list[QuorumMember] = []
        self.qdevice: QdeviceInfo | None = None

    def member_line(self, line: str, number: int) -> None:
        assert self.columns is not None
        tokens = line.split()
        nodeid = _nodeid(tokens[0])
        if nodeid == 0:  # VOTEQUORUM_QDEVICE_NODEID: the quorum device, not a node
            self._qdevice_line(tokens, line, number)
            return
        fixed = len(self.columns) - 1  # every column before "Name"
        if len(tokens) <= fixed:
            raise CorosyncParseError(f"line {number}: short membership line: {line!r}")
        votes = _number(tokens[1], "votes") if "Votes" in self.columns else None
        qdevice = tokens[2] if "Qdevice" in self.columns else None
        name = " ".join(tokens[fixed:])
        local = name.endswith(" (local)")
        self.members.append(
            QuorumMember(nodeid, votes, qdevice, name.removesuffix(" (local)"), local)
        )

    def _qdevice_line(self, tokens: list[str], line: str, number: int) -> None:
        if len(tokens) < 3:
            raise CorosyncParseError(f"line {number}: short quorum device line: {line!r}")
        rest = " ".join(tokens[2:])
        match = _VOTES_SUFFIX_RE.fullmatch(rest)
        if match:  # inactive here: "Qdevice (votes 1)", with 0 in the votes column
            self.qdevice = QdeviceInfo(int(match.group(2)), match.group(1), False)
        else:
            self.qdevice = QdeviceInfo(_number(tokens[1], "qdevice votes"), rest, True)

    def build(self) -> QuorumStatus:
        def number(key: str) -> int | None:
            value = self.values.get(key)
            return None if value is None else _number(value.split()[0] if value else "", key)

        quorate_text = self.values.get("Quorate")
        if quorate_text not in (None, "Yes", "No"):
            raise CorosyncParseError(f"Quorate: {quorate_text!r}")
        flags, other = set(), []
        for token in self.values.get("Flags", "").split():
            try:
                flags.add(QuorumFlag(token))
            except ValueError:
                other.append(token)
        return QuorumStatus(
            quorate=None if quorate_text is None else quorate_text == "Yes",
            provider=self.values.get("Quorum provider") or None,
            nodes=number("Nodes"),
            node_id=_nodeid(self.values["Node ID"]) if "Node ID" in self.values else None,
            ring_id=self.values.get("Ring ID") or None,
            expected_votes=number("Expected votes"),
            highest_expected=number("Highest expected"),
            total_votes=number("Total votes"),
            quorum=number("Quorum"),
            activity_blocked="Activity blocked" in self.values.get("Quorum", ""),
            flags=frozenset(flags),
            other_flags=tuple(other),
            members=tuple(self.members),
            qdevice=self.qdevice,
        )


_KNOWN_KEYS = frozenset(
    {
        "Date",
        "Quorum provider",
        "Nodes",
        "Node ID",
        "Ring ID",
        "Quorate",
        "Expected votes",
        "Highest expected",
        "Total votes",
        "Quorum",
        "Flags",
    }
)
_SECTION_TITLES = frozenset(
    {"Quorum information", "Votequorum information", "Membership information"}
)


def parse_quorumtool(text: str) -> QuorumStatus:
    """Parse ``corosync-quorumtool -s`` / ``-p -s`` / ``-l`` / ``-p -l`` output."""
    if not isinstance(text, str):
        raise CorosyncParseError(f"expected text, got {type(text).__name__}")
    builder = _QuorumBuilder()
    seen_anything = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line in _SECTION_TITLES or set(line) == {"-"}:
            seen_anything = seen_anything or line in _SECTION_TITLES
            continue
        seen_anything = True
        if builder.columns is not None:
            builder.member_line(line, number)
        elif line.split()[0] == "Nodeid":
            builder.columns = line.split()
            if builder.columns[-1] != "Name":
                raise CorosyncParseError(f"line {number}: unknown membership header {line!r}")
        elif (match := _KEY_RE.fullmatch(line)) and match.group(1) in _KNOWN_KEYS:
            builder.values[match.group(1)] = match.group(2).strip()
        else:
            raise CorosyncParseError(f"line {number}: not corosync-quorumtool output: {line!r}")
    if not seen_anything:
        raise CorosyncParseError("empty corosync-quorumtool output")
    if "Quorate" not in builder.values and builder.columns is None:
        raise CorosyncParseError("neither quorum status nor membership in the output")
    return builder.build()
