"""Section readers of ``crm_mon`` XML: summary, nodes, resources, history, fencing, bans, tickets.

Each takes the section element (or ``None`` when crm_mon left it out) and returns model objects.
Unknown child elements are skipped so newer pacemaker releases still parse.
"""

from __future__ import annotations

from lxml import etree

from clusterstate.parsers.crm_mon_model import (
    Ban,
    ClusterOptions,
    ClusterSummary,
    CurrentDc,
    FenceEvent,
    FenceStatus,
    Node,
    NodeHealth,
    NodeType,
    NoQuorumPolicy,
    Operation,
    PacemakerdState,
    ResourceHistory,
    Ticket,
)
from clusterstate.parsers.xml_reader import Attrs, XmlReader


def _child(reader: XmlReader, parent: etree._Element, tag: str) -> etree._Element | None:
    return next(reader.elements(parent, tag), None)


def summary(
    reader: XmlReader, element: etree._Element, pacemakerd: etree._Element | None
) -> ClusterSummary:
    """The ``<summary>`` section; ``pacemakerd`` is 2.1.5's top-level health element, if any."""
    stack = _child(reader, element, "stack")
    dc = _child(reader, element, "current_dc")
    last_update = _child(reader, element, "last_update")
    last_change = _child(reader, element, "last_change")
    nodes_configured = _child(reader, element, "nodes_configured")
    resources_configured = _child(reader, element, "resources_configured")
    options = _child(reader, element, "cluster_options")

    stack_attrs = _attrs(reader, stack)
    change = _attrs(reader, last_change)
    counts = _attrs(reader, resources_configured)
    pacemakerd_state = stack_attrs.opt("pacemakerd-state")
    if pacemakerd_state is None:
        pacemakerd_state = _attrs(reader, pacemakerd).opt("state")
    return ClusterSummary(
        stack=stack_attrs.opt("type"),
        pacemakerd_state=pacemakerd_state_of(pacemakerd_state),
        dc=_current_dc(reader.attrs(dc)) if dc is not None else None,
        last_update=_attrs(reader, last_update).opt_time("time"),
        last_change=change.opt_time("time"),
        last_change_user=change.opt("user"),
        last_change_client=change.opt("client"),
        last_change_origin=change.opt("origin"),
        nodes_configured=_attrs(reader, nodes_configured).opt_int("number"),
        resources_configured=counts.opt_int("number"),
        resources_disabled=counts.opt_int("disabled"),
        resources_blocked=counts.opt_int("blocked"),
        options=_cluster_options(reader.attrs(options)) if options is not None else None,
    )


_EMPTY = etree.Element("empty")


def _attrs(reader: XmlReader, element: etree._Element | None) -> Attrs:
    """Attributes of an optional element (none at all when it is absent)."""
    return reader.attrs(_EMPTY if element is None else element)


def pacemakerd_state_of(text: str | None) -> PacemakerdState | None:
    """The launcher's state; ``None`` when crm_mon did not report it (offline CIB)."""
    if text is None:
        return None
    try:
        return PacemakerdState(text.strip().lower())
    except ValueError:
        return PacemakerdState.OTHER


def _current_dc(a: Attrs) -> CurrentDc:
    present = a.flag("present")
    return CurrentDc(
        present=present,
        name=a.opt("name"),
        id=a.opt("id"),
        version=a.opt("version"),
        with_quorum=a.opt_bool("with_quorum") if present else None,
        mixed_version=a.opt_bool("mixed_version"),
    )


def _cluster_options(a: Attrs) -> ClusterOptions:
    fencing = a.opt_bool("fencing-enabled")
    if fencing is None:
        fencing = a.opt_bool("stonith-enabled")
    timeout_ms = a.opt_int("fencing-timeout-ms")
    if timeout_ms is None:
        timeout_ms = a.opt_int("stonith-timeout-ms")
    delay_ms = a.opt_int("priority-fencing-delay-ms")
    policy = a.opt("no-quorum-policy")
    return ClusterOptions(
        fencing_enabled=fencing,
        symmetric_cluster=a.opt_bool("symmetric-cluster"),
        no_quorum_policy=_no_quorum_policy(a, policy) if policy else None,
        maintenance_mode=a.opt_bool("maintenance-mode"),
        stop_all_resources=a.opt_bool("stop-all-resources"),
        fencing_timeout_seconds=timeout_ms / 1000.0 if timeout_ms is not None else None,
        priority_fencing_delay_seconds=delay_ms / 1000.0 if delay_ms is not None else None,
    )


def _no_quorum_policy(a: Attrs, text: str) -> NoQuorumPolicy:
    lowered = text.lower()
    if lowered == "suicide":  # the pre-3.0 name of "fence"
        return NoQuorumPolicy.FENCE
    try:
        return NoQuorumPolicy(lowered)
    except ValueError:
        raise a.fail(f"unknown no-quorum-policy {text!r}") from None


def nodes(reader: XmlReader, element: etree._Element | None) -> tuple[Node, ...]:
    """The ``<nodes>`` section (resources listed under nodes by --group-by-node are skipped)."""
    if element is None:
        return ()
    return tuple(_node(reader, node) for node in reader.elements(element, "node"))


def _node(reader: XmlReader, element: etree._Element) -> Node:
    a = reader.attrs(element)
    node_type = a.opt("type")
    health = a.opt("health")
    try:
        parsed_type = NodeType(node_type) if node_type else NodeType.UNKNOWN
        parsed_health = NodeHealth(health) if health else None
    except ValueError as exc:
        raise a.fail(str(exc)) from None
    return Node(
        name=a.req("name"),
        id=a.opt("id"),
        type=parsed_type,
        online=a.flag("online"),
        standby=a.flag("standby"),
        standby_onfail=a.flag("standby_onfail"),
        maintenance=a.flag("maintenance"),
        pending=a.flag("pending"),
        unclean=a.flag("unclean"),
        shutdown=a.flag("shutdown"),
        expected_up=a.flag("expected_up"),
        is_dc=a.flag("is_dc"),
        resources_running=a.opt_int("resources_running"),
        health=parsed_health,
        feature_set=a.opt("feature_set"),
        id_as_resource=a.opt("id_as_resource"),
    )


def history(reader: XmlReader, element: etree._Element | None) -> tuple[ResourceHistory, ...]:
    """The ``<node_history>`` section: fail counts, thresholds and operation results."""
    if element is None:
        return ()
    result: list[ResourceHistory] = []
    for node in reader.elements(element, "node"):
        node_name = reader.attrs(node).req("name")
        for rsc_element in reader.elements(node, "resource_history"):
            rsc = reader.attrs(rsc_element)
            removed = rsc.opt_bool("removed")
            if removed is None:
                removed = rsc.flag("orphan")
            fail_count = rsc.opt_score("fail-count")
            result.append(
                ResourceHistory(
                    node=node_name,
                    resource_id=rsc.req("id"),
                    removed=removed,
                    migration_threshold=rsc.opt_score("migration-threshold"),
                    fail_count=0.0 if fail_count is None else fail_count,
                    last_failure=rsc.opt_time("last-failure"),
                    operations=tuple(
                        _operation(reader, op)
                        for op in reader.elements(rsc_element, "operation_history")
                    ),
                )
            )
    return tuple(result)


def _operation(reader: XmlReader, element: etree._Element) -> Operation:
    a = reader.attrs(element)
    interval = a.opt_ms("interval")
    return Operation(
        call=a.opt_int("call"),
        task=a.req("task"),
        interval_seconds=0.0 if interval is None else interval,
        rc=a.req_int("rc"),
        rc_text=a.opt("rc_text"),
        last_rc_change=a.opt_time("last-rc-change"),
        last_run=a.opt_time("last-run"),
        exec_time_seconds=a.opt_ms("exec-time"),
        queue_time_seconds=a.opt_ms("queue-time"),
    )


_FENCE_STATUS = {
    "success": FenceStatus.SUCCESS,
    "done": FenceStatus.SUCCESS,  # legacy crm_mon -X of pacemaker 2.0
    "failed": FenceStatus.FAILED,
    "pending": FenceStatus.PENDING,
}


def fence_events(reader: XmlReader, element: etree._Element | None) -> tuple[FenceEvent, ...]:
    """The ``<fence_history>`` section (legacy output says ``state``, early 2.0 ``done``)."""
    if element is None:
        return ()
    result: list[FenceEvent] = []
    for event_element in reader.elements(element):
        if event_element.tag not in ("fence_event", "stonith-event"):  # early 2.0: stonith-event
            continue
        event = reader.attrs(event_element)
        status_text = event.opt("status") or event.req("state")
        status = _FENCE_STATUS.get(status_text.lower())
        extended = event.opt("extended-status")
        if status is None:
            # old releases printed the numeric state of an unfinished action
            status, extended = FenceStatus.PENDING, status_text
        result.append(
            FenceEvent(
                target=event.req("target"),
                action=event.req("action"),
                status=status,
                extended_status=extended,
                exit_reason=event.opt("exit-reason"),
                delegate=event.opt("delegate"),
                client=event.opt("client"),
                origin=event.opt("origin"),
                completed=event.opt_time("completed"),
            )
        )
    return tuple(result)


def bans(reader: XmlReader, element: etree._Element | None) -> tuple[Ban, ...]:
    """The ``<bans>`` section (``promoted-only``, or the deprecated ``master_only``)."""
    if element is None:
        return ()
    result: list[Ban] = []
    for ban_element in reader.elements(element, "ban"):
        ban = reader.attrs(ban_element)
        promoted_only = ban.opt_bool("promoted-only")
        if promoted_only is None:
            promoted_only = ban.flag("master_only")
        weight = ban.opt_score("weight")
        if weight is None:
            raise ban.fail("missing attribute 'weight'")
        result.append(
            Ban(
                id=ban.req("id"),
                resource=ban.req("resource"),
                node=ban.req("node"),
                weight=weight,
                promoted_only=promoted_only,
            )
        )
    return tuple(result)


def tickets(reader: XmlReader, element: etree._Element | None) -> tuple[Ticket, ...]:
    """The ``<tickets>`` section."""
    if element is None:
        return ()
    result: list[Ticket] = []
    for ticket_element in reader.elements(element, "ticket"):
        ticket = reader.attrs(ticket_element)
        result.append(
            Ticket(
                id=ticket.req("id"),
                granted=ticket.req("status").lower() == "granted",
                standby=ticket.flag("standby"),
                last_granted=ticket.opt_time("last-granted"),
            )
        )
    return tuple(result)
