"""Corosync membership, quorum and knet links as this hub sees them.

Three tools per scrape at most: `corosync-quorumtool -p -s` (quorum, flags, votes, members) and,
at the same time, `corosync-cfgtool -s` (each knet link's state towards each peer, the corosync 3
format that ha_cluster_exporter never parsed); and, at most once a minute, `corosync-cmapctl
nodelist.node` (the configured nodes, to name a peer that is down). Example output on hub1 with
link 1 cut (`cluster` left out of the long line)::

    cfha_corosync_up{cluster="cfcluster",node="hub1"} 1.0
    cfha_corosync_quorate{cluster="cfcluster",node="hub1"} 1.0
    cfha_corosync_quorum_flags{cluster="cfcluster",node="hub1",state="2Node"} 1.0
    cfha_corosync_link_state{link="1",node="hub1",peer="hub2",peer_id="2",state="disconnected"} 1.0
    cfha_corosync_peer_connected_links{cluster="cfcluster",node="hub1",peer="hub2",peer_id="2"} 1.0
    cfha_corosync_faulty_links{cluster="cfcluster",node="hub1"} 1.0

Where corosync is not running: `cfha_corosync_up 0` and the reason `unavailable`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from pydantic import Field, model_validator

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
from exporter.collectors import corosync_metrics as m
from exporter.scrape import CollectorError
from servicekit.config import CollectorSettings
from servicekit.metrics import MetricSpec, MetricWriter

log = logging.getLogger(__name__)
T = TypeVar("T")

# corosync-quorumtool exits 2 when the partition is not quorate: a state, not a failure.
_QUORUMTOOL_OK = (0, 2)


class CorosyncConfig(CollectorSettings):
    quorumtool_path: str = "/usr/sbin/corosync-quorumtool"
    cfgtool_path: str = "/usr/sbin/corosync-cfgtool"
    cmapctl_path: str = "/usr/sbin/corosync-cmapctl"
    command_timeout_seconds: float = Field(
        default=1.0, gt=0, le=20, description="Timeout of each of the (up to three) tools."
    )
    nodelist_max_age_seconds: float = Field(
        default=60.0, ge=0, le=3600, description="Re-read corosync's nodelist this often."
    )

    @model_validator(mode="after")
    def _timeouts_fit(self) -> CorosyncConfig:
        if 3 * self.command_timeout_seconds >= self.deadline_seconds:
            raise ValueError(
                f"three tools of command_timeout_seconds ({self.command_timeout_seconds:g}) "
                f"each must fit in deadline_seconds ({self.deadline_seconds:g})"
            )
        return self


@dataclass(frozen=True, slots=True)
class PeerLink:
    """One link's state towards one peer (the local node itself is left out)."""

    link: int
    peer: str | None
    """The peer's name in the nodelist (None when corosync did not say)."""
    peer_id: int | None
    state: LinkState


@dataclass(frozen=True, slots=True)
class CorosyncFacts:
    """What the `corosync` collector observed in one scrape (None/empty = unknown)."""

    local_node: str
    up: bool
    down_reason: str | None
    down_message: str | None
    quorum: QuorumStatus | None
    links: CorosyncLinks | None
    """None when corosync-cfgtool failed although quorum was read."""
    peer_names: Mapping[int, str]
    """Node id -> name, from the configured nodelist and the current membership."""
    peer_links: tuple[PeerLink, ...]

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
    def cut_off_peers(self) -> tuple[str, ...]:
        """Peers with no connected link at all (by name, else by id)."""
        ids = sorted({p.peer_id for p in self.peer_links if p.peer_id is not None})
        return tuple(self.peer_names.get(i, str(i)) for i in ids if self.connected_links(i) == 0)


def peer_links(links: CorosyncLinks, names: Mapping[int, str]) -> tuple[PeerLink, ...]:
    return tuple(
        PeerLink(link.link_id, names.get(p.nodeid) if p.nodeid else None, p.nodeid, p.state)
        for link in links.links
        for p in link.peers
        if p.state is not LinkState.LOCALHOST
    )


class CorosyncCollector:
    name: ClassVar[str] = "corosync"
    metrics: ClassVar[tuple[MetricSpec, ...]] = m.METRICS

    def __init__(self, config: CorosyncConfig, node: str, runner: CommandRunner) -> None:
        self._config = config
        self._node = node
        self._runner = runner
        self._nodelist: tuple[CmapNode, ...] = ()
        self._nodelist_read = float("-inf")

    def collect(self, out: MetricWriter) -> CorosyncFacts:
        # The two tools are independent and each takes ~10-15 ms: run them side by side, since
        # this collector is the scrape's critical path (docs/benchmarks.md).
        links_pending = in_background(self._links, "corosync-cfgtool")
        try:
            quorum = self._quorum(out)
        finally:
            wait([links_pending])  # never leave a tool running past the collection
        links: CorosyncLinks | None = None
        links_error: CollectorError | None = None
        try:
            links = links_pending.result()
        except CollectorError as exc:
            links_error = exc
        names = self._peer_names(quorum)
        facts = CorosyncFacts(
            local_node=self._node,
            up=True,
            down_reason=None,
            down_message=None,
            quorum=quorum,
            links=links,
            peer_names=names,
            peer_links=peer_links(links, names) if links is not None else (),
        )
        self._write(out, facts)
        if links_error is not None:
            raise CollectorError(
                links_error.reason, str(links_error), partial=out, facts=facts
            ) from links_error
        return facts

    def _run(self, argv: list[str]) -> CommandResult:
        return self._runner.run(argv, timeout=self._config.command_timeout_seconds)

    def _quorum(self, out: MetricWriter) -> QuorumStatus:
        argv = [self._config.quorumtool_path, "-p", "-s"]
        try:
            result = self._run(argv)
        except CommandError as exc:
            raise self._down(out, exc.reason, str(exc)) from exc
        if not result.stdout.strip() and result.returncode not in _QUORUMTOOL_OK:
            raise self._down(out, *_not_running(result))
        try:
            return parse_quorumtool(result.stdout.decode("utf-8", "replace"))
        except CorosyncParseError as exc:
            reason = "parse" if result.returncode in _QUORUMTOOL_OK else "command"
            raise self._down(out, reason, f"corosync-quorumtool: {exc}") from exc

    def _down(self, out: MetricWriter, reason: str, message: str) -> CollectorError:
        facts = CorosyncFacts(self._node, False, reason, message, None, None, {}, ())
        out.gauge(m.UP, 0.0, node=self._node)
        return CollectorError(reason, message, partial=out, facts=facts)

    def _links(self) -> CorosyncLinks:
        try:
            result = self._run([self._config.cfgtool_path, "-s"])
        except CommandError as exc:
            raise CollectorError(exc.reason, str(exc)) from exc
        if not result.stdout.strip():
            raise CollectorError(*_not_running(result))
        try:
            # exit 1 with a full report means "a link is faulty" (and is parsed as such)
            return parse_cfgtool_status(result.stdout.decode("utf-8", "replace"))
        except CorosyncParseError as exc:
            raise CollectorError("parse", f"corosync-cfgtool: {exc}") from exc

    def _peer_names(self, quorum: QuorumStatus) -> dict[int, str]:
        """Names by node id: the configured nodelist (re-read once a minute: it changes only
        with a corosync reload), and the membership for anything the nodelist lacks."""
        now = time.monotonic()
        if now - self._nodelist_read >= self._config.nodelist_max_age_seconds:
            self._nodelist_read = now
            try:
                result = self._run([self._config.cmapctl_path, "nodelist.node"])
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

    def _write(self, out: MetricWriter, facts: CorosyncFacts) -> None:
        node = self._node
        out.gauge(m.UP, 1.0, node=node)
        quorum = facts.quorum
        assert quorum is not None
        if quorum.quorate is not None:
            out.gauge(m.QUORATE, float(quorum.quorate), node=node)
        out.flags(m.QUORUM_FLAGS, (f.value for f in quorum.flags), node=node)
        out.gauge(m.EXPECTED_VOTES, quorum.expected_votes, node=node)
        out.gauge(m.HIGHEST_EXPECTED, quorum.highest_expected, node=node)
        out.gauge(m.TOTAL_VOTES, quorum.total_votes, node=node)
        out.gauge(m.QUORUM_VOTES, quorum.quorum, node=node)
        out.gauge(m.ACTIVITY_BLOCKED, float(quorum.activity_blocked), node=node)
        out.gauge(m.MEMBERS, len(quorum.members), node=node)
        out.gauge(m.NODE_ID, quorum.node_id, node=node)
        if quorum.qdevice is not None:
            out.gauge(m.QDEVICE_VOTES, quorum.qdevice.votes, node=node)
        members = {member.nodeid: member for member in quorum.members}
        for nodeid in sorted(set(facts.peer_names) | set(members)):
            labels = {
                "node": node,
                "peer": facts.peer_names.get(nodeid, ""),
                "peer_id": str(nodeid),
            }
            out.gauge(m.PEER_MEMBER, float(nodeid in members), **labels)
            if nodeid in members:
                out.gauge(m.MEMBER_VOTES, members[nodeid].votes, **labels)
        if facts.links is None:
            return
        out.gauge(m.FAULTY_LINKS, facts.links.faulty_links, node=node)
        for link in facts.links.links:
            out.gauge(m.LINK_FAULTY, float(link.faulty), node=node, link=str(link.link_id))
            out.info(
                m.LINK_INFO,
                node=node,
                link=str(link.link_id),
                transport=link.transport or facts.links.transport or "",
                address=link.address or "",
            )
        peer_ids = sorted({p.peer_id for p in facts.peer_links if p.peer_id is not None})
        for p in facts.peer_links:
            out.state(
                m.LINK_STATE,
                p.state.value,
                node=node,
                link=str(p.link),
                peer=p.peer or "",
                peer_id="" if p.peer_id is None else str(p.peer_id),
            )
        for peer_id in peer_ids:
            out.gauge(
                m.PEER_CONNECTED_LINKS,
                facts.connected_links(peer_id),
                node=node,
                peer=facts.peer_names.get(peer_id, ""),
                peer_id=str(peer_id),
            )


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
