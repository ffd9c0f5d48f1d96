"""Hand-made facts for the verdict's unit tests: a healthy pair as hub1 sees it, and variations."""

from __future__ import annotations

import dataclasses
from typing import Any

from clusterstate.parsers.cfengine_files import HaHub
from clusterstate.postgres import PgFacts, StandbyLink, WalReceiver
from exporter.collectors.cfengine import CfengineFacts
from exporter.collectors.hub import HubFacts, HubMember
from exporter.collectors.verdict_model import (
    ClusterNode,
    ClusterView,
    CollectorStatus,
    CorosyncView,
    VerdictInputs,
)

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
    )


def pg_down() -> PgFacts:
    return PgFacts(up=False, error="connection refused")


def member(name: str, age: float | None = 30.0, in_cluster: bool = True) -> HubMember:
    return HubMember(
        name=name,
        ip=IP.get(name, "10.250.5.3"),
        hostkey=f"SHA={SHA.get(name, 'c' * 64)}",
        is_in_cluster=in_cluster,
        known=age is not None,
        last_report_time=None if age is None else NOW - age,
    )


def hub_facts(*members: HubMember) -> HubFacts:
    return HubFacts(
        up=True,
        now=NOW,
        in_recovery=False,
        data_as_of=NOW,
        members=members or (member("hub1"), member("hub2", 60.0)),
    )


def files(
    master: str | None = IP["hub1"],
    local: str = IP["hub1"],
    hubs: tuple[HaHub, ...] | None = None,
    **states: str,
) -> CfengineFacts:
    file_states = {"ha_info.json": "ok", "master_hub.dat": "ok", "ha_enabled": "ok"}
    file_states.update({k.replace("_json", ".json").replace("_dat", ".dat"): v
                        for k, v in states.items()})  # fmt: skip
    errors = {k: f"{k} is {v}" for k, v in file_states.items() if v != "ok"}
    if hubs is None:
        hubs = tuple(HaHub(IP[n], SHA[n], IP[n], True) for n in ("hub1", "hub2"))
    return CfengineFacts(
        file_states=file_states,
        errors=errors,
        hubs=None if file_states["ha_info.json"] != "ok" else hubs,
        master_hub_ip=master if file_states["master_hub.dat"] == "ok" else None,
        local_ips=frozenset({local, "127.0.0.1"}),
    )


def cluster(**changes: Any) -> ClusterView:
    healthy = ClusterView(
        nodes=(ClusterNode("hub1", online=True), ClusterNode("hub2", online=True)),
        quorate=True,
        maintenance_mode=False,
        promoted=("hub1",),
        vip_nodes=("hub1",),
        agent_status={"hub1": "PRI", "hub2": "HS:async"},
        agent_data_status={"hub1": "LATEST", "hub2": "STREAMING|ASYNC"},
        pgsql_lock_local=True,
    )
    return dataclasses.replace(healthy, **changes)


def collectors(*failed: tuple[str, str]) -> tuple[CollectorStatus, ...]:
    bad = dict(failed)
    return tuple(
        CollectorStatus(
            name, name not in bad, bad.get(name), f"{name} broke" if name in bad else None
        )
        for name in ("cfengine", "corosync", "hub", "pacemaker", "postgres")
    )


def healthy(node: str = "hub1", **changes: Any) -> VerdictInputs:
    """The pair with hub1 primary, everything observed, as `node` sees it."""
    base = VerdictInputs(
        node=node,
        collectors=collectors(),
        pg=pg_primary() if node == "hub1" else pg_standby(),
        hub=hub_facts(),
        files=files(local=IP[node]),
        cluster=cluster(pgsql_lock_local=node == "hub1"),
        corosync=CorosyncView(quorate=True, links_down=()),
    )
    return dataclasses.replace(base, **changes)
