"""A digest of the CIB configuration without what cfha and the pgsql agent write themselves.

pacemaker's "last change" moves with every configuration write: a human's `pcs` command, but also
the remediator's own hold and lock, a cleanup's `last-lrm-refresh`, the pgsql agent's permanent
`<rsc>-data-status` node attribute at every start, stop and failover. The digest leaves those out,
so it changes only with everyone else's writes: `CfHaConfigChanged` follows it, not the time.
Pure: the configuration XML (`cibadmin --query --scope configuration`, or a whole CIB) in, an
integer out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from lxml import etree

from clusterstate.parsers.pcmk_values import CFHA_HOLD_PREFIX
from clusterstate.parsers.xml_reader import parse_hardened_xml

PACEMAKER_BOOKKEEPING = ("last-lrm-refresh",)
"""Properties pacemaker itself rewrites (at a resource cleanup or refresh)."""
DIGEST_BITS = 52
"""Fits a float64's mantissa: the digest is published as a metric value, exactly."""


def config_digest(
    xml: bytes, *, agent_attributes: Iterable[str] = (), own_property_sets: Iterable[str] = ()
) -> int:
    """The digest of the configuration without cfha's holds (`cfha-hold-*`) and property sets
    (`own_property_sets`: the remediators' lock), pacemaker's bookkeeping properties, and the
    node attributes named in `agent_attributes` (the pgsql agent's permanent ones). Raises
    ValueError (XmlShapeError) for what is not a CIB."""
    root = parse_hardened_xml(xml)
    config = root if root.tag == "configuration" else root.find("configuration")
    if config is None:
        raise ValueError("no <configuration> in the CIB")
    attributes, sets = set(agent_attributes), set(own_property_sets)
    for element in list(config.iter()):
        if _ours(element, attributes, sets):
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
    for element in config.iter():  # indentation depends on the query's scope and on edits
        if element.text is not None and not element.text.strip():
            element.text = None
        element.tail = None
    canonical = etree.tostring(config, method="c14n", with_tail=False)
    digest = hashlib.sha256(canonical).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - DIGEST_BITS)


def _ours(element: etree._Element, agent_attributes: set[str], own_sets: set[str]) -> bool:
    tag, ident, name = element.tag, element.get("id", ""), element.get("name", "")
    if tag == "rsc_location" and ident.startswith(CFHA_HOLD_PREFIX):
        return True
    if tag == "cluster_property_set" and ident in own_sets:
        return True
    if tag != "nvpair":
        return False
    owner = element.getparent()  # the nvpair's set: cluster_property_set or instance_attributes
    if owner is not None and owner.tag == "cluster_property_set":
        return name in PACEMAKER_BOOKKEEPING
    holder = owner.getparent() if owner is not None else None
    return holder is not None and holder.tag == "node" and name in agent_attributes
