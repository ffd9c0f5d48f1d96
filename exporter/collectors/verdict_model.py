"""The HA verdict's data: its inputs (the typed facts of one scrape) and its result.

`VerdictInputs` holds what the collectors observed, in the shared cluster model's own types
(`clusterstate`): the rules read the same `PacemakerState` and `CorosyncState` the remediator
decides on. None means "not observed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine import CfengineFiles
from clusterstate.corosync import CorosyncState
from clusterstate.daemons import Daemons
from clusterstate.diagnosis import Diagnosis
from clusterstate.mission_portal import MissionPortalConfig
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from clusterstate.postgres import PgFacts
from exporter.collectors.readiness_model import ReadinessFacts

Status = Literal["holds", "clear", "unknown"]
ROLES = ("active", "passive", "unknown")
ROLE_HELP = (
    "runs the primary database (pgsql agent status PRI): collects reports, serves policy",
    "runs a hot standby (HS:async, HS:sync or HS:alone), ready to take over",
    "neither can be told (agent status STOP/UNKNOWN/other, or nothing observed)",
)
PASSIVE_AGENT_STATES = (PgsqlStatus.HS_ASYNC, PgsqlStatus.HS_SYNC, PgsqlStatus.HS_ALONE)
"""ha.cfg's cmp_slave: what Mission Portal calls passive."""


@dataclass(frozen=True)
class CollectorStatus:
    name: str
    ok: bool
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Thresholds:
    max_lag_bytes: float = 64 * 2**20
    max_lag_seconds: float = 60.0
    hub_report_stale_seconds: float | None = None
    """None: the hub collector's horizon (Mission Portal's blueHostHorizon where read)."""
    inventory_settle_seconds: float = 300.0
    """A hub's report collected this soon after a promotion may hold the HA inventory its agent
    gathered before it: a disagreement in it is not judged (one agent run: 5 minutes)."""


@dataclass(frozen=True)
class VerdictInputs:
    node: str
    collectors: tuple[CollectorStatus, ...] = ()
    pg: PgFacts | None = None
    pg_reason: str | None = None  # the postgres collector's failure reason, if it failed
    hub: HubFacts | None = None
    files: CfengineFiles | None = None
    pacemaker: PacemakerState | None = None
    """Only a pacemaker that answered (`up`): a failed read is the reason collector_failed."""
    pgsql_lock_local: bool | None = None
    """PGSQL.lock on this hub (None: not checked)."""
    corosync: CorosyncState | None = None
    """None: the collector is disabled; a failed read is here as a down state (unknown)."""
    daemons: Daemons | None = None
    mission_portal_config: MissionPortalConfig | None = None
    readiness: ReadinessFacts | None = None
    diagnosis: Diagnosis | None = None
    """Why this hub's standby does not stream (None: nothing to explain, or not diagnosed)."""


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
