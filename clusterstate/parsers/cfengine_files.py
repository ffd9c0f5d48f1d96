"""CFEngine Enterprise HA files, and this host's own addresses: pure parsers, text in, facts out.

- `ha_info.json` (masterfiles/cfe_internal/enterprise/ha/): the HA hubs, keyed by IP, each with
  its key hash `sha` (`cf-key -s` without `SHA=`), `internal_ip` and `is_in_cluster` (default
  true; false for a replication-only third node).
- `master_hub.dat` (state/): the IP of the active hub. Clients copy it into policy_server.dat,
  so it is the hub they follow.
- /proc/net/fib_trie and /proc/net/if_inet6: the addresses of this host (in its network
  namespace), to tell which ha_info.json entry is this hub.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CfengineFileError",
    "HaHub",
    "local_addresses_from_proc",
    "parse_ha_info",
    "parse_master_hub",
]

_SHA_RE = re.compile(r"[0-9a-fA-F]{32,128}")


class CfengineFileError(ValueError):
    """A CFEngine HA file does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class HaHub:
    """One hub of ha_info.json."""

    ip: str
    sha: str  # the key hash without the `SHA=` prefix, as ha_info.json holds it
    internal_ip: str | None
    is_in_cluster: bool

    @property
    def hostkey(self) -> str:
        """The hub's host key as cfdb stores it (`__hosts.hostkey`)."""
        return f"SHA={self.sha}"


def parse_ha_info(text: str) -> tuple[HaHub, ...]:
    """The hubs of ha_info.json in file order. Raises CfengineFileError on any deviation."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise CfengineFileError(f"ha_info.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CfengineFileError("ha_info.json must be an object keyed by hub IP")
    hubs = []
    for key, entry in data.items():
        ip = _ip(key, "key")
        if not isinstance(entry, dict):
            raise CfengineFileError(f"ha_info.json[{key}] must be an object")
        sha = entry.get("sha")
        if not isinstance(sha, str):
            raise CfengineFileError(f"ha_info.json[{key}].sha is missing")
        sha = sha.strip().removeprefix("SHA=")
        if not _SHA_RE.fullmatch(sha):
            # The shipped template holds "PLACE KEY HERE": a hub that was never filled in.
            raise CfengineFileError(f"ha_info.json[{key}].sha {sha!r} is not a key hash")
        internal = entry.get("internal_ip")
        if internal is not None:
            internal = _ip(internal, f"[{key}].internal_ip")
        in_cluster = entry.get("is_in_cluster", True)
        if not isinstance(in_cluster, bool):
            raise CfengineFileError(f"ha_info.json[{key}].is_in_cluster must be true or false")
        hubs.append(HaHub(ip=ip, sha=sha, internal_ip=internal, is_in_cluster=in_cluster))
    if not hubs:
        raise CfengineFileError("ha_info.json lists no hubs")
    return tuple(hubs)


def parse_master_hub(text: str) -> str:
    """The active hub's IP from master_hub.dat (one address, surrounding whitespace allowed)."""
    value = text.strip()
    if not value:
        raise CfengineFileError("master_hub.dat is empty")
    return _ip(value, "master_hub.dat")


def _ip(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise CfengineFileError(f"ha_info.json {where}: expected an IP address")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise CfengineFileError(f"{where}: {value!r} is not an IP address") from exc


def local_addresses_from_proc(fib_trie: str, if_inet6: str) -> frozenset[str]:
    """This network namespace's own addresses (`host LOCAL` routes and IPv6 interface addresses).

    The VIP is among them on the node that holds it; ha_info.json never lists the VIP.
    """
    found: set[str] = set()
    last: str | None = None
    for line in fib_trie.splitlines():
        stripped = line.strip()
        if stripped.startswith("|-- "):
            last = stripped[4:].strip()
        elif last is not None and stripped.startswith("/32 host LOCAL"):
            found.add(last)
    for line in if_inet6.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.add(str(ipaddress.IPv6Address(int(fields[0], 16))))
            except ValueError:
                continue
    return frozenset(found)
