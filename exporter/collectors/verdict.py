"""The HA verdict: a derived collector that turns this scrape's facts into OK or DEGRADED.

Example output on hub1 with the standby stopped::

    cfha_ha_degraded{cluster="cfcluster",node="hub1"} 1.0
    cfha_ha_degraded_reason{cluster="cfcluster",node="hub1",reason="replication_not_streaming"} 1.0
    cfha_ha_degraded_reason{cluster="cfcluster",node="hub1",reason="replication_lag"} NaN
    cfha_ha_reason_checked{cluster="cfcluster",node="hub1",reason="replication_lag"} 0.0
    cfha_ha_hub_role{cluster="cfcluster",node="hub2",state="unknown"} 1.0

`cfha_ha_degraded` and `cfha_ha_degraded_reason` carry `node` = the hub giving the verdict;
`cfha_ha_hub_role` carries `node` = the hub it is about (both hubs publish a role for both).
The rules live in `verdict_rules` (pure); the codes and sentences in `verdict_reasons`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine import CfengineFiles
from clusterstate.corosync import CorosyncState
from clusterstate.daemons import Daemons
from clusterstate.diagnosis import Diagnosis
from clusterstate.mission_portal import MissionPortalConfig
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.postgres import PgFacts
from exporter.collectors.pgsql_agent import PgsqlAgentFacts
from exporter.collectors.readiness_model import ReadinessFacts
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorResult, facts_of
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

from .verdict_model import ROLE_HELP, ROLES, CollectorStatus, Thresholds, Verdict, VerdictInputs
from .verdict_reasons import CODES
from .verdict_rules import evaluate


class VerdictConfig(CollectorSettings):
    max_lag_bytes: int = setting(
        default=64 * 2**20,
        ge=0,
        description="Replication lag (WAL bytes not replayed) above which the hub is degraded.",
    )
    max_lag_seconds: float = setting(
        default=60.0, ge=0, description="Replay lag in seconds above which the hub is degraded."
    )
    hub_report_stale_seconds: float | None = setting(
        default=None,
        gt=0,
        description="An HA hub whose own last report in cfdb is older than the newest report "
        "by more than this is 'stale'; default: the horizon in use (Mission Portal's "
        "blueHostHorizon where it can be read, else collectors.hub.horizon_seconds).",
    )

    inventory_settle_seconds: float = setting(
        default=300.0,
        ge=0,
        description="A hub's HA inventory collected this soon after a promotion may predate it: "
        "a disagreement in it is not judged (one agent run).",
    )

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            max_lag_bytes=float(self.max_lag_bytes),
            max_lag_seconds=self.max_lag_seconds,
            hub_report_stale_seconds=self.hub_report_stale_seconds,
            inventory_settle_seconds=self.inventory_settle_seconds,
        )


DEGRADED = MetricSpec(
    "cfha_ha_degraded",
    "This hub's HA verdict: 1 DEGRADED (at least one reason holds), 0 OK.",
    labels=("node",),
)
REASON = MetricSpec(
    "cfha_ha_degraded_reason",
    "Per reason code (docs/verdict.md): 1 while it holds, 0 while it does not, NaN while its "
    "inputs are unknown in this scrape. Every code is always published.",
    labels=("node", "reason"),
)
CHECKED = MetricSpec(
    "cfha_ha_reason_checked",
    "Per reason code: 1 if its inputs were observed in this scrape, 0 if not (then "
    "cfha_ha_degraded_reason is NaN).",
    labels=("node", "reason"),
)
HUB_ROLE = MetricSpec(
    "cfha_ha_hub_role",
    "Each HA hub's role as this hub sees it (`node` = the hub it is about), as Mission Portal "
    "names them.",
    kind=Kind.STATESET,
    labels=("node",),
    states=ROLES,
    state_help=ROLE_HELP,
)


def inputs_from(node: str, results: Mapping[str, CollectorResult]) -> VerdictInputs:
    """The verdict's inputs from this scrape's collector results."""
    pg_result = results.get("postgres")
    pacemaker = facts_of(results, "pacemaker", PacemakerState)
    agent = facts_of(results, "pgsql_agent", PgsqlAgentFacts)
    return VerdictInputs(
        node=node,
        collectors=tuple(
            CollectorStatus(r.name, r.ok, r.reason, r.message)
            for r in sorted(results.values(), key=lambda r: r.name)
        ),
        pg=facts_of(results, "postgres", PgFacts),
        pg_reason=None if pg_result is None or pg_result.ok else pg_result.reason,
        hub=facts_of(results, "hub", HubFacts),
        files=facts_of(results, "cfengine", CfengineFiles),
        pacemaker=pacemaker if pacemaker is not None and pacemaker.up else None,
        pgsql_lock_local=agent.lock.present if agent is not None else None,
        corosync=facts_of(results, "corosync", CorosyncState),
        daemons=facts_of(results, "daemons", Daemons),
        mission_portal_config=facts_of(results, "mission_portal", MissionPortalConfig),
        readiness=facts_of(results, "readiness", ReadinessFacts),
        diagnosis=facts_of(results, "diagnosis", Diagnosis),
    )


class VerdictCollector:
    name: ClassVar[str] = "verdict"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (DEGRADED, REASON, CHECKED, HUB_ROLE)

    def __init__(self, config: VerdictConfig, node: str) -> None:
        self._thresholds = config.thresholds
        self._node = node

    def collect(self, out: MetricWriter, results: Mapping[str, CollectorResult]) -> Verdict:
        others = {name: r for name, r in results.items() if name != self.name}
        verdict = evaluate(inputs_from(self._node, others), self._thresholds)
        write(out, verdict)
        return verdict


def write(out: MetricWriter, verdict: Verdict) -> None:
    node = verdict.node
    out.gauge(DEGRADED, 1.0 if verdict.degraded else 0.0, node=node)
    values = {"holds": 1.0, "clear": 0.0, "unknown": math.nan}
    for finding in verdict.findings:
        out.gauge(REASON, values[finding.status], node=node, reason=finding.code)
        checked = 0.0 if finding.status == "unknown" else 1.0
        out.gauge(CHECKED, checked, node=node, reason=finding.code)
    assert tuple(f.code for f in verdict.findings) == CODES
    for hub in verdict.hubs:
        out.state(HUB_ROLE, hub.role, node=hub.node)
