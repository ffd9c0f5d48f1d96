"""Hand-made facts for the verdict's unit tests: a healthy pair as hub1 sees it, and variations.

Pacemaker and corosync are the shared model's own states (`clusterstate`), sketched here in the
terms the verdict's tests speak (who is promoted, the agent's words, the VIP's nodes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterstate.cfdb_sql import HaInventory, HostCounts
from clusterstate.corosync import CorosyncState, PeerLink
from clusterstate.daemons import Daemons, DaemonState, DaemonStateName
from clusterstate.disk import RecloneRoom
from clusterstate.mission_portal import NAMES, MissionPortalConfig
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.cfengine_files import DOCUMENTED_HA_CFG, HaHub
from clusterstate.parsers.corosync import CorosyncLinks, LinkState
from clusterstate.parsers.crm_mon_model import Node
from clusterstate.postgres import PgFacts, StandbyLink, WalReceiver
from exporter.collectors.cfengine import CfengineFiles
from exporter.collectors.hub import HubFacts, HubMember
from exporter.collectors.readiness_model import ClientKeys, HubKey, ReadinessFacts
from exporter.collectors.verdict_model import CollectorStatus, VerdictInputs
from lab.offline import clusterstates as states
from lab.offline.clusterstates import node

NOW = 1_800_000_000.0
IP = {"hub1": "10.250.5.1", "hub2": "10.250.5.2"}
SHA = {"hub1": "a" * 64, "hub2": "b" * 64}


def standby_link(name: str = "hub2", state: str = "streaming", lag_bytes: float = 0.0,
                 lag_seconds: float = 0.0) -> StandbyLink:  # fmt: skip
    connected = state != "disconnected"
    return StandbyLink(
        name=name,
        state=state,
        sync_state="async" if connected else None,
        lag_bytes={"write": 0.0, "flush": 0.0, "replay": lag_bytes} if connected else None,
        lag_seconds={"write": 0.0, "flush": 0.0, "replay": lag_seconds} if connected else None,
    )


def pg_primary(*standbys: StandbyLink) -> PgFacts:
    return PgFacts(up=True, role="primary", standbys=standbys or (standby_link(),))


def pg_primary_alone() -> PgFacts:
    return PgFacts(up=True, role="primary", standbys=())


def pg_standby(
    receiver: str = "streaming", lag: float | None = 0.0, pending: float = 0.0
) -> PgFacts:
    return PgFacts(
        up=True,
        role="standby",
        receiver=WalReceiver(status=receiver),
        receive_lsn=1000.0 + pending,
        replay_lsn=1000.0,
        replay_lag_seconds=lag,
        replay_paused=False,
    )


def pg_down() -> PgFacts:
    return PgFacts(up=False, error="connection refused")


def member(
    name: str,
    age: float | None = 30.0,
    in_cluster: bool = True,
    *,
    state: str | None = None,
    extended: str | None = None,
    master_ip: str | None = None,
) -> HubMember:
    """An HA hub in cfdb; its HA inventory only when one of `state`, `extended`, `master_ip`."""
    reported = HaInventory(state, extended, master_ip)
    return HubMember(
        name=name,
        ip=IP.get(name, "10.250.5.3"),
        hostkey=f"SHA={SHA.get(name, 'c' * 64)}",
        is_in_cluster=in_cluster,
        known=age is not None,
        last_report_time=None if age is None else NOW - age,
        inventory=reported if reported.reported else None,
    )


def hosts(newest_age: float | None = 5.0, live: int = 50) -> HostCounts:
    """cfdb's host counts; `newest_age`: how old the newest report of any host is."""
    return HostCounts(
        live=live,
        deleted=0,
        within_horizon=live,
        beyond_horizon=0,
        never_collected=0,
        last_collection_time=None if newest_age is None else NOW - newest_age,
    )


def hub_facts(*members: HubMember) -> HubFacts:
    return HubFacts(
        up=True,
        now=NOW,
        in_recovery=False,
        data_as_of=NOW,
        hosts=hosts(),
        members=members
        or (
            member("hub1", state="active", extended="PRI", master_ip=IP["hub1"]),
            member("hub2", 60.0, state="passive", extended="HS:async", master_ip=IP["hub1"]),
        ),
    )


def _file_name(keyword: str) -> str:
    """`ha_info_json=` -> ha_info.json, `master_hub_dat=` -> master_hub.dat, `ha_cfg=` -> ha.cfg."""
    return keyword.replace("_json", ".json").replace("_dat", ".dat").replace("ha_cfg", "ha.cfg")


def files(
    master: str | None = IP["hub1"],
    local: str = IP["hub1"],
    hubs: tuple[HaHub, ...] | None = None,
    **states: str,
) -> CfengineFiles:
    file_states = {
        "ha_info.json": "ok",
        "masterfiles/ha_info.json": "ok",
        "master_hub.dat": "ok",
        "ha_enabled": "ok",
        "ha.cfg": "ok",
        "am_policy_hub": "ok",
    }
    file_states.update({_file_name(k): v for k, v in states.items()})  # fmt: skip
    errors = {k: f"{k} is {v}" for k, v in file_states.items() if v != "ok"}
    if hubs is None:
        hubs = tuple(HaHub(IP[n], SHA[n], IP[n], True) for n in ("hub1", "hub2"))
    return CfengineFiles(
        file_states=file_states,
        errors=errors,
        hubs=None if file_states["ha_info.json"] != "ok" else hubs,
        master_hub_ip=master if file_states["master_hub.dat"] == "ok" else None,
        local_ips=frozenset({local, "127.0.0.1"}),
        ha_cfg=DOCUMENTED_HA_CFG if file_states["ha.cfg"] == "ok" else None,
        digests={"ha_info.json": 1, "masterfiles/ha_info.json": 1, "ha.cfg": 2},
    )


def daemons(
    cf_hub: DaemonStateName = "running",
    cf_serverd: DaemonStateName = "running",
) -> Daemons:
    return Daemons(
        {
            "cf-hub": DaemonState("cf-hub", cf_hub, 100, None if cf_hub == "running" else cf_hub),
            "cf-serverd": DaemonState(
                "cf-serverd", cf_serverd, 101, None if cf_serverd == "running" else cf_serverd
            ),
        }
    )


def mp_config(**states: str) -> MissionPortalConfig:
    found = {name: states.get(name, "ok") for name in NAMES}
    return MissionPortalConfig(found, {n: 7 for n, s in found.items() if s == "ok"})


def readiness(
    missing_clients: int | None = 0,
    hub_key: str = "ok",
    fits: bool | None = True,
) -> ReadinessFacts:
    keys = tuple(
        HubKey(IP[n], f"SHA={SHA[n]}", hub_key if n == "hub2" else "ok")  # type: ignore[arg-type]
        for n in ("hub1", "hub2")
    )
    room = RecloneRoom(needed_bytes=10 * 2**30, free_bytes=50 * 2**30 if fits else 2**30, fits=fits)
    return ReadinessFacts(
        hub_keys=keys,
        client_keys=ClientKeys(trusted=48, missing=missing_clients),
        mission_portal=None,
        reclone=room,
    )


@dataclass(frozen=True)
class ClusterSketch:
    """What a test says about pacemaker; `pacemaker()` makes the real state of it."""

    nodes: tuple[Node, ...] = (node("hub1"), node("hub2"))
    quorate: bool | None = True
    maintenance_mode: bool | None = False
    promoted: tuple[str, ...] | None = ("hub1",)
    """None: the database resource was not seen."""
    vip_nodes: tuple[str, ...] | None = ("hub1",)
    agent_status: Mapping[str, str] = field(
        default_factory=lambda: {"hub1": "PRI", "hub2": "HS:async"}
    )
    agent_data_status: Mapping[str, str] = field(
        default_factory=lambda: {"hub1": "LATEST", "hub2": "STREAMING|ASYNC"}
    )
    failed_actions: tuple[tuple[str, str, str, str], ...] = ()
    """(resource, task, node, reason)."""
    cli_constraints: tuple[str, ...] = ()
    pgsql_lock_local: bool | None = True

    def pacemaker(self, local: str) -> PacemakerState:
        names = sorted(set(self.agent_status) | set(self.agent_data_status))
        database = (
            None
            if self.promoted is None
            else states.placement("cfpgsql", self.promoted, self.promoted, clone="mscfpgsql")
        )
        vip = None if self.vip_nodes is None else states.placement("cfvirtip", self.vip_nodes)
        state = states.pacemaker(
            local,
            nodes=self.nodes,
            quorate=self.quorate,
            maintenance_mode=self.maintenance_mode,
            agent_views=tuple(
                states.agent(n, self.agent_status.get(n), self.agent_data_status.get(n))
                for n in names
            ),
            failed_actions=tuple(
                states.failure(rsc, on, task, reason, None)
                for rsc, task, on, reason in self.failed_actions
            ),
            location_constraints=tuple(states.location(c) for c in self.cli_constraints),
        )
        resources = tuple(r for r in (database, vip) if r is not None)
        return dataclasses.replace(state, database=database, vip=vip, resources=resources)


def cluster(**changes: Any) -> ClusterSketch:
    return ClusterSketch(**changes)


def corosync(quorate: bool | None = True, links_down: tuple[str, ...] | None = ()) -> CorosyncState:
    """Corosync's view; `links_down`: peers with link 0 down (None: links not read)."""
    state = states.corosync("hub1", quorate)
    if links_down is None:
        return state
    links = CorosyncLinks(local_nodeid=1, transport="knet", links=())
    peers = tuple(PeerLink(0, peer, None, LinkState.DISCONNECTED) for peer in links_down)
    return dataclasses.replace(state, links=links, peer_links=peers)


def collectors(*failed: tuple[str, str]) -> tuple[CollectorStatus, ...]:
    bad = dict(failed)
    return tuple(
        CollectorStatus(
            name, name not in bad, bad.get(name), f"{name} broke" if name in bad else None
        )
        for name in (
            "cfengine",
            "corosync",
            "daemons",
            "hub",
            "keys",
            "mission_portal",
            "pacemaker",
            "postgres",
        )
    )


def healthy(local: str = "hub1", **changes: Any) -> VerdictInputs:
    """The pair with hub1 primary, everything observed, as `local` sees it. `cluster=` takes a
    `ClusterSketch` (None: pacemaker not observed)."""
    sketch = changes.pop("cluster", cluster(pgsql_lock_local=local == "hub1"))
    base = VerdictInputs(
        node=local,
        collectors=collectors(),
        pg=pg_primary() if local == "hub1" else pg_standby(),
        hub=hub_facts(),
        files=files(local=IP[local]),
        pacemaker=sketch.pacemaker(local) if sketch is not None else None,
        pgsql_lock_local=sketch.pgsql_lock_local if sketch is not None else None,
        corosync=corosync(),
        daemons=daemons(cf_hub="running" if local == "hub1" else "absent"),
        mission_portal_config=mp_config(),
        readiness=readiness(),
    )
    return dataclasses.replace(base, **changes)
