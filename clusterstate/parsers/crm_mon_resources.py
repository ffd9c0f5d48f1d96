"""The ``<resources>`` section of crm_mon XML: the resource tree and its flattened instances.

Primitives, groups, clones (promotable ones and clones of groups) and bundles with replicas;
unknown elements are skipped so newer pacemaker releases still parse.
"""

from __future__ import annotations

from lxml import etree

from clusterstate.parsers.crm_mon_model import (
    Bundle,
    BundleReplica,
    Clone,
    Group,
    Primitive,
    Resource,
    ResourceInstance,
)
from clusterstate.parsers.pcmk_values import normalise_agent, parse_role
from clusterstate.parsers.xml_reader import XmlReader


def resources(reader: XmlReader, element: etree._Element | None) -> tuple[Resource, ...]:
    """The ``<resources>`` tree: primitives, groups, clones (of groups too) and bundles."""
    if element is None:
        return ()
    result: list[Resource] = []
    for child in reader.elements(element):
        if child.tag == "resource":
            result.append(_primitive(reader, child))
        elif child.tag == "group":
            result.append(_group(reader, child))
        elif child.tag == "clone":
            result.append(_clone(reader, child))
        elif child.tag == "bundle":
            result.append(_bundle(reader, child))
    return tuple(result)


def _primitive(reader: XmlReader, element: etree._Element) -> Primitive:
    a = reader.attrs(element)
    removed = a.opt_bool("removed")
    if removed is None:
        removed = a.flag("orphaned")
    target_role = a.opt("target_role")
    role = a.opt("role")
    running_on = tuple(node.get("name") or "" for node in reader.elements(element, "node"))
    if "" in running_on:
        raise a.fail("a <node> of the resource has no name")
    nodes_running_on = a.opt_int("nodes_running_on")
    return Primitive(
        id=a.req("id"),
        agent=normalise_agent(a.opt("resource_agent") or ""),
        role=parse_role(role or "unknown"),
        target_role=parse_role(target_role) if target_role else None,
        active=a.flag("active"),
        managed=a.flag("managed", default=True),
        failed=a.flag("failed"),
        blocked=a.flag("blocked"),
        removed=removed,
        failure_ignored=a.flag("failure_ignored"),
        maintenance=a.opt_bool("maintenance"),
        pending=a.opt("pending"),
        locked_to=a.opt("locked_to"),
        nodes=running_on,
        nodes_running_on=len(running_on) if nodes_running_on is None else nodes_running_on,
    )


def _group(reader: XmlReader, element: etree._Element) -> Group:
    a = reader.attrs(element)
    return Group(
        id=a.req("id"),
        number_resources=a.opt_int("number_resources"),
        managed=a.opt_bool("managed"),
        disabled=a.opt_bool("disabled"),
        maintenance=a.opt_bool("maintenance"),
        children=tuple(_primitive(reader, child) for child in reader.elements(element, "resource")),
    )


def _clone(reader: XmlReader, element: etree._Element) -> Clone:
    children: list[Primitive | Group] = []
    for child in reader.elements(element):
        if child.tag == "resource":
            children.append(_primitive(reader, child))
        elif child.tag == "group":
            children.append(_group(reader, child))
    a = reader.attrs(element)
    target_role = a.opt("target_role")
    return Clone(
        id=a.req("id"),
        promotable=a.flag("multi_state"),
        unique=a.flag("unique"),
        managed=a.flag("managed", default=True),
        disabled=a.opt_bool("disabled"),
        failed=a.flag("failed"),
        failure_ignored=a.flag("failure_ignored"),
        target_role=parse_role(target_role) if target_role else None,
        maintenance=a.opt_bool("maintenance"),
        children=tuple(children),
    )


def _bundle(reader: XmlReader, element: etree._Element) -> Bundle:
    replicas = tuple(
        BundleReplica(
            id=reader.attrs(replica).req_raw("id"),
            resources=tuple(
                _primitive(reader, child) for child in reader.elements(replica, "resource")
            ),
        )
        for replica in reader.elements(element, "replica")
    )
    a = reader.attrs(element)
    return Bundle(
        id=a.req("id"),
        type=a.opt("type"),
        image=a.opt("image"),
        unique=a.flag("unique"),
        managed=a.flag("managed", default=True),
        failed=a.flag("failed"),
        maintenance=a.opt_bool("maintenance"),
        replicas=replicas,
    )


def flatten(tree: tuple[Resource, ...]) -> tuple[ResourceInstance, ...]:
    """Every primitive instance of ``tree`` with its clone, group and bundle parents."""
    result: list[ResourceInstance] = []

    def add(
        primitive: Primitive,
        clone: str | None = None,
        group: str | None = None,
        bundle: str | None = None,
        replica: str | None = None,
    ) -> None:
        result.append(ResourceInstance(primitive.id, clone, group, bundle, replica, primitive))

    for resource in tree:
        if isinstance(resource, Primitive):
            add(resource)
        elif isinstance(resource, Group):
            for member in resource.children:
                add(member, group=resource.id)
        elif isinstance(resource, Clone):
            for child in resource.children:
                if isinstance(child, Group):
                    # a cloned group's instances are listed as "<group>:<n>"
                    group_id = child.id.rpartition(":")[0] or child.id
                    for member in child.children:
                        add(member, clone=resource.id, group=group_id)
                else:
                    add(child, clone=resource.id)
        else:
            for bundle_replica in resource.replicas:
                for member in bundle_replica.resources:
                    add(member, bundle=resource.id, replica=bundle_replica.id)
    return tuple(result)
