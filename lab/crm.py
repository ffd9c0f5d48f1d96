"""Just enough of `crm_mon --output-as=xml` for the lab's own health checks. Pure.

The exporter has the product's full parser; the lab keeps this small one so that it does not
depend on code built in parallel, and because it only needs a few facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

_ROLE_ALIASES = {"Master": "Promoted", "Slave": "Unpromoted"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class CrmParseError(ValueError):
    """crm_mon output that is not the XML this parser expects."""


@dataclass(frozen=True)
class CrmNode:
    name: str
    online: bool
    standby: bool
    maintenance: bool
    unclean: bool
    is_dc: bool
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CrmResource:
    id: str
    parent: str | None  # the clone or group holding it
    role: str  # Promoted | Unpromoted | Started | Stopped | ...
    node: str | None
    active: bool
    failed: bool
    managed: bool


@dataclass(frozen=True)
class CrmFailure:
    op_key: str
    node: str
    exitstatus: str
    exitreason: str


@dataclass(frozen=True)
class CrmBan:
    id: str
    resource: str
    node: str
    weight: str


@dataclass(frozen=True)
class CrmView:
    dc: str | None
    quorate: bool
    maintenance_mode: bool
    nodes: Mapping[str, CrmNode]
    resources: tuple[CrmResource, ...]
    failures: tuple[CrmFailure, ...]
    bans: tuple[CrmBan, ...]
    fail_counts: Mapping[tuple[str, str], int]  # (node, resource) -> fail-count

    def instances(self, rsc: str) -> list[CrmResource]:
        return [r for r in self.resources if r.id == rsc]

    def promoted_nodes(self, rsc: str = "cfpgsql") -> list[str]:
        return [r.node for r in self.instances(rsc) if r.role == "Promoted" and r.node]

    def role_on(self, node: str, rsc: str = "cfpgsql") -> str:
        for r in self.instances(rsc):
            if r.node == node:
                return r.role
        return "Stopped"

    def online(self, node: str) -> bool:
        n = self.nodes.get(node)
        return n is not None and n.online

    def flag(self, node: str, name: str) -> bool:
        """A node's boolean state (standby, maintenance, unclean, ...); False if unknown."""
        n = self.nodes.get(node)
        return bool(n is not None and getattr(n, name))

    def attr(self, node: str, name: str) -> str | None:
        n = self.nodes.get(node)
        return None if n is None else n.attributes.get(name)


def _flag(el: etree._Element, name: str) -> bool:
    return el.get(name) == "true"


def parse(xml: bytes | str) -> CrmView:
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as err:
        raise CrmParseError(f"crm_mon XML: {err}") from err
    if root.tag not in ("pacemaker-result", "crm_mon"):
        raise CrmParseError(f"unexpected root element <{root.tag}>")
    dc_el = root.find("summary/current_dc")
    dc = dc_el.get("name") if dc_el is not None and _flag(dc_el, "present") else None
    quorate = dc_el is not None and _flag(dc_el, "with_quorum")
    options = root.find("summary/cluster_options")
    maintenance = options is not None and _flag(options, "maintenance-mode")

    attributes: dict[str, dict[str, str]] = {}
    for n in root.iterfind("node_attributes/node"):
        attributes[n.get("name", "")] = {
            a.get("name", ""): a.get("value", "") for a in n.iterfind("attribute")
        }
    nodes = {
        n.get("name", ""): CrmNode(
            name=n.get("name", ""),
            online=_flag(n, "online"),
            standby=_flag(n, "standby"),
            maintenance=_flag(n, "maintenance"),
            unclean=_flag(n, "unclean"),
            is_dc=_flag(n, "is_dc"),
            attributes=attributes.get(n.get("name", ""), {}),
        )
        for n in root.iterfind("nodes/node")
    }

    resources: list[CrmResource] = []
    section = root.find("resources")
    for res in section.iter("resource") if section is not None else ():
        parent_el = res.getparent()
        parent = (
            parent_el.get("id")
            if parent_el is not None and parent_el.tag in ("clone", "group")
            else None
        )
        on = res.find("node")
        role = res.get("role", "Stopped")
        resources.append(
            CrmResource(
                id=res.get("id", ""),
                parent=parent,
                role=_ROLE_ALIASES.get(role, role),
                node=on.get("name") if on is not None else None,
                active=_flag(res, "active"),
                failed=_flag(res, "failed"),
                managed=_flag(res, "managed"),
            )
        )
    failures = tuple(
        CrmFailure(
            op_key=f.get("op_key", ""),
            node=f.get("node", ""),
            exitstatus=f.get("exitstatus", ""),
            exitreason=f.get("exitreason", ""),
        )
        for f in root.iterfind("failures/failure")
    )
    bans = tuple(
        CrmBan(
            id=b.get("id", ""),
            resource=b.get("resource", ""),
            node=b.get("node", ""),
            weight=b.get("weight", ""),
        )
        for b in root.iterfind("bans/ban")
    )
    fail_counts: dict[tuple[str, str], int] = {}
    for n in root.iterfind("node_history/node"):
        for h in n.iterfind("resource_history"):
            raw = h.get("fail-count")
            if raw is not None:
                count = 1_000_000 if raw in ("INFINITY", "+INFINITY") else int(raw)
                fail_counts[(n.get("name", ""), h.get("id", ""))] = count
    return CrmView(
        dc=dc,
        quorate=quorate,
        maintenance_mode=maintenance,
        nodes=nodes,
        resources=tuple(resources),
        failures=failures,
        bans=bans,
        fail_counts=fail_counts,
    )
