"""Pure parser for ``corosync-cmapctl nodelist.node``: the configured nodes with their ids.

``corosync-cfgtool -s`` names link peers by node id only, and ``corosync-quorumtool`` lists
only current members; the configured nodelist gives every peer its name, including one that is
down. Lines look like ``nodelist.node.1.name (str) = hub2``. Anything else raises
``CorosyncParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clusterstate.parsers.corosync import CorosyncParseError

__all__ = ["CmapNode", "parse_cmap_nodelist"]

_LINE_RE = re.compile(r"nodelist\.node\.([0-9]{1,6})\.([A-Za-z0-9_]+) \(([a-z0-9]+)\) = ?(.*)")


@dataclass(frozen=True, slots=True)
class CmapNode:
    """One ``nodelist.node.N`` entry."""

    position: int
    nodeid: int | None
    name: str | None
    addresses: tuple[str, ...]
    """``ring0_addr``, ``ring1_addr``, ... in link order."""


def parse_cmap_nodelist(text: str) -> tuple[CmapNode, ...]:
    """Parse the output of ``corosync-cmapctl nodelist.node`` (sorted by position)."""
    if not isinstance(text, str):
        raise CorosyncParseError(f"expected text, got {type(text).__name__}")
    entries: dict[int, dict[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE_RE.fullmatch(line)
        if match is None:
            raise CorosyncParseError(f"line {number}: not a nodelist key: {line!r}")
        entries.setdefault(int(match.group(1)), {})[match.group(2)] = match.group(4).strip()
    if not entries:
        raise CorosyncParseError("empty nodelist")
    nodes = []
    for position in sorted(entries):
        keys = entries[position]
        nodeid_text = keys.get("nodeid")
        if nodeid_text is not None and not nodeid_text.isdigit():
            raise CorosyncParseError(f"node {position}: nodeid {nodeid_text!r}")
        rings = sorted(
            (int(key[4:-5]), value)
            for key, value in keys.items()
            if re.fullmatch(r"ring[0-9]{1,2}_addr", key)
        )
        nodes.append(
            CmapNode(
                position=position,
                nodeid=int(nodeid_text) if nodeid_text is not None else None,
                name=keys.get("name") or None,
                addresses=tuple(address for _, address in rings),
            )
        )
    return tuple(nodes)
