"""Pure parser for ``cibadmin --query`` output (the whole CIB, or ``--scope configuration``).

``parse_cib(xml)`` returns a ``CibConfig`` (see ``cib_model``): constraints (with leftover
``cli-ban-*``/``cli-prefer-*`` and lifetime expiry recognised), primitives with their parameters,
clones, groups, defaults, cluster properties and the permanent node attributes. Anything
malformed raises ``CibParseError``, and nothing else is ever raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo

from lxml import etree

from clusterstate.parsers.cib_model import (
    CibConfig,
    CloneConfig,
    ColocationConstraint,
    GroupConfig,
    LocationConstraint,
    NodeConfig,
    OperationConfig,
    OrderConstraint,
    PrimitiveConfig,
)
from clusterstate.parsers.pcmk_values import (
    normalise_agent,
    parse_ctime,
    parse_iso_time,
    parse_role,
)
from clusterstate.parsers.xml_reader import Attrs, XmlReader, XmlShapeError, parse_hardened_xml

__all__ = ["CibParseError", "parse_cib"]

_OFFSET_RE = re.compile(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")


class CibParseError(ValueError):
    """The text is not a CIB (or CIB configuration) this parser understands."""


def parse_cib(xml: bytes, *, local_tz: tzinfo | None = None) -> CibConfig:
    """Parse a CIB (root ``<cib>``) or its configuration section (root ``<configuration>``).

    ``local_tz`` is used for times written without a zone (``cib-last-written``, and rule
    dates without an offset); without it those stay ``None``.
    """
    try:
        root = parse_hardened_xml(xml)
        return _Parser(XmlReader(local_tz or UTC), local_tz).document(root)
    except CibParseError:
        raise
    except (XmlShapeError, ValueError) as exc:
        raise CibParseError(str(exc)) from exc


def _nvpairs(reader: XmlReader, parent: etree._Element | None, tag: str) -> dict[str, str]:
    """Name/value pairs of every ``tag`` set under ``parent``; the first value of a name wins.

    Sets with a ``<rule>`` only apply conditionally and are left out.
    """
    result: dict[str, str] = {}
    if parent is None:
        return result
    for nvset in reader.elements(parent, tag):
        if next(reader.elements(nvset, "rule"), None) is not None:
            continue
        for nvpair in reader.elements(nvset, "nvpair"):
            attrs = reader.attrs(nvpair)
            name = attrs.opt("name")
            if name is not None:  # an id-ref nvpair carries no name
                result.setdefault(name, attrs.req_raw("value"))
    return result


class _Parser:
    def __init__(self, reader: XmlReader, local_tz: tzinfo | None) -> None:
        self.reader = reader
        self.local_tz = local_tz
        self.primitives: list[PrimitiveConfig] = []
        self.clones: list[CloneConfig] = []
        self.groups: list[GroupConfig] = []
        self.bundles: list[str] = []

    def _child(self, parent: etree._Element | None, tag: str) -> etree._Element | None:
        return None if parent is None else next(self.reader.elements(parent, tag), None)

    def document(self, root: etree._Element) -> CibConfig:
        if root.tag == "cib":
            configuration = self._child(root, "configuration")
            if configuration is None:
                raise CibParseError("<cib> without <configuration>")
        elif root.tag == "configuration":
            configuration = root
        else:
            raise CibParseError(f"not a CIB: root element <{root.tag}>")
        header = self.reader.attrs(root) if root.tag == "cib" else None
        self._resources(self._child(configuration, "resources"))
        constraints = self._child(configuration, "constraints")
        last_written = header.opt("cib-last-written") if header else None
        crm_config = self._child(configuration, "crm_config")
        return CibConfig(
            validate_with=header.opt("validate-with") if header else None,
            epoch=header.opt_int("epoch") if header else None,
            admin_epoch=header.opt_int("admin_epoch") if header else None,
            num_updates=header.opt_int("num_updates") if header else None,
            have_quorum=header.opt_bool("have-quorum") if header else None,
            dc_uuid=header.opt("dc-uuid") if header else None,
            cib_last_written=last_written,
            last_written=(
                parse_ctime(last_written, self.local_tz)
                if last_written and self.local_tz is not None
                else None
            ),
            properties=_nvpairs(self.reader, crm_config, "cluster_property_set"),
            property_set_ids=frozenset(
                self.reader.attrs(nvset).req("id")
                for nvset in (
                    self.reader.elements(crm_config, "cluster_property_set")
                    if crm_config is not None
                    else ()
                )
            ),
            rsc_defaults=_nvpairs(
                self.reader, self._child(configuration, "rsc_defaults"), "meta_attributes"
            ),
            op_defaults=_nvpairs(
                self.reader, self._child(configuration, "op_defaults"), "meta_attributes"
            ),
            nodes=tuple(self._nodes(self._child(configuration, "nodes"))),
            primitives=tuple(self.primitives),
            clones=tuple(self.clones),
            groups=tuple(self.groups),
            bundles=tuple(self.bundles),
            locations=tuple(self._locations(constraints)),
            colocations=tuple(self._colocations(constraints)),
            orders=tuple(self._orders(constraints)),
        )

    def _nodes(self, nodes: etree._Element | None) -> Iterator[NodeConfig]:
        if nodes is None:
            return
        for node in self.reader.elements(nodes, "node"):
            attrs = self.reader.attrs(node)
            yield NodeConfig(
                id=attrs.req("id"),
                uname=attrs.opt("uname") or attrs.req("id"),
                type=attrs.opt("type"),
                attributes=_nvpairs(self.reader, node, "instance_attributes"),
            )

    # -- resources -------------------------------------------------------------------------

    def _resources(self, resources: etree._Element | None) -> None:
        if resources is None:
            return
        for child in self.reader.elements(resources):
            self._resource(child, clone=None, group=None, bundle=None)

    def _resource(
        self, element: etree._Element, clone: str | None, group: str | None, bundle: str | None
    ) -> str | None:
        """Record ``element`` (and its children); return its id if it is a resource."""
        tag = element.tag
        if tag == "primitive":
            primitive = self._primitive(element, clone, group, bundle)
            self.primitives.append(primitive)
            return primitive.id
        if tag == "group":
            group_id = self.reader.attrs(element).req("id")
            members = [
                self._resource(member, clone, group_id, bundle)
                for member in self.reader.elements(element, "primitive")
            ]
            self.groups.append(
                GroupConfig(
                    group_id,
                    tuple(m for m in members if m),
                    _nvpairs(self.reader, element, "meta_attributes"),
                )
            )
            return group_id
        if tag in ("clone", "master"):
            return self._clone(element)
        if tag == "bundle":
            bundle_id = self.reader.attrs(element).req("id")
            self.bundles.append(bundle_id)
            for member in self.reader.elements(element, "primitive"):
                self._resource(member, None, None, bundle_id)
            return bundle_id
        return None  # templates, tags and unknown elements are not resources

    def _clone(self, element: etree._Element) -> str:
        clone_id = self.reader.attrs(element).req("id")
        meta = _nvpairs(self.reader, element, "meta_attributes")
        child_id = None
        for child in self.reader.elements(element):
            if child.tag in ("primitive", "group"):
                child_id = self._resource(child, clone_id, None, None)
        promotable = element.tag == "master" or meta.get("promotable", "").lower() in (
            "true",
            "yes",
            "on",
            "1",
            "y",
        )
        self.clones.append(CloneConfig(clone_id, promotable, child_id, meta))
        return clone_id

    def _primitive(
        self, element: etree._Element, clone: str | None, group: str | None, bundle: str | None
    ) -> PrimitiveConfig:
        attrs = self.reader.attrs(element)
        agent_class = attrs.opt("class") or ""
        provider = attrs.opt("provider") or ""
        operations = self._child(element, "operations")
        return PrimitiveConfig(
            id=attrs.req("id"),
            agent=normalise_agent(f"{agent_class}:{provider}:{attrs.opt('type') or ''}"),
            clone_id=clone,
            group_id=group,
            bundle_id=bundle,
            instance_attributes=_nvpairs(self.reader, element, "instance_attributes"),
            meta_attributes=_nvpairs(self.reader, element, "meta_attributes"),
            operations=tuple(
                self._operation(self.reader.attrs(op))
                for op in (self.reader.elements(operations, "op") if operations is not None else ())
            ),
        )

    @staticmethod
    def _operation(attrs: Attrs) -> OperationConfig:
        interval = attrs.opt_interval("interval")
        role = attrs.opt("role")
        return OperationConfig(
            id=attrs.opt("id"),
            name=attrs.req("name"),
            interval_seconds=0.0 if interval is None else interval,
            timeout_seconds=attrs.opt_interval("timeout"),
            role=parse_role(role) if role else None,
            on_fail=attrs.opt("on-fail"),
        )

    # -- constraints -----------------------------------------------------------------------

    def _set_members(self, element: etree._Element) -> tuple[str, ...]:
        return tuple(
            self.reader.attrs(ref).req("id")
            for rsc_set in self.reader.elements(element, "resource_set")
            for ref in self.reader.elements(rsc_set, "resource_ref")
        )

    def _locations(self, constraints: etree._Element | None) -> Iterator[LocationConstraint]:
        if constraints is None:
            return
        for element in self.reader.elements(constraints, "rsc_location"):
            attrs = self.reader.attrs(element)
            rsc = attrs.opt("rsc")
            resources = (rsc,) if rsc else self._set_members(element)
            rules = list(self.reader.elements(element, "rule"))
            role = attrs.opt("role")
            node, score, score_attribute = attrs.opt("node"), attrs.opt_score("score"), None
            expires_at = None
            if len(rules) == 1:
                rule = self.reader.attrs(rules[0])
                node = node or self._rule_node(rules[0])
                score = score if score is not None else rule.opt_score("score")
                score_attribute = rule.opt("score-attribute")
                role = role or rule.opt("role")
                expires_at = self._rule_expiry(rules[0], rule)
            yield LocationConstraint(
                id=attrs.req("id"),
                resources=resources,
                resource_pattern=attrs.opt("rsc-pattern"),
                node=node,
                score=score,
                score_attribute=score_attribute or attrs.opt("score-attribute"),
                role=parse_role(role) if role else None,
                rule_based=bool(rules),
                expires_at=expires_at,
            )

    def _rule_node(self, rule: etree._Element) -> str | None:
        """The node of a rule that is exactly ``#uname eq NODE`` (plus date expressions)."""
        matches = []
        for expression in self.reader.elements(rule, "expression"):
            attrs = self.reader.attrs(expression)
            if attrs.opt("attribute") == "#uname" and attrs.opt("operation") == "eq":
                matches.append(attrs.opt("value"))
        return matches[0] if len(matches) == 1 else None

    def _rule_expiry(self, rule: etree._Element, attrs: Attrs) -> float | None:
        """When a lifetime rule (``date_expression operation=lt end=...`` and-ed in) stops."""
        if (attrs.opt("boolean-op") or "and") != "and":
            return None
        ends = []
        for expression in self.reader.elements(rule, "date_expression"):
            date = self.reader.attrs(expression)
            end = date.opt("end")
            if date.opt("operation") in ("lt", "in_range") and end:
                ends.append(self._rule_time(end))
        known = [end for end in ends if end is not None]
        return min(known) if known else None

    def _rule_time(self, text: str) -> float | None:
        """A rule date as Unix time; ``None`` when it cannot be placed in time.

        Rules accept every ISO 8601 flavour (week dates, ordinals, durations): an end this
        parser cannot read leaves the expiry unknown instead of failing the whole CIB.
        """
        if self.local_tz is None and _OFFSET_RE.search(text.strip()) is None:
            return None  # zone-less and no zone given: unknown rather than wrong
        try:
            return parse_iso_time(text, self.local_tz or UTC)
        except ValueError:
            return None

    def _colocations(self, constraints: etree._Element | None) -> Iterator[ColocationConstraint]:
        if constraints is None:
            return
        for element in self.reader.elements(constraints, "rsc_colocation"):
            attrs = self.reader.attrs(element)
            rsc_role, with_role = attrs.opt("rsc-role"), attrs.opt("with-rsc-role")
            yield ColocationConstraint(
                id=attrs.req("id"),
                rsc=attrs.opt("rsc"),
                with_rsc=attrs.opt("with-rsc"),
                score=attrs.opt_score("score"),
                rsc_role=parse_role(rsc_role) if rsc_role else None,
                with_rsc_role=parse_role(with_role) if with_role else None,
                resources=self._set_members(element),
            )

    def _orders(self, constraints: etree._Element | None) -> Iterator[OrderConstraint]:
        if constraints is None:
            return
        for element in self.reader.elements(constraints, "rsc_order"):
            attrs = self.reader.attrs(element)
            yield OrderConstraint(
                id=attrs.req("id"),
                first=attrs.opt("first"),
                then=attrs.opt("then"),
                first_action=attrs.opt("first-action"),
                then_action=attrs.opt("then-action"),
                kind=attrs.opt("kind"),
                score=attrs.opt_score("score"),
                symmetrical=attrs.opt_bool("symmetrical"),
                resources=self._set_members(element),
            )
