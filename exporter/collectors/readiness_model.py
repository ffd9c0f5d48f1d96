"""Failover readiness above the database, as pure functions over one scrape's facts.

- hub keys: every hub of ha_info.json has its key in ppkeys_hubs, at the size ha_update.cf copies;
- client keys: every host cfdb knows (the clients the active hub collects from) has its key in
  this hub's ppkeys: a client whose key is missing on the hub it fails over to cannot connect;
- Mission Portal's own view: each hub's status by ha.cfg's mapping of the agent's status
  (`HS:alone` is passive there), unknown when its own last report is beyond the horizon, and OK
  when exactly one hub is active and every other one passive (inferred: Mission Portal is not
  public; docs/verdict.md says what is known);
- a re-clone of this hub fits (`clusterstate.disk.reclone_room`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine import CfengineFiles
from clusterstate.cfengine_keys import TrustKeys
from clusterstate.disk import RecloneRoom
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.cfengine_files import (
    HUB_KEY_BYTES,
    HaHub,
    MissionPortalRole,
    mission_portal_role,
)

HubKeyState = Literal["ok", "missing", "wrong_size"]
HUB_KEY_STATES: tuple[HubKeyState, ...] = ("ok", "missing", "wrong_size")
HUB_KEY_STATE_HELP = (
    f"root-SHA=<sha>.pub is in ppkeys_hubs, {HUB_KEY_BYTES} bytes",
    "no key file for this hub in ppkeys_hubs: clients will not trust it after a failover",
    f"the file is not {HUB_KEY_BYTES} bytes (ha_update.cf copies only keys of that size)",
)


@dataclass(frozen=True)
class HubKey:
    hub_ip: str
    hostkey: str
    state: HubKeyState


@dataclass(frozen=True)
class ClientKeys:
    trusted: int  # client key files in ppkeys (the hubs' own keys not counted)
    missing: int | None  # cfdb hosts without a key here (None: cfdb's hosts not read)


@dataclass(frozen=True)
class MissionPortalView:
    roles: Mapping[str, MissionPortalRole]  # hub (pacemaker node name) -> its status
    degraded: bool

    @property
    def summary(self) -> str:
        """`OK` or `DEGRADED`, then each hub's status: what the badge and its popup say."""
        badge = "DEGRADED" if self.degraded else "OK"
        hubs = ", ".join(f"{node} {role}" for node, role in self.roles.items())
        return f"{badge}, {hubs}" if hubs else badge


@dataclass(frozen=True)
class ReadinessFacts:
    hub_keys: tuple[HubKey, ...] | None  # None: ha_info.json or ppkeys_hubs not read
    client_keys: ClientKeys | None  # None: ppkeys not read
    mission_portal: MissionPortalView | None  # None: ha.cfg or pacemaker's view not read
    reclone: RecloneRoom | None  # None: the disk collector is not enabled


def hub_keys(files: CfengineFiles | None, keys: TrustKeys | None) -> tuple[HubKey, ...] | None:
    if files is None or files.hubs is None or keys is None or not keys.ppkeys_hubs.present:
        return None
    sizes = keys.ppkeys_hubs.sizes
    out = []
    for hub in files.hubs:
        size = sizes.get(hub.hostkey)
        state: HubKeyState = (
            "missing" if size is None else "ok" if size == HUB_KEY_BYTES else "wrong_size"
        )
        out.append(HubKey(hub.ip, hub.hostkey, state))
    return tuple(out)


class ClientKeyCounter:
    """Counts client keys, remembering the last answer while both key sets are the same objects
    (the readers hand out the same frozenset until something changed)."""

    def __init__(self) -> None:
        self._last: (
            tuple[frozenset[str], frozenset[str], frozenset[str] | None, ClientKeys] | None
        ) = None

    def count(
        self, hubs: Iterable[HaHub] | None, keys: TrustKeys | None, hub: HubFacts | None
    ) -> ClientKeys | None:
        if hubs is None or keys is None or not keys.ppkeys.present:
            return None
        hub_keys = frozenset(h.hostkey for h in hubs)
        known = hub.hostkeys if hub is not None and hub.up else None
        ppkeys = keys.ppkeys.hostkeys
        last = self._last
        if last is not None and last[0] == hub_keys and last[1] is ppkeys and last[2] is known:
            return last[3]
        trusted = ppkeys - hub_keys
        missing = None if known is None else len(known - hub_keys - trusted)
        result = ClientKeys(trusted=len(trusted), missing=missing)
        self._last = (hub_keys, ppkeys, known, result)
        return result


def mission_portal_view(
    files: CfengineFiles | None, pacemaker: PacemakerState | None, hub: HubFacts | None
) -> MissionPortalView | None:
    """Mission Portal's badge by its own mapping, or None when ha.cfg or the agent's statuses
    are not known."""
    if files is None or files.ha_cfg is None or pacemaker is None or not pacemaker.up:
        return None
    statuses = {v.node: v.status.value for v in pacemaker.agent_views if v.status is not None}
    members = {m.name: m for m in (hub.members if hub is not None else None) or ()}
    nodes = sorted(set(statuses) | {n.name for n in pacemaker.nodes})
    roles: dict[str, MissionPortalRole] = {}
    for node in nodes:
        role = mission_portal_role(files.ha_cfg, statuses.get(node))
        member = members.get(node)
        if hub is not None and hub.now is not None and member is not None:
            last = member.last_report_time
            if last is None or hub.now - last > hub.horizon_seconds:
                role = "unknown"  # its state in Mission Portal is missing or stale
        roles[node] = role
    active = [n for n, r in roles.items() if r == "active"]
    others_passive = all(r == "passive" for n, r in roles.items() if n not in active)
    return MissionPortalView(roles, degraded=not (len(active) == 1 and others_passive))
