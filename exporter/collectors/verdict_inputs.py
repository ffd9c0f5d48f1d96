"""The verdict's view of the cluster, from the pacemaker, pgsql_agent and corosync collectors.

The rules read `ClusterView` / `CorosyncView` (verdict_model), never the collectors' own facts, so
how pacemaker and corosync are parsed can change without touching a rule. A collector that did
not observe its subsystem gives None: every reason that needs it is then unknown (and the
collector's failure is itself the reason `collector_failed`).
"""

from __future__ import annotations

from clusterstate.parsers.corosync import LinkState
from clusterstate.parsers.crm_mon_model import Failure
from exporter.collectors.corosync import CorosyncFacts
from exporter.collectors.pacemaker_facts import PacemakerFacts
from exporter.collectors.pgsql_agent import PgsqlAgentFacts

from .verdict_model import ClusterNode, ClusterView, CorosyncView


def cluster_view(
    pacemaker: PacemakerFacts | None, agent: PgsqlAgentFacts | None
) -> ClusterView | None:
    """Pacemaker's cluster as the rules need it; None when pacemaker was not observed."""
    if pacemaker is None or not pacemaker.up:
        return None
    views = agent.views if agent is not None and agent.views else pacemaker.agent_views
    database, vip = pacemaker.database, pacemaker.vip
    return ClusterView(
        nodes=tuple(
            ClusterNode(
                name=n.name,
                online=n.online,
                standby=n.standby or n.standby_onfail,
                unclean=n.unclean,
                maintenance=n.maintenance,
            )
            for n in pacemaker.nodes
        ),
        quorate=pacemaker.quorate,
        maintenance_mode=pacemaker.maintenance_mode,
        promoted=None if database is None else database.promoted_nodes,
        vip_nodes=None if vip is None else vip.active_nodes,
        failed_actions=tuple(_failure(f) for f in pacemaker.failed_actions),
        cli_constraints=tuple(c.id for c in pacemaker.cli_constraints),
        agent_status={v.node: v.status.value for v in views if v.status is not None},
        agent_data_status={
            v.node: v.replication_state.value for v in views if v.replication_state is not None
        },
        # The lock: only what the pgsql_agent collector checked (None: not checked).
        pgsql_lock_local=agent.lock.present if agent is not None else None,
    )


def _failure(f: Failure) -> str:
    why = f.exitreason or f.exitstatus or f"exit code {f.exitcode}"
    return f"{f.resource_id} {f.task or 'action'} on {f.node or 'unknown node'}: {why}"


def corosync_view(corosync: CorosyncFacts | None) -> CorosyncView | None:
    """Quorum and the links to each peer; a link configured but not connected (or disabled) is
    down. None when corosync was not observed; `links_down` None when its links were not."""
    if corosync is None or not corosync.up:
        return None
    links_down = None
    if corosync.links is not None:
        links_down = tuple(
            f"link {p.link} to {p.peer or p.peer_id or 'a peer'} is {p.state.value}"
            for p in corosync.peer_links
            if p.state in (LinkState.DISCONNECTED, LinkState.DISABLED)
        )
    return CorosyncView(quorate=corosync.quorate, links_down=links_down)
