"""Failover readiness above the database: a derived collector over the `cfengine`, `keys`, `hub`,
`pacemaker` and `disk` collectors' facts (`readiness_model` has the rules).

Example output on the passive hub hub2 (`cluster` label left out)::

    cfha_cfengine_hub_key_state{hub_ip="10.250.5.1",node="hub2",state="ok"} 1.0
    cfha_cfengine_client_keys{node="hub2"} 10000.0
    cfha_cfengine_client_keys_missing{node="hub2"} 0.0
    cfha_mission_portal_degraded{node="hub2"} 0.0
    cfha_mission_portal_hub_role{node="hub1",state="active"} 1.0
    cfha_disk_reclone_needed_bytes{node="hub2"} 3.1e+09

`cfha_mission_portal_hub_role` carries `node` = the hub it is about (both exporters publish it
for both hubs), like `cfha_ha_hub_role`. The key counts never name a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine import CfengineFiles
from clusterstate.cfengine_keys import TrustKeys
from clusterstate.disk import reclone_room
from clusterstate.pacemaker_state import PacemakerState
from exporter.collectors.disk import DiskFacts
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorResult, facts_of
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

from .readiness_model import (
    HUB_KEY_STATE_HELP,
    HUB_KEY_STATES,
    ClientKeyCounter,
    ReadinessFacts,
    hub_keys,
    mission_portal_view,
)


class ReadinessConfig(CollectorSettings):
    reclone_headroom_factor: float = setting(
        default=1.2,
        ge=1,
        description="A re-clone needs this many times the data it copies as free space (the "
        "remediator's `disk_headroom_factor`; keep them equal).",
    )


N = ("node",)
HUB_KEY_STATE = MetricSpec(
    "cfha_cfengine_hub_key_state",
    "Per hub of ha_info.json: its key in this hub's ppkeys_hubs (clients copy them to trust the "
    "standby).",
    kind=Kind.STATESET,
    labels=(*N, "hub_ip"),
    states=HUB_KEY_STATES,
    state_help=HUB_KEY_STATE_HELP,
)
CLIENT_KEYS = MetricSpec(
    "cfha_cfengine_client_keys",
    "Client keys this hub trusts (ppkeys, without the HA hubs' own keys).",
    labels=N,
)
CLIENT_KEYS_MISSING = MetricSpec(
    "cfha_cfengine_client_keys_missing",
    "Hosts cfdb knows (the active hub's clients) whose key is not in this hub's ppkeys: they "
    "cannot connect to this hub after a failover. 0 on a ready hub.",
    labels=N,
)
MP_DEGRADED = MetricSpec(
    "cfha_mission_portal_degraded",
    "What Mission Portal's HA badge would show, by ha.cfg's mapping of the agent's statuses: "
    "1 DEGRADED, 0 OK (absent when ha.cfg or pacemaker's view is not read). Compare with "
    "cfha_ha_degraded: cfha is stricter (HS:alone is passive, and OK, to Mission Portal).",
    labels=N,
)
MP_ROLE = MetricSpec(
    "cfha_mission_portal_hub_role",
    "Each hub's status as Mission Portal would show it (`node` = the hub it is about).",
    kind=Kind.STATESET,
    labels=N,
    states=("active", "passive", "unknown"),
    state_help=(
        "the agent's status equals ha.cfg's cmp_master",
        "the agent's status is in ha.cfg's cmp_slave (HS:alone included)",
        "anything else, or its own last report is beyond the horizon",
    ),
)
RECLONE_NEEDED = MetricSpec(
    "cfha_disk_reclone_needed_bytes",
    "Free space a re-clone of this hub's data needs beside the data directory: the headroom "
    "factor times databases + pg_wal + archive (compare with cfha_disk_filesystem_free_bytes "
    '{filesystem="pgdata"} of the hub that would be re-cloned).',
    labels=N,
)


class ReadinessCollector:
    name: ClassVar[str] = "readiness"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        HUB_KEY_STATE,
        CLIENT_KEYS,
        CLIENT_KEYS_MISSING,
        MP_DEGRADED,
        MP_ROLE,
        RECLONE_NEEDED,
    )

    def __init__(self, config: ReadinessConfig, node: str) -> None:
        self._factor = config.reclone_headroom_factor
        self._node = node
        self._clients = ClientKeyCounter()

    def collect(self, out: MetricWriter, results: Mapping[str, CollectorResult]) -> ReadinessFacts:
        files = facts_of(results, "cfengine", CfengineFiles)
        keys = facts_of(results, "keys", TrustKeys)
        hub = facts_of(results, "hub", HubFacts)
        pacemaker = facts_of(results, "pacemaker", PacemakerState)
        disk = facts_of(results, "disk", DiskFacts)
        facts = ReadinessFacts(
            hub_keys=hub_keys(files, keys),
            client_keys=self._clients.count(files.hubs if files else None, keys, hub),
            mission_portal=mission_portal_view(files, pacemaker, hub),
            reclone=(
                reclone_room(disk.free_beside_data, disk.clone, self._factor)
                if disk is not None
                else None
            ),
        )
        self._write(out, facts)
        return facts

    def _write(self, out: MetricWriter, f: ReadinessFacts) -> None:
        node = self._node
        for key in f.hub_keys or ():
            out.state(HUB_KEY_STATE, key.state, node=node, hub_ip=key.hub_ip)
        if f.client_keys is not None:
            out.gauge(CLIENT_KEYS, f.client_keys.trusted, node=node)
            out.gauge(CLIENT_KEYS_MISSING, f.client_keys.missing, node=node)
        if f.mission_portal is not None:
            out.gauge(MP_DEGRADED, 1.0 if f.mission_portal.degraded else 0.0, node=node)
            for hub, role in f.mission_portal.roles.items():
                out.state(MP_ROLE, role, node=hub)
        if f.reclone is not None:
            out.gauge(RECLONE_NEEDED, f.reclone.needed_bytes, node=node)
