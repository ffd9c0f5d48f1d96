"""The HA verdict as a pure function: typed facts in, one finding per reason code out.

Every reason is evaluated to `holds`, `clear` or `unknown` (its inputs were not observed in this
scrape). Unknown is never OK: a collector that failed makes `collector_failed` hold. The inputs
and the result are described in `verdict_model`.
"""

from __future__ import annotations

from collections.abc import Callable

from clusterstate.model import quorum
from clusterstate.parsers.crm_mon_model import Failure, Node
from clusterstate.parsers.pgsql_ra import PgsqlStatus, ReplicationState

from . import verdict_rules_cfengine as cfe
from .verdict_model import (
    PASSIVE_AGENT_STATES,
    Finding,
    HubState,
    Status,
    Thresholds,
    Verdict,
    VerdictInputs,
)
from .verdict_primary import (
    holds_if,
    pg_down,
    pg_known,
    primary_node,
    promoted,
    streams_from_primary,
)
from .verdict_reasons import CODES


def evaluate(i: VerdictInputs, t: Thresholds) -> Verdict:
    """Pure: the facts of one scrape -> the verdict."""
    rules = {
        "database_down": _database_down,
        "replication_not_streaming": _not_streaming,
        "replication_lag": lambda i: _lag(i, t),
        "replay_paused": _replay_paused,
        "no_primary": _no_primary,
        "two_primaries": _two_primaries,
        "vip_not_on_primary": _vip,
        "pgsql_lock_on_standby": _lock,
        "node_offline": lambda i: _nodes(i, lambda n: not n.online),
        "node_standby": lambda i: _nodes(i, lambda n: n.online and n.in_standby),
        "node_unclean": lambda i: _nodes(i, lambda n: n.unclean),
        "quorum_lost": _quorum,
        "failed_actions": _failed_actions,
        "cli_constraints": _cli_constraints,
        "maintenance_mode": _maintenance,
        "hub_reports_stale": lambda i: cfe.reports_stale(i, t),
        "hub_collection_stopped": cfe.collection_stopped,
        "corosync_link_down": _links,
        "master_hub_not_primary": cfe.master_hub,
        "cfengine_ha_config": cfe.ha_config,
        "ha_cfg_invalid": cfe.ha_cfg,
        "ha_info_drift": cfe.ha_info_drift,
        "ha_inventory_mismatch": lambda i: cfe.inventory(i, t),
        "hub_keys_missing": cfe.hub_keys,
        "mission_portal_config": cfe.mission_portal_config,
        "policy_hub_marker_missing": cfe.policy_hub_marker,
        "cf_hub_on_passive": cfe.cf_hub_on_passive,
        "cf_serverd_down": cfe.cf_serverd,
        "reclone_would_not_fit": cfe.reclone,
        "collector_failed": _collectors,
    }
    assert tuple(rules) == CODES, "every reason code has exactly one rule, in order"
    findings = []
    for code, rule in rules.items():
        status, details = rule(i)
        findings.append(Finding(code, status, details))
    return Verdict(node=i.node, findings=tuple(findings), hubs=hub_states(i, t))


def _database_down(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    if pg_down(i):
        return "holds", (f"{i.node}: {i.pg.error if i.pg else 'down'}",)
    if pg_known(i):
        return "clear", ()
    return "unknown", ()


def _not_streaming(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    details: list[str] = []
    known = False
    if pg_down(i):
        known = True
        details.append(f"the database on {i.node} is down")
    elif pg_known(i) and i.pg is not None:
        known = True
        if i.pg.role == "primary":
            if not i.pg.standbys:
                details.append(f"no standby is connected to {i.node}")
            for s in i.pg.standbys:
                if s.state != "streaming":
                    details.append(f"standby {s.name} is {s.state}")
        else:
            status = i.pg.receiver.status if i.pg.receiver else "absent"
            if status != "streaming":
                details.append(f"the WAL receiver on {i.node} is {status}")
    views = [v for v in i.pacemaker.agent_views if v.replication_state] if i.pacemaker else []
    if views:
        known = True
        for v in views:
            if v.replication_state not in (ReplicationState.LATEST, ReplicationState.STREAMING):
                details.append(f"pacemaker: {v.node}'s data status is {v.replication_state}")
    if not known:
        return "unknown", ()
    return holds_if(dict.fromkeys(_with_cause(i, details)))


def _with_cause(i: VerdictInputs, details: list[str]) -> list[str]:
    """The diagnosed cause after what is wrong (the standby's hub names it)."""
    if details and i.diagnosis is not None:
        return [*details, f"cause on {i.node}: {i.diagnosis.describe()}"]
    return details


def _lag(i: VerdictInputs, t: Thresholds) -> tuple[Status, tuple[str, ...]]:
    if not pg_known(i) or i.pg is None:
        return "unknown", ()
    pg = i.pg
    details = []
    if pg.role == "primary":
        connected = [s for s in pg.standbys if s.connected]
        if not connected:
            return "unknown", ()
        for s in connected:
            lag_bytes = (s.lag_bytes or {}).get("replay")
            lag_seconds = (s.lag_seconds or {}).get("replay")
            if lag_bytes is not None and lag_bytes > t.max_lag_bytes:
                details.append(f"standby {s.name} is {_mib(lag_bytes)} behind")
            if lag_seconds is not None and lag_seconds > t.max_lag_seconds:
                details.append(f"standby {s.name} replays {lag_seconds:.0f} s late")
        return holds_if(details)
    if pg.replay_lag_seconds is None:
        return "unknown", ()  # not streaming: the lag is unknown, never 0
    if pg.replay_lag_seconds > t.max_lag_seconds:
        details.append(f"{i.node} replays {pg.replay_lag_seconds:.0f} s late")
    pending = pg.replay_pending_bytes
    if pending is not None and pending > t.max_lag_bytes:
        details.append(f"{i.node} has {_mib(pending)} received but not replayed")
    return holds_if(details)


def _replay_paused(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    if not pg_known(i) or i.pg is None:
        return "unknown", ()
    if i.pg.role == "primary":
        return "clear", ()  # a primary replays nothing
    if i.pg.replay_paused is None:
        return "unknown", ()
    return holds_if([f"replay is paused on {i.node}"] if i.pg.replay_paused else [])


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def _no_primary(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    nodes = promoted(i)
    if nodes is not None:
        if not nodes:
            return "holds", ("pacemaker has promoted no node",)
        return "clear", ()
    if pg_known(i) and i.pg is not None and (i.pg.writable or streams_from_primary(i)):
        return "clear", ()
    return "unknown", ()


def _two_primaries(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    nodes = promoted(i)
    details = []
    if nodes is not None and len(nodes) > 1:
        details.append("pacemaker promoted " + " and ".join(nodes))
    pri = i.pacemaker.agent_primaries if i.pacemaker is not None else ()
    if len(pri) > 1:
        details.append("the pgsql agent reports PRI on " + " and ".join(pri))
    local_writable = pg_known(i) and i.pg is not None and i.pg.writable
    if local_writable and nodes and i.node not in nodes:
        details.append(
            f"{i.node}'s database accepts writes while pacemaker promoted " + " and ".join(nodes)
        )
    if details:
        return "holds", tuple(details)
    if nodes is not None:
        return "clear", ()
    # Without pacemaker: in a pair, a hub that is not writable cannot be one of two writers,
    # and a primary with a standby streaming from it knows the peer is not writable.
    if pg_down(i) or (pg_known(i) and i.pg is not None and not i.pg.writable):
        return "clear", ()
    if local_writable and i.pg is not None and (i.pg.streaming_standbys or 0) > 0:
        return "clear", ()
    return "unknown", ()


def _vip(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    nodes = promoted(i)
    vip = i.pacemaker.vip if i.pacemaker is not None else None
    if vip is None or nodes is None or len(nodes) != 1:
        return "unknown", ()
    if not vip.active_nodes:
        return "holds", ("the floating IP is not running",)
    wrong = [n for n in vip.active_nodes if n != nodes[0]]
    if wrong:
        return "holds", (f"the floating IP runs on {', '.join(wrong)}, the primary is {nodes[0]}",)
    return "clear", ()


def _lock(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    if i.pacemaker is None or i.pgsql_lock_local is None:
        return "unknown", ()
    if not i.pgsql_lock_local:
        return "clear", ()
    primary = primary_node(i)
    if primary == i.node:
        return "clear", ()  # the agent keeps the lock on the primary while it runs
    if primary is None and not (promoted(i) is not None or pg_known(i) or pg_down(i)):
        return "unknown", ()
    return "holds", (f"PGSQL.lock exists on {i.node}, which is not the primary",)


# -- pacemaker and corosync --------------------------------------------------------------------
def _nodes(i: VerdictInputs, bad: Callable[[Node], bool]) -> tuple[Status, tuple[str, ...]]:
    if i.pacemaker is None or not i.pacemaker.nodes:
        return "unknown", ()
    return holds_if(n.name for n in i.pacemaker.nodes if bad(n))


def _quorum(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    """The one quorum rule (clusterstate.model.quorum) over pacemaker's and corosync's views; a
    disabled corosync collector is not a source, a failed one is an unknown source."""
    views = [i.pacemaker.quorate if i.pacemaker is not None else None]
    if i.corosync is not None:
        views.append(i.corosync.quorate)
    quorate = quorum(*views)
    if quorate is None:
        return "unknown", ()
    if not quorate:
        return "holds", (f"{i.node}'s partition has no quorum",)
    return "clear", ()


def _failed_actions(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    if i.pacemaker is None:
        return "unknown", ()
    return holds_if(_failure(f) for f in i.pacemaker.failed_actions)


def _failure(f: Failure) -> str:
    why = f.exitreason or f.exitstatus or f"exit code {f.exitcode}"
    return f"{f.resource_id} {f.task or 'action'} on {f.node or 'unknown node'}: {why}"


def _cli_constraints(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    if i.pacemaker is None:
        return "unknown", ()
    return holds_if(c.id for c in i.pacemaker.cli_constraints)


def _maintenance(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    p = i.pacemaker
    if p is None or p.maintenance_mode is None:
        return "unknown", ()
    details = ["maintenance-mode is set"] if p.maintenance_mode else []
    details += [f"node {n.name} is in maintenance" for n in p.nodes if n.maintenance]
    return holds_if(details)


def _links(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    c = i.corosync
    if c is None or not c.up or c.links is None:
        return "unknown", ()
    return holds_if(
        f"link {p.link} to {p.peer or p.peer_id or 'a peer'} is {p.state.value}"
        for p in c.links_down
    )


def _collectors(i: VerdictInputs) -> tuple[Status, tuple[str, ...]]:
    return holds_if(f"{c.name}: {c.reason}: {c.message}" for c in i.collectors if not c.ok)


# -- roles -------------------------------------------------------------------------------------
def hub_states(i: VerdictInputs, t: Thresholds) -> tuple[HubState, ...]:
    """Every HA hub this hub knows of, with its role and its "state as of"."""
    members = {m.name: m for m in (i.hub.members if i.hub else None) or () if m.is_in_cluster}
    names = list(members)
    for n in i.pacemaker.nodes if i.pacemaker else ():
        if n.name not in names:
            names.append(n.name)
    if i.node not in names:
        names.insert(0, i.node)
    states = []
    for name in sorted(names, key=lambda n: (n != i.node, n)):
        member = members.get(name)
        states.append(
            HubState(
                node=name,
                role=_role(i, name),
                local=name == i.node,
                ip=member.ip if member else cfe.ip_of(i, name),
                state_as_of=member.last_report_time if member else None,
                stale=_member_stale(i, t, member.last_report_time) if member else None,
            )
        )
    return tuple(states)


def _member_stale(i: VerdictInputs, t: Thresholds, last: float | None) -> bool | None:
    """Mission Portal's "state as of" is stale: older than the limit by the database's clock."""
    limit = cfe.stale_limit(i, t)
    if i.hub is None or i.hub.now is None or limit is None:
        return None
    return last is None or i.hub.now - last > limit


def _role(i: VerdictInputs, name: str) -> str:
    views = [v for v in i.pacemaker.agent_views if v.status] if i.pacemaker else []
    if views:
        status = next((v.status for v in views if v.node == name), None)
        if status is PgsqlStatus.PRI:
            return "active"
        return "passive" if status in PASSIVE_AGENT_STATES else "unknown"
    if not pg_known(i) or i.pg is None:
        return "unknown"
    pg = i.pg
    if name == i.node:
        return "active" if pg.role == "primary" else "passive"
    if pg.role == "primary":
        streaming = any(s.name == name and s.state == "streaming" for s in pg.standbys)
        return "passive" if streaming else "unknown"
    return "active" if streams_from_primary(i) else "unknown"
