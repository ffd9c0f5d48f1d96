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

from typing import ClassVar

from clusterstate.corosync import CorosyncDown, CorosyncReader, CorosyncSettings, CorosyncState
from clusterstate.tools import CommandRunner
from exporter.collectors import corosync_metrics as m
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import MetricSpec, MetricWriter
from servicekit.settings import setting


class CorosyncConfig(CollectorSettings):
    quorumtool_path: str = "/usr/sbin/corosync-quorumtool"
    cfgtool_path: str = "/usr/sbin/corosync-cfgtool"
    cmapctl_path: str = "/usr/sbin/corosync-cmapctl"
    command_timeout_seconds: float = setting(
        default=1.0, gt=0, le=20, description="Timeout of each of the (up to three) tools."
    )
    nodelist_max_age_seconds: float = setting(
        default=60.0, ge=0, le=3600, description="Re-read corosync's nodelist this often."
    )

    def problems(self) -> list[str]:
        if 3 * self.command_timeout_seconds >= self.deadline_seconds:
            return [
                f"three tools of command_timeout_seconds ({self.command_timeout_seconds:g}) "
                f"each must fit in deadline_seconds ({self.deadline_seconds:g})"
            ]
        return []

    @property
    def reader_settings(self) -> CorosyncSettings:
        return CorosyncSettings(
            quorumtool_path=self.quorumtool_path,
            cfgtool_path=self.cfgtool_path,
            cmapctl_path=self.cmapctl_path,
            command_timeout_seconds=self.command_timeout_seconds,
            nodelist_max_age_seconds=self.nodelist_max_age_seconds,
        )


class CorosyncCollector:
    name: ClassVar[str] = "corosync"
    metrics: ClassVar[tuple[MetricSpec, ...]] = m.METRICS

    def __init__(self, config: CorosyncConfig, node: str, runner: CommandRunner) -> None:
        self._node = node
        self._reader = CorosyncReader(config.reader_settings, node, runner)

    def collect(self, out: MetricWriter) -> CorosyncState:
        try:
            state = self._reader.read()
        except CorosyncDown as exc:
            out.gauge(m.UP, 0.0, node=self._node)
            raise CollectorError(exc.reason, str(exc), partial=out, facts=exc.state) from exc
        self._write(out, state)
        if state.links_error is not None:
            reason, message = state.links_error
            raise CollectorError(reason, message, partial=out, facts=state)
        return state

    def _write(self, out: MetricWriter, facts: CorosyncState) -> None:
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
