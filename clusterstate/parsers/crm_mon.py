"""Pure parser for ``crm_mon --output-as=xml`` (and the legacy ``crm_mon --as-xml`` / ``-X``).

``parse_crm_mon(xml, local_tz=...)`` turns one document into a ``ClusterStatus``
(see ``crm_mon_model``). Anything malformed raises ``CrmMonParseError``; a document that says
the cluster is not reachable raises its subclass ``ClusterUnavailableError``. Nothing else is
ever raised, so a collector can map these two to the reasons ``parse`` and ``unavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Final

from lxml import etree

from clusterstate.parsers import crm_mon_resources
from clusterstate.parsers import crm_mon_sections as sections
from clusterstate.parsers.crm_mon_model import (
    Ban,
    ClusterSummary,
    Failure,
    FenceEvent,
    Node,
    NodeAttributes,
    Resource,
    ResourceHistory,
    ResourceInstance,
    ResultStatus,
    Ticket,
)
from clusterstate.parsers.pcmk_values import Role, is_cli_constraint
from clusterstate.parsers.xml_reader import XmlReader, XmlShapeError, parse_hardened_xml

__all__ = [
    "CRM_MON_ARGV",
    "ClusterStatus",
    "ClusterUnavailableError",
    "CrmMonParseError",
    "is_cli_constraint",
    "parse_crm_mon",
    "resource_of_op_key",
]

# One crm_mon call per scrape. XML output includes every section by default (2.1.5 checked),
# but the sections are named, after "none", so that the output is exactly this list whatever a
# release's default, and so that this list documents what the exporter reads:
#   summary      stack, DC (+ quorum), last update/change, node and resource counts
#   options      fencing/stonith-enabled, maintenance-mode, stop-all-resources, no-quorum-policy
#   nodes        per-node state flags      resources   tree with role per node (-r: inactive too)
#   attributes   node attributes (pgsql agent's state)
#   failcounts   fail-count / migration-threshold per node and resource
#   operations   last result and exec time of every operation (monitor rc and duration)
#   failures     failed actions            fencing   failed, pending and successful fencing
#   tickets      multi-site tickets        bans      negative location constraints (cli-ban-*)
# Run with LANG=C LC_ALL=C and a hard timeout; CIB_file in the environment makes it offline.
CRM_MON_ARGV: Final[tuple[str, ...]] = (
    "crm_mon",
    "--one-shot",
    "--inactive",
    "--output-as=xml",
    "--include=none,summary,options,nodes,resources,attributes,failcounts,operations,"
    "failures,fencing,tickets,bans",
)


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """One crm_mon document. Sections crm_mon left out are empty; ``sections`` says which
    element names were present, so "no failures" can be told from "failures not requested"."""

    api_version: str | None
    request: str | None
    legacy: bool
    """Parsed from the deprecated ``crm_mon -X`` (root ``<crm_mon>``)."""
    sections: frozenset[str]
    summary: ClusterSummary | None
    nodes: tuple[Node, ...]
    resources: tuple[Resource, ...]
    instances: tuple[ResourceInstance, ...]
    """Every primitive instance of ``resources``, flattened with its parents."""
    node_attributes: NodeAttributes
    history: tuple[ResourceHistory, ...]
    failures: tuple[Failure, ...]
    fence_events: tuple[FenceEvent, ...]
    bans: tuple[Ban, ...]
    tickets: tuple[Ticket, ...]
    result: ResultStatus | None

    def node(self, name: str) -> Node | None:
        """The node called ``name``, if listed."""
        return next((node for node in self.nodes if node.name == name), None)

    def instances_of(self, resource_id: str) -> tuple[ResourceInstance, ...]:
        """Instances whose primitive, group, clone or bundle id is ``resource_id``."""
        return tuple(
            instance
            for instance in self.instances
            if resource_id
            in (instance.resource_id, instance.clone_id, instance.group_id, instance.bundle_id)
        )

    def active_nodes(self, resource_id: str) -> tuple[str, ...]:
        """Nodes where ``resource_id`` (primitive or any parent id) is active, sorted."""
        return tuple(
            sorted(
                {
                    node
                    for instance in self.instances_of(resource_id)
                    if instance.primitive.active
                    for node in instance.primitive.nodes
                }
            )
        )

    def promoted_nodes(self, resource_id: str) -> tuple[str, ...]:
        """Nodes where ``resource_id`` (primitive or its promotable clone) is promoted, sorted."""
        return tuple(
            sorted(
                {
                    node
                    for instance in self.instances_of(resource_id)
                    if instance.primitive.role is Role.PROMOTED
                    for node in instance.primitive.nodes
                }
            )
        )

    def attributes_of(self, node: str) -> Mapping[str, str]:
        """The node attributes of ``node`` (empty when none are listed)."""
        return self.node_attributes.get(node, {})

    def history_of(self, node: str, resource_id: str) -> ResourceHistory | None:
        """Fail count and operation history of ``resource_id`` on ``node``."""
        return next(
            (h for h in self.history if h.node == node and h.resource_id == resource_id), None
        )

    def failures_of(self, resource_id: str) -> tuple[Failure, ...]:
        """Failed actions of ``resource_id``."""
        return tuple(f for f in self.failures if f.resource_id == resource_id)


class CrmMonParseError(ValueError):
    """The crm_mon output is not a document this parser understands."""


class ClusterUnavailableError(CrmMonParseError):
    """crm_mon answered, but without cluster status: pacemaker is down or unreachable.

    Raised for ``<crm-mon-disconnected>`` (pacemaker 2.1.6+), for an error ``<status>`` with no
    status sections (2.1.5: code 102 "Not connected"), for an empty legacy ``<crm_mon/>``, and
    for pacemaker 1.1's plain-text "Error: cluster is not available on this node".
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        errors: tuple[str, ...] = (),
        pacemakerd_state: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.errors = errors
        self.pacemakerd_state = sections.pacemakerd_state_of(pacemakerd_state)


_STATUS_SECTIONS = frozenset({"summary", "nodes", "resources", "node_attributes", "node_history"})


def parse_crm_mon(xml: bytes, *, local_tz: tzinfo) -> ClusterStatus:
    """Parse one crm_mon XML document.

    ``local_tz`` is the time zone crm_mon ran in: it prints ctime() local times without a zone.
    """
    _raise_if_legacy_not_connected(xml)
    try:
        root = parse_hardened_xml(xml)
        return _document(XmlReader(local_tz), root)
    except CrmMonParseError:
        raise
    except (XmlShapeError, ValueError) as exc:
        raise CrmMonParseError(str(exc)) from exc


def _document(reader: XmlReader, root: etree._Element) -> ClusterStatus:
    if root.tag == "pacemaker-result":
        legacy = False
        api_version = reader.attrs(root).opt("api-version")
    elif root.tag == "crm_mon":
        legacy = True
        api_version = reader.attrs(root).opt("version")
    else:
        raise CrmMonParseError(f"not crm_mon output: root element <{root.tag}>")

    children: dict[str, etree._Element] = {}
    for child in reader.elements(root):
        children.setdefault(str(child.tag), child)
    result = _result_status(reader, children.get("status"))
    _raise_if_unavailable(reader, root, children, result)

    nodes = sections.nodes(reader, children.get("nodes"))
    summary = None
    if "summary" in children:
        summary = sections.summary(reader, children["summary"], children.get("pacemakerd"))
        summary = _name_the_dc(summary, nodes)
    resources = crm_mon_resources.resources(reader, children.get("resources"))
    return ClusterStatus(
        api_version=api_version,
        request=reader.attrs(root).opt("request"),
        legacy=legacy,
        sections=frozenset(children),
        summary=summary,
        nodes=nodes,
        resources=resources,
        instances=crm_mon_resources.flatten(resources),
        node_attributes=_node_attributes(reader, children.get("node_attributes")),
        history=sections.history(reader, children.get("node_history")),
        failures=tuple(_failures(reader, children.get("failures"))),
        fence_events=sections.fence_events(reader, children.get("fence_history")),
        bans=sections.bans(reader, children.get("bans")),
        tickets=sections.tickets(reader, children.get("tickets")),
        result=result,
    )


def _name_the_dc(summary: ClusterSummary, nodes: tuple[Node, ...]) -> ClusterSummary:
    """Pacemaker 2.0 does not name the DC in ``current_dc``; the node list does."""
    dc = summary.dc
    if dc is None or not dc.present or dc.name is not None:
        return summary
    node = next((node for node in nodes if node.is_dc), None)
    if node is None:
        return summary
    return replace(summary, dc=replace(dc, name=node.name, id=dc.id or node.id))


def _raise_if_unavailable(
    reader: XmlReader,
    root: etree._Element,
    children: dict[str, etree._Element],
    result: ResultStatus | None,
) -> None:
    disconnected = children.get("crm-mon-disconnected")
    if disconnected is not None:
        attrs = reader.attrs(disconnected)
        raise ClusterUnavailableError(
            attrs.opt("description") or "crm_mon is not connected to the cluster",
            code=result.code if result else None,
            errors=result.errors if result else (),
            pacemakerd_state=attrs.opt("pacemakerd-state"),
        )
    if _STATUS_SECTIONS.intersection(children):
        return
    pacemakerd = children.get("pacemakerd")
    pacemakerd_state = reader.attrs(pacemakerd).opt("state") if pacemakerd is not None else None
    # 2.1.5 answers "code 0" with only <pacemakerd> and an error while the CIB is not up yet
    if result is not None and (result.code != 0 or result.errors):
        raise ClusterUnavailableError(
            "; ".join(result.errors) or result.message,
            code=result.code,
            errors=result.errors,
            pacemakerd_state=pacemakerd_state,
        )
    if pacemakerd is not None:
        raise ClusterUnavailableError(
            f"no cluster status (pacemakerd is {pacemakerd_state})",
            pacemakerd_state=pacemakerd_state,
        )
    if root.tag == "crm_mon" and not children:
        raise ClusterUnavailableError("legacy crm_mon output without cluster status")


# Pacemaker 1.1's --as-xml prints no XML at all without a cluster, only this (exit 107, ENOTCONN,
# or the errno of another connection failure).
_LEGACY_NOT_CONNECTED = (b"Error: cluster is not available", b"Connection to cluster failed:")


def _raise_if_legacy_not_connected(xml: bytes) -> None:
    if isinstance(xml, bytes | bytearray) and xml.lstrip().startswith(_LEGACY_NOT_CONNECTED):
        message = bytes(xml).decode("utf-8", "replace").strip()
        raise ClusterUnavailableError(message, errors=(message,))


def _result_status(reader: XmlReader, element: etree._Element | None) -> ResultStatus | None:
    if element is None:
        return None
    errors: list[str] = []
    for child in reader.elements(element, "errors"):
        errors.extend((error.text or "").strip() for error in reader.elements(child, "error"))
    attrs = reader.attrs(element)
    return ResultStatus(
        code=attrs.req_int("code"),
        message=attrs.opt("message") or "",
        errors=tuple(errors),
    )


def _node_attributes(reader: XmlReader, element: etree._Element | None) -> NodeAttributes:
    result: dict[str, dict[str, str]] = {}
    if element is None:
        return result
    for node in reader.elements(element, "node"):
        values = result.setdefault(reader.attrs(node).req("name"), {})
        for attribute_element in reader.elements(node, "attribute"):
            attribute = reader.attrs(attribute_element)
            values[attribute.req("name")] = attribute.req_raw("value")
    return result


def _failures(reader: XmlReader, element: etree._Element | None) -> Iterator[Failure]:
    if element is None:
        return
    for failure_element in reader.elements(element, "failure"):
        failure = reader.attrs(failure_element)
        op_key = failure.opt("op_key") or failure.req("id")
        task = failure.opt("task")
        interval_ms = failure.opt("interval")
        yield Failure(
            op_key=op_key,
            resource_id=resource_of_op_key(op_key, task, interval_ms),
            task=task,
            interval_seconds=failure.opt_ms("interval"),
            node=failure.opt("node"),
            exitcode=failure.req_int("exitcode"),
            exitstatus=failure.opt("exitstatus"),
            exitreason=_exit_reason(failure.opt("exitreason")),
            call=failure.opt_int("call"),
            status=failure.opt("status"),
            last_rc_change=failure.opt_time("last-rc-change"),
            queued_seconds=failure.opt_ms("queued"),
            exec_seconds=failure.opt_ms("exec"),
        )


def _exit_reason(text: str | None) -> str | None:
    """crm_mon prints "none" when the agent gave no reason (CFEngine's pgsql fork never does)."""
    return None if text is None or text == "none" else text


_MULTIWORD_TASKS = ("migrate_to", "migrate_from", "last_failure")


def resource_of_op_key(op_key: str, task: str | None = None, interval_ms: str | None = None) -> str:
    """The resource id of an operation key ``<rsc>_<task>_<interval ms>`` (ids may contain ``_``).

    Also accepts the ``<rsc>_last_failure_0`` history ids crm_mon prints when there is no key.
    """
    if task and interval_ms is not None:
        suffix = f"_{task}_{interval_ms.strip()}"
        if op_key.endswith(suffix) and len(op_key) > len(suffix):
            return op_key[: -len(suffix)]
    head, sep, interval = op_key.rpartition("_")
    if not sep or not head or not interval.isdigit():
        return op_key
    for multiword in _MULTIWORD_TASKS:
        if head.endswith("_" + multiword) and len(head) > len(multiword) + 1:
            return head[: -len(multiword) - 1]
    rsc, sep, _task = head.rpartition("_")
    return rsc if sep and rsc else op_key
