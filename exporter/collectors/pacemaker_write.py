"""Writes a `PacemakerState` as the `cfha_pacemaker_*` series (declarations: pacemaker_metrics)."""

from __future__ import annotations

from collections.abc import Iterable

from clusterstate.pacemaker_state import PacemakerState, ResourcePlacement, node_roles
from clusterstate.parsers.crm_mon import ClusterStatus
from clusterstate.parsers.crm_mon_model import Clone, Node, ResourceInstance
from clusterstate.parsers.pcmk_values import ConstraintKind, Role
from exporter.collectors import pacemaker_metrics as m
from servicekit.metrics import MetricSpec, MetricWriter

_TARGET_ROLES = {
    Role.STOPPED: "stopped",
    Role.STARTED: "started",
    Role.UNPROMOTED: "unpromoted",
    Role.PROMOTED: "promoted",
}


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def write_local(out: MetricWriter, facts: PacemakerState) -> None:
    """The series about this hub itself; written whether or not pacemaker answered."""
    node = facts.local_node
    out.gauge(m.UP, float(facts.up), node=node)
    out.gauge(m.LOCAL_IS_DC, float(facts.local_is_dc), node=node)
    if facts.pacemakerd_state is not None:
        out.state(m.PACEMAKERD_STATE, facts.pacemakerd_state.value, node=node)


def write_state(out: MetricWriter, facts: PacemakerState, now: float) -> None:
    """Every series of a successful crm_mon read."""
    write_local(out, facts)
    status = facts.status
    if status is None:
        return
    _summary(out, facts, status, now)
    nodes = _node_names(status)
    _nodes(out, status.nodes)
    _resources(out, status, nodes)
    if facts.database is not None and facts.database.configured:
        _placement(out, m.DATABASE_PROMOTED, facts.database, facts.database.promoted_nodes, nodes)
        out.gauge(m.DATABASE_PROMOTED_AT, facts.last_promotion, resource=facts.database.resource)
    if facts.vip is not None and facts.vip.configured:
        _placement(out, m.VIP_ACTIVE, facts.vip, facts.vip.active_nodes, nodes)
    _history(out, status)
    _failures(out, facts)
    _constraints(out, facts)
    _fencing(out, status, nodes)
    for ticket in status.tickets:
        out.gauge(m.TICKET_GRANTED, float(ticket.granted), ticket=ticket.id)


def _summary(out: MetricWriter, facts: PacemakerState, status: ClusterStatus, now: float) -> None:
    summary = status.summary
    if summary is None:
        return
    dc = summary.dc
    if dc is not None:
        out.gauge(m.DC_PRESENT, float(dc.present))
        out.gauge(m.QUORATE, _flag(facts.quorate))
        if dc.present and dc.version:
            out.info(m.VERSION_INFO, version=dc.version)
    out.gauge(m.LAST_CHANGE, summary.last_change)
    out.gauge(m.CONFIG_DIGEST, facts.config_digest)
    if facts.cib_read_at is not None:
        out.gauge(m.CIB_AGE, max(0.0, now - facts.cib_read_at))
    out.gauge(m.CONFIGURED_NODES, summary.nodes_configured)
    out.gauge(m.CONFIGURED_RESOURCES, summary.resources_configured)
    out.gauge(m.DISABLED_RESOURCES, summary.resources_disabled)
    out.gauge(m.BLOCKED_RESOURCES, summary.resources_blocked)
    options = summary.options
    if options is None:
        return
    out.gauge(m.FENCING_ENABLED, _flag(options.fencing_enabled))
    out.gauge(m.MAINTENANCE_MODE, _flag(options.maintenance_mode))
    out.gauge(m.STOP_ALL, _flag(options.stop_all_resources))
    out.gauge(m.SYMMETRIC, _flag(options.symmetric_cluster))
    if options.no_quorum_policy is not None:
        out.state(m.NO_QUORUM_POLICY, options.no_quorum_policy.value)
    out.gauge(m.FENCING_TIMEOUT, options.fencing_timeout_seconds)
    out.gauge(m.PRIORITY_FENCING_DELAY, options.priority_fencing_delay_seconds)


def _node_names(status: ClusterStatus) -> tuple[str, ...]:
    """Cluster nodes in crm_mon's order, plus any node an instance names that is not listed."""
    names = [node.name for node in status.nodes]
    for instance in status.instances:
        names.extend(n for n in instance.primitive.nodes if n not in names)
    return tuple(names)


def _node_flags(node: Node) -> Iterable[str]:
    values = (node.online, node.standby, node.standby_onfail, node.maintenance, node.pending,
              node.unclean, node.shutdown, node.expected_up, node.is_dc)  # fmt: skip
    return (flag for flag, on in zip(m.NODE_FLAGS, values, strict=True) if on)


def _nodes(out: MetricWriter, nodes: Iterable[Node]) -> None:
    for node in nodes:
        out.flags(m.NODE_STATE, _node_flags(node), node=node.name)
        out.state(m.NODE_TYPE, node.type.value, node=node.name)
        if node.health is not None:
            out.state(m.NODE_HEALTH, node.health.value, node=node.name)
        out.gauge(m.NODE_RESOURCES, node.resources_running, node=node.name)
        if node.id is not None:
            out.info(m.NODE_INFO, node=node.name, id=node.id)


def _by_primitive(status: ClusterStatus) -> dict[str, list[ResourceInstance]]:
    grouped: dict[str, list[ResourceInstance]] = {}
    for instance in status.instances:
        grouped.setdefault(instance.resource_id, []).append(instance)
    return grouped


def _resources(out: MetricWriter, status: ClusterStatus, nodes: tuple[str, ...]) -> None:
    promotable = {r.id for r in status.resources if isinstance(r, Clone) and r.promotable}
    for resource, instances in _by_primitive(status).items():
        first = instances[0]
        out.info(
            m.RESOURCE_INFO,
            resource=resource,
            agent=first.primitive.agent,
            clone=first.clone_id or "",
            group=first.group_id or "",
            bundle=first.bundle_id or "",
            promotable="true" if first.clone_id in promotable else "false",
        )
        roles = dict(node_roles([i.primitive for i in instances]))
        for node in nodes:
            out.state(m.ROLE, roles.get(node, Role.STOPPED).value, resource=resource, node=node)
        target = next((i.primitive.target_role for i in instances if i.primitive.target_role), None)
        target_state = "unset" if target is None else _TARGET_ROLES.get(target, "other")
        out.state(m.TARGET_ROLE, target_state, resource=resource)
        primitives = [i.primitive for i in instances]
        out.flags(
            m.RESOURCE_STATUS,
            (
                flag
                for flag, on in (
                    ("managed", all(p.managed for p in primitives)),
                    ("failed", any(p.failed for p in primitives)),
                    ("blocked", any(p.blocked for p in primitives)),
                    ("failure_ignored", any(p.failure_ignored for p in primitives)),
                    ("removed", any(p.removed for p in primitives)),
                    ("multi_active", any(p.multi_active for p in primitives)),
                    ("pending", any(p.pending for p in primitives)),
                )
                if on
            ),
            resource=resource,
        )
        active = {n for p in primitives if p.active for n in p.nodes}
        out.gauge(m.ACTIVE_NODES, len(active), resource=resource)


def _placement(
    out: MetricWriter,
    spec: MetricSpec,
    watched: ResourcePlacement,
    on: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    for node in nodes:
        out.gauge(spec, float(node in on), node=node, resource=watched.resource)


def _history(out: MetricWriter, status: ClusterStatus) -> None:
    for entry in status.history:
        labels = {"resource": entry.resource_id, "node": entry.node}
        out.gauge(m.FAIL_COUNT, entry.fail_count, **labels)
        out.gauge(m.MIGRATION_THRESHOLD, entry.migration_threshold, **labels)
        out.gauge(m.LAST_FAILURE, entry.last_failure, **labels)
        monitor = entry.last_monitor
        if monitor is not None:
            out.gauge(m.MONITOR_RC, monitor.rc, **labels)
            out.gauge(m.MONITOR_DURATION, monitor.exec_time_seconds, **labels)
            out.gauge(m.MONITOR_INTERVAL, monitor.interval_seconds, **labels)


def _failures(out: MetricWriter, facts: PacemakerState) -> None:
    out.gauge(m.FAILED_ACTIONS, len(facts.failed_actions))
    for failure in facts.failed_actions:
        labels = {
            "resource": failure.resource_id,
            "node": failure.node or "",
            "operation": failure.task or "",
            "interval": "" if failure.interval_seconds is None else f"{failure.interval_seconds:g}",
        }
        out.gauge(m.FAILED_ACTION, failure.exitcode, **labels)
        out.gauge(m.FAILED_ACTION_TIME, failure.last_rc_change, **labels)


def _constraints(out: MetricWriter, facts: PacemakerState) -> None:
    counts = dict.fromkeys((ConstraintKind.CLI_BAN, ConstraintKind.CLI_PREFER), 0)
    for constraint in facts.location_constraints:
        kind = constraint.kind
        if kind in counts:
            counts[kind] += 1
        out.gauge(m.LOCATION_EXPIRY, constraint.expires_at, constraint=constraint.id)
        if constraint.score is None:  # score-attribute rules: the score is per node, not fixed
            continue
        for resource in constraint.resources or (constraint.resource_pattern or "",):
            out.gauge(
                m.LOCATION_SCORE,
                constraint.score,
                constraint=constraint.id,
                resource=resource,
                node=constraint.node or "",
                role=constraint.role.value if constraint.role else "",
                kind=kind.value,
            )
    for cli_kind, count in counts.items():
        out.gauge(m.CLI_CONSTRAINTS, count, kind=cli_kind.value)


def _fencing(out: MetricWriter, status: ClusterStatus, nodes: tuple[str, ...]) -> None:
    counts = {(node, s): 0 for node in nodes for s in m.FENCE_STATUSES}
    last: dict[tuple[str, str], float] = {}
    for event in status.fence_events:
        key = (event.target, event.status.value)
        counts[key] = counts.get(key, 0) + 1
        if event.completed is not None:
            last[key] = max(last.get(key, event.completed), event.completed)
    for (target, status_name), count in counts.items():
        out.gauge(m.FENCING_ACTIONS, count, target=target, status=status_name)
    for (target, status_name), when in last.items():
        out.gauge(m.FENCING_LAST, when, target=target, status=status_name)
