"""CFEngine Enterprise HA files, and this host's own addresses: pure parsers, text in, facts out.

- `ha_info.json` (masterfiles/cfe_internal/enterprise/ha/): the HA hubs, keyed by IP, each with
  its key hash `sha` (`cf-key -s` without `SHA=`), `internal_ip` and `is_in_cluster` (default
  true; false for a replication-only third node).
- `master_hub.dat` (state/): the IP of the active hub. Clients copy it into policy_server.dat,
  so it is the hub they follow.
- `ha.cfg` (workdir): how the enterprise agent tells `hub_active` from `hub_passive`: it runs
  `cmd` and compares its output with `cmp_master` and the `cmp_slave` list. Mission Portal shows
  each hub as active, passive or unknown by that mapping (`mission_portal_role`).
- key files (`ppkeys`, `ppkeys_hubs`): `<user>-<hostkey>.pub`, e.g. `root-SHA=<hex>.pub`.
- /proc/net/fib_trie and /proc/net/if_inet6: the addresses of this host (in its network
  namespace), to tell which ha_info.json entry is this hub.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DOCUMENTED_HA_CFG",
    "HUB_KEY_BYTES",
    "CfengineFileError",
    "HaCfg",
    "HaHub",
    "MissionPortalRole",
    "ha_cfg_deviations",
    "hostkey_of_key_file",
    "local_addresses_from_proc",
    "mission_portal_role",
    "parse_ha_cfg",
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


# -- ha.cfg ------------------------------------------------------------------------------------
MissionPortalRole = Literal["active", "passive", "unknown"]
HUB_KEY_BYTES = 426
"""The size of a hub's public key file: ha_update.cf copies only files of exactly this size into
ppkeys_hubs (`ha_share_hub_keys`)."""
_HA_CFG_KEYS = ("cmp_master", "cmp_slave", "cmd")


@dataclass(frozen=True, slots=True)
class HaCfg:
    """/var/cfengine/ha.cfg: the command whose output says this hub's HA state, and how it maps."""

    cmp_master: str
    cmp_slave: tuple[str, ...]
    cmd: str

    def argv(self) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(self.cmd))
        except ValueError:
            return (self.cmd,)


def documented_ha_cfg(resource: str = "cfpgsql") -> HaCfg:
    """ha.cfg as the CFEngine HA installation guide has it, for the pgsql primitive `resource`."""
    return HaCfg(
        cmp_master="PRI",
        cmp_slave=("HS:async", "HS:sync", "HS:alone"),
        cmd=f"/usr/sbin/crm_attribute -l reboot -n {resource}-status -G -q",
    )


DOCUMENTED_HA_CFG = documented_ha_cfg()


def parse_ha_cfg(text: str) -> HaCfg:
    """`key: value` lines (blank lines and `#` comments allowed); the three keys exactly once."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in _HA_CFG_KEYS:
            expected = "`cmp_master|cmp_slave|cmd: value`"
            raise CfengineFileError(f"ha.cfg line {number}: expected {expected}, got {line[:60]!r}")
        if key in found:
            raise CfengineFileError(f"ha.cfg line {number}: {key} given twice")
        found[key] = value.strip()
    missing = [k for k in _HA_CFG_KEYS if not found.get(k)]
    if missing:
        raise CfengineFileError(f"ha.cfg lacks {', '.join(missing)}")
    slaves = tuple(v.strip() for v in found["cmp_slave"].split(",") if v.strip())
    return HaCfg(cmp_master=found["cmp_master"], cmp_slave=slaves, cmd=found["cmd"])


def ha_cfg_deviations(cfg: HaCfg, expected: HaCfg = DOCUMENTED_HA_CFG) -> tuple[str, ...]:
    """How `cfg` differs from what the guide writes (the command compared word by word)."""
    out = []
    if cfg.argv() != expected.argv():
        out.append(f"cmd is {cfg.cmd!r}, expected {expected.cmd!r}")
    if cfg.cmp_master != expected.cmp_master:
        out.append(f"cmp_master is {cfg.cmp_master!r}, expected {expected.cmp_master!r}")
    if set(cfg.cmp_slave) != set(expected.cmp_slave):
        out.append(
            f"cmp_slave is {','.join(cfg.cmp_slave)!r}, expected {','.join(expected.cmp_slave)!r}"
        )
    return tuple(out)


def mission_portal_role(cfg: HaCfg | None, agent_status: str | None) -> MissionPortalRole:
    """A hub's status as Mission Portal shows it: `cmd`'s output (the agent's status) equal to
    cmp_master is active, one of cmp_slave passive (HS:alone included), anything else unknown."""
    if cfg is None or agent_status is None:
        return "unknown"
    if agent_status == cfg.cmp_master:
        return "active"
    return "passive" if agent_status in cfg.cmp_slave else "unknown"


# -- key files ---------------------------------------------------------------------------------
_KEY_FILE_RE = re.compile(r"^[^-/]+-((?:SHA|MD5)=[0-9a-fA-F]+)\.pub$")


def hostkey_of_key_file(name: str) -> str | None:
    """The host key of a key file name (`root-SHA=ab12.pub` -> `SHA=ab12`); None for other files
    (`localhost.pub`, `localhost.priv`, anything else)."""
    match = _KEY_FILE_RE.match(name)
    return match.group(1) if match else None
