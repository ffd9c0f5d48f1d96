"""The HA verdict's data: its inputs (typed facts of one scrape) and its result.

`VerdictInputs` holds what the collectors observed, plus small views of the cluster
(`ClusterView`, `CorosyncView`) that adapters fill from the pacemaker and corosync collectors,
so the rules (`verdict_rules`) never depend on how those are parsed. None means "not observed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from clusterstate.postgres import PgFacts
from exporter.collectors.cfengine import CfengineFacts
from exporter.collectors.hub import HubFacts

Status = Literal["holds", "clear", "unknown"]
ROLES = ("active", "passive", "unknown")
ROLE_HELP = (
    "runs the primary database (pgsql agent status PRI): collects reports, serves policy",
    "runs a hot standby (HS:async, HS:sync or HS:alone), ready to take over",
    "neither can be told (agent status STOP/UNKNOWN/other, or nothing observed)",
)
PASSIVE_AGENT_STATES = ("HS:async", "HS:sync", "HS:alone")  # ha.cfg's cmp_slave


@dataclass(frozen=True)
class CollectorStatus:
    name: str
    ok: bool
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ClusterNode:
    name: str
    online: bool
    standby: bool = False
    unclean: bool = False
    maintenance: bool = False


@dataclass(frozen=True)
class ClusterView:
    """What the verdict needs from pacemaker; None fields were not observed."""

    nodes: tuple[ClusterNode, ...] = ()
    quorate: bool | None = None
    maintenance_mode: bool | None = None
    promoted: tuple[str, ...] | None = None  # nodes running the database resource promoted
    vip_nodes: tuple[str, ...] | None = None  # nodes running the floating IP
    failed_actions: tuple[str, ...] = ()  # "cfpgsql monitor on hub2: not running"
    cli_constraints: tuple[str, ...] = ()  # constraint ids
    agent_status: Mapping[str, str] = field(default_factory=dict)  # node -> cfpgsql-status
    agent_data_status: Mapping[str, str] = field(default_factory=dict)  # node -> data-status
    pgsql_lock_local: bool | None = None  # PGSQL.lock on this hub


@dataclass(frozen=True)
class CorosyncView:
    quorate: bool | None = None
    links_down: tuple[str, ...] | None = None  # "hub2 link 0"


@dataclass(frozen=True)
class Thresholds:
    max_lag_bytes: float = 64 * 2**20
    max_lag_seconds: float = 60.0
    hub_report_stale_seconds: float = 900.0


@dataclass(frozen=True)
class VerdictInputs:
    node: str
    collectors: tuple[CollectorStatus, ...] = ()
    pg: PgFacts | None = None
    pg_reason: str | None = None  # the postgres collector's failure reason, if it failed
    hub: HubFacts | None = None
    files: CfengineFacts | None = None
    cluster: ClusterView | None = None
    corosync: CorosyncView | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    status: Status
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class HubState:
    """One HA hub as this hub sees it, for the page and `cfha_ha_hub_role`."""

    node: str
    role: str  # one of ROLES
    local: bool
    ip: str | None = None
    state_as_of: float | None = None  # its own last report in cfdb
    stale: bool | None = None  # state_as_of older than the threshold (None: unknown)


@dataclass(frozen=True)
class Verdict:
    node: str
    findings: tuple[Finding, ...]
    hubs: tuple[HubState, ...]

    @property
    def degraded(self) -> bool:
        return any(f.status == "holds" for f in self.findings)

    @property
    def holding(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "holds")

    @property
    def unknown(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "unknown")

    def finding(self, code: str) -> Finding:
        return next(f for f in self.findings if f.code == code)
