"""Reading corosync: quorum and membership (`corosync-quorumtool -p -s`), each link's state
towards each peer (`corosync-cfgtool -s`) and, at most once a minute, the configured nodelist
(`corosync-cmapctl nodelist.node`, to name a peer that is down), into one `CorosyncState`.

The two first tools are independent and take ~10-15 ms each: they run side by side.
`corosync-quorumtool` exits 2 when the partition is not quorate: a state, not a failure.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import TypeVar

from clusterstate.errors import ReadError, Unreadable
from clusterstate.parsers.corosync import (
    CorosyncLinks,
    CorosyncParseError,
    LinkState,
    QuorumStatus,
    parse_cfgtool_status,
    parse_quorumtool,
)
from clusterstate.parsers.corosync_cmap import CmapNode, parse_cmap_nodelist
from clusterstate.tools import CommandError, CommandResult, CommandRunner

log = logging.getLogger(__name__)
T = TypeVar("T")
QUORUMTOOL_OK = (0, 2)


@dataclass(frozen=True, slots=True)
class PeerLink:
    """One link's state towards one peer (the local node itself is left out)."""

    link: int
    peer: str | None
    """The peer's name in the nodelist (None when corosync did not say)."""
    peer_id: int | None
    state: LinkState


@dataclass(frozen=True, slots=True)
class CorosyncState:
    """Corosync on this hub at one moment (None/empty = unknown)."""

    local_node: str
    up: bool
    down_reason: str | None
    down_message: str | None
    quorum: QuorumStatus | None
    links: CorosyncLinks | None
    """None when corosync-cfgtool failed although quorum was read (see ``links_error``)."""
    peer_names: Mapping[int, str]
    """Node id -> name, from the configured nodelist and the current membership."""
    peer_links: tuple[PeerLink, ...]
    links_error: tuple[str, str] | None = None
    """(reason, message) when the links could not be read."""

    @property
    def quorate(self) -> bool | None:
        return self.quorum.quorate if self.quorum is not None else None

    @property
    def faulty_links(self) -> int | None:
        return self.links.faulty_links if self.links is not None else None

    def connected_links(self, peer_id: int) -> int:
        """Links on which the peer is connected."""
        return sum(
            1 for p in self.peer_links if p.peer_id == peer_id and p.state is LinkState.CONNECTED
        )

    @property
    def links_down(self) -> tuple[PeerLink, ...]:
        """Links configured towards a peer but not connected (or disabled)."""
        return tuple(
            p for p in self.peer_links if p.state in (LinkState.DISCONNECTED, LinkState.DISABLED)
        )

    @property
    def cut_off_peers(self) -> tuple[str, ...]:
        """Peers with no connected link at all (by name, else by id)."""
        ids = sorted({p.peer_id for p in self.peer_links if p.peer_id is not None})
        return tuple(self.peer_names.get(i, str(i)) for i in ids if self.connected_links(i) == 0)

    @classmethod
    def down(cls, local_node: str, reason: str, message: str) -> CorosyncState:
        return cls(local_node, False, reason, message, None, None, {}, ())


class CorosyncDown(Unreadable[CorosyncState]):
    """Corosync could not be observed; `state` is the down state (published as such)."""


@dataclass(frozen=True)
class CorosyncSettings:
    quorumtool_path: str = "corosync-quorumtool"
    cfgtool_path: str = "corosync-cfgtool"
    cmapctl_path: str = "corosync-cmapctl"
    command_timeout_seconds: float = 1.0
    nodelist_max_age_seconds: float = 60.0


def peer_links(links: CorosyncLinks, names: Mapping[int, str]) -> tuple[PeerLink, ...]:
    return tuple(
        PeerLink(link.link_id, names.get(p.nodeid) if p.nodeid else None, p.nodeid, p.state)
        for link in links.links
        for p in link.peers
        if p.state is not LinkState.LOCALHOST
    )


class CorosyncReader:
    def __init__(self, settings: CorosyncSettings, local_node: str, runner: CommandRunner) -> None:
        self.settings = settings
        self._node = local_node
        self._runner = runner
        self._nodelist: tuple[CmapNode, ...] = ()
        self._nodelist_read = float("-inf")

    def read(self) -> CorosyncState:
        """Raises `CorosyncDown` when quorum cannot be read; links that cannot be read are
        said in the state (`links_error`)."""
        links_pending = in_background(self._links, "corosync-cfgtool")
        try:
            quorum = self._quorum()
        finally:
            wait([links_pending])  # never leave a tool running past the read
        links: CorosyncLinks | None = None
        links_error: ReadError | None = None
        try:
            links = links_pending.result()
        except ReadError as exc:
            links_error = exc
        names = self._peer_names(quorum)
        return CorosyncState(
            local_node=self._node,
            up=True,
            down_reason=None,
            down_message=None,
            quorum=quorum,
            links=links,
            peer_names=names,
            peer_links=peer_links(links, names) if links is not None else (),
            links_error=(links_error.reason, str(links_error)) if links_error else None,
        )

    def _run(self, argv: list[str]) -> CommandResult:
        return self._runner.run(argv, timeout=self.settings.command_timeout_seconds)

    def _quorum(self) -> QuorumStatus:
        try:
            result = self._run([self.settings.quorumtool_path, "-p", "-s"])
        except CommandError as exc:
            raise self._down(exc.reason, str(exc)) from exc
        if not result.stdout.strip() and result.returncode not in QUORUMTOOL_OK:
            raise self._down(*_not_running(result))
        try:
            return parse_quorumtool(result.stdout.decode("utf-8", "replace"))
        except CorosyncParseError as exc:
            reason = "parse" if result.returncode in QUORUMTOOL_OK else "command"
            raise self._down(reason, f"corosync-quorumtool: {exc}") from exc

    def _down(self, reason: str, message: str) -> CorosyncDown:
        return CorosyncDown(reason, message, CorosyncState.down(self._node, reason, message))

    def _links(self) -> CorosyncLinks:
        try:
            result = self._run([self.settings.cfgtool_path, "-s"])
        except CommandError as exc:
            raise ReadError(exc.reason, str(exc)) from exc
        if not result.stdout.strip():
            raise ReadError(*_not_running(result))
        try:
            # exit 1 with a full report means "a link is faulty" (and is parsed as such)
            return parse_cfgtool_status(result.stdout.decode("utf-8", "replace"))
        except CorosyncParseError as exc:
            raise ReadError("parse", f"corosync-cfgtool: {exc}") from exc

    def _peer_names(self, quorum: QuorumStatus) -> dict[int, str]:
        """Names by node id: the configured nodelist (re-read once a minute: it changes only
        with a corosync reload), and the membership for anything the nodelist lacks."""
        now = time.monotonic()
        if now - self._nodelist_read >= self.settings.nodelist_max_age_seconds:
            self._nodelist_read = now
            try:
                result = self._run([self.settings.cmapctl_path, "nodelist.node"])
                if result.ok:
                    self._nodelist = parse_cmap_nodelist(result.stdout.decode("utf-8", "replace"))
                else:
                    log.warning("corosync-cmapctl exited %d: %s", result.returncode,
                                result.stderr_tail())  # fmt: skip
            except (CommandError, CorosyncParseError) as exc:
                log.warning("corosync nodelist unavailable (peers named from membership): %s", exc)
        names = {member.nodeid: member.name for member in quorum.members}
        names.update({n.nodeid: n.name for n in self._nodelist if n.nodeid and n.name})
        return names


def in_background(call: Callable[[], T], name: str) -> Future[T]:
    """`call` in a thread of its own; its result or exception in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:  # handed to the caller, who re-raises it
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _not_running(result: CommandResult) -> tuple[str, str]:
    """A corosync tool that printed nothing: corosync is not running here (or refuses us)."""
    tool = os.path.basename(result.argv[0]) if result.argv else "corosync tool"
    detail = result.stderr_tail() or "no output"
    if "initialize" in detail or "connect" in detail.lower():
        return "unavailable", f"{tool}: {detail} (corosync not running here, or not allowed)"
    return "command", f"{tool} exited {result.returncode}: {detail}"
