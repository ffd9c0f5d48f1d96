"""The pgsql resource agent's view (its node attributes, decoded) and PGSQL.lock on this hub.

A derived collector: the attributes come from the same crm_mon call as the `pacemaker`
collector's facts (no second call), and its own work is one stat() of the lock file. The agent's
values are published as closed state sets and numbers, never as label values that change.

Example output for hub1 as primary, with the lock the agent created when it promoted::

    cfha_pgsql_status{cluster="cfcluster",node="hub1",resource="cfpgsql",state="PRI"} 1.0
    cfha_pgsql_data_status{cluster="cfcluster",node="hub2",resource="cfpgsql",state="STREAMING"} 1.0
    cfha_pgsql_sync_state{cluster="cfcluster",node="hub2",resource="cfpgsql",state="ASYNC"} 1.0
    cfha_pgsql_promotion_score{cluster="cfcluster",node="hub2",resource="cfpgsql"} 100.0
    cfha_pgsql_lock_present{cluster="cfcluster",node="hub1"} 1.0
    cfha_pgsql_lock_age_seconds{cluster="cfcluster",node="hub1"} 3600.0

The lock is `<tmpdir>/PGSQL.lock`, `tmpdir` being the resource's parameter in the CIB (config
`lock_path` overrides). Without pacemaker's status only the lock is published, and the collector
reports `unavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from clusterstate.host import AgentScripts, PgsqlLock, pgsql_lock
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.described import DescribedEnum
from clusterstate.parsers.pgsql_agent_script import ocf_agent_path, reads_crm_mon
from clusterstate.parsers.pgsql_ra import (
    PgsqlAgentView,
    PgsqlStatus,
    ReceiverStatus,
    ReplicationState,
    SyncState,
)
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError, CollectorResult
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting


class PgsqlAgentConfig(CollectorSettings):
    lock_path: str | None = setting(
        default=None,
        description="PGSQL.lock to watch; default: <tmpdir>/PGSQL.lock with the database "
        "resource's tmpdir parameter from the CIB.",
    )
    agent_script_path: str | None = setting(
        default=None,
        description="The pgsql agent script; default: the database resource's OCF agent "
        "(ocf:heartbeat:pgsql -> /usr/lib/ocf/resource.d/heartbeat/pgsql).",
    )


ABSENT = "absent"
ABSENT_HELP = "the agent has not set this attribute for the node (not running there, or offline)"


def _states(name: str, help_text: str, enum: type[DescribedEnum]) -> MetricSpec:
    """A per-node state set over an agent attribute's values, plus `absent`."""
    return MetricSpec(
        name,
        help_text,
        kind=Kind.STATESET,
        labels=("node", "resource"),
        states=(*(e.value for e in enum), ABSENT),
        state_help=(*(e.description for e in enum), ABSENT_HELP),
    )


N = ("node",)
NR = ("node", "resource")
STATUS = _states(
    "cfha_pgsql_status",
    "The agent's <resource>-status attribute of each node: what it says PostgreSQL there is.",
    PgsqlStatus,
)
DATA_STATUS = _states(
    "cfha_pgsql_data_status",
    "First part of the agent's permanent <resource>-data-status attribute (the CIB keeps it for "
    "offline nodes): how current the node's data is. Promotion needs STREAMING or LATEST.",
    ReplicationState,
)
SYNC_STATE = _states(
    "cfha_pgsql_sync_state",
    "Second part of <resource>-data-status (STREAMING|ASYNC -> ASYNC).",
    SyncState,
)
RECEIVER_STATUS = _states(
    "cfha_pgsql_receiver_status",
    "The agent's <resource>-receiver-status attribute (with check_wal_receiver=true).",
    ReceiverStatus,
)
PROMOTION_SCORE = MetricSpec(
    "cfha_pgsql_promotion_score",
    "The master-<resource> promotion score: 1000 primary, 100 may be promoted, -Inf must not be.",
    labels=NR,
)
BASELINE = MetricSpec(
    "cfha_pgsql_master_baseline_lsn_bytes",
    "<resource>-master-baseline: WAL position (bytes) at which the node was promoted.",
    labels=NR,
)
XLOG_LOCATION = MetricSpec(
    "cfha_pgsql_xlog_location_lsn_bytes",
    "<resource>-xlog-loc: newest WAL position (bytes) of a standby, set only while the agent "
    "elects a new primary.",
    labels=NR,
)
LOCK_PRESENT = MetricSpec(
    "cfha_pgsql_lock_present",
    "1 if PGSQL.lock exists on this hub. The agent creates it when it promotes PostgreSQL here, "
    "so the primary has one; on any other hub it was left by a primary that did not stop "
    "cleanly, and the agent will not start PostgreSQL there until an operator resyncs it and "
    "removes the lock. Absent when it cannot be checked.",
    labels=N,
)
LOCK_MODIFIED = MetricSpec(
    "cfha_pgsql_lock_modified_timestamp_seconds",
    "When PGSQL.lock was last modified (the promotion that created it).",
    labels=N,
)
LOCK_AGE = MetricSpec(
    "cfha_pgsql_lock_age_seconds", "Time since PGSQL.lock was last modified.", labels=N
)
LOCK_INFO = MetricSpec(
    "cfha_pgsql_lock_info",
    "Where this hub looks for PGSQL.lock.",
    kind=Kind.INFO,
    labels=(*N, "path"),
)
AGENT_INFO = MetricSpec(
    "cfha_pgsql_agent_info",
    "Which pgsql agent runs the database resource on this hub: ClusterLabs' stock agent or "
    "CFEngine's fork (contrib/pgsql_RA), and how it reads the cluster's status (crm_mon XML or "
    "crm_mon -n1 text). Absent when the agent script cannot be read.",
    kind=Kind.INFO,
    labels=(*N, "flavour", "crm_mon"),
)
AGENT_READS_CRM_MON = MetricSpec(
    "cfha_pgsql_agent_reads_crm_mon",
    "1 if this hub's pgsql agent can find the primary and the online nodes in this pacemaker's "
    "crm_mon, 0 if it cannot (CFEngine's fork greps crm_mon text, whose layout changed in "
    "pacemaker 2.0.4: its <resource>-status and -data-status attributes are then stale). Absent "
    "when unknown.",
    labels=N,
)
METRICS: tuple[MetricSpec, ...] = (
    STATUS, DATA_STATUS, SYNC_STATE, RECEIVER_STATUS, PROMOTION_SCORE, BASELINE, XLOG_LOCATION,
    LOCK_PRESENT, LOCK_MODIFIED, LOCK_AGE, LOCK_INFO, AGENT_INFO, AGENT_READS_CRM_MON,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PgsqlAgentFacts:
    """What the `pgsql_agent` collector observed in one scrape."""

    local_node: str
    resource: str
    views: tuple[PgsqlAgentView, ...]
    """Per node, sorted by name; empty when pacemaker's status is unknown."""
    lock: PgsqlLock

    def view(self, node: str) -> PgsqlAgentView | None:
        return next((v for v in self.views if v.node == node), None)


class PgsqlAgentCollector:
    name: ClassVar[str] = "pgsql_agent"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS

    def __init__(
        self,
        config: PgsqlAgentConfig,
        node: str,
        database_resource: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._node = node
        self._resource = database_resource
        self._clock = clock
        self._scripts = AgentScripts()

    def collect(self, out: MetricWriter, results: Mapping[str, CollectorResult]) -> PgsqlAgentFacts:
        pacemaker = results.get("pacemaker")
        facts = pacemaker.facts if pacemaker is not None else None
        pcmk = facts if isinstance(facts, PacemakerState) else None
        # The resource's tmpdir comes from the newest CIB copy, even while pacemaker is down.
        params = pcmk.pgsql if pcmk is not None else None
        path = self._config.lock_path or (params.lock_path if params is not None else "")
        lock = pgsql_lock(path, self._clock())
        if not path:
            # Without the resource's tmpdir the agent's default path would be a guess, and a
            # guess reads as "no lock": unknown instead.
            lock = replace(lock, error=f"{lock.error} (set collectors.pgsql_agent.lock_path)")
        views = pcmk.agent_views if pcmk is not None and pcmk.up else ()
        result = PgsqlAgentFacts(self._node, self._resource, views, lock)
        self._write(out, result)
        self._write_agent(out, pcmk)
        if pcmk is None or not pcmk.up:
            why = (
                "the pacemaker collector is disabled"
                if pacemaker is None
                else f"pacemaker: {pcmk.down_message if pcmk else pacemaker.message}"
            )
            message = f"no agent attributes ({why})"
            if lock.error is not None:
                message += f"; {lock.error}"
            raise CollectorError("unavailable", message, partial=out, facts=result)
        if lock.error is not None:
            reason = lock.error_reason or "unavailable"
            raise CollectorError(reason, lock.error, partial=out, facts=result)
        return result

    def _write(self, out: MetricWriter, facts: PgsqlAgentFacts) -> None:
        for view in facts.views:
            labels = {"node": view.node, "resource": view.resource}
            out.state(STATUS, _value(view.status), **labels)
            out.state(DATA_STATUS, _value(view.replication_state), **labels)
            out.state(SYNC_STATE, _value(view.sync_state), **labels)
            out.state(RECEIVER_STATUS, _value(view.receiver_status), **labels)
            out.gauge(PROMOTION_SCORE, view.promotion_score, **labels)
            out.gauge(BASELINE, view.master_baseline_lsn, **labels)
            out.gauge(XLOG_LOCATION, view.xlog_location_lsn, **labels)
        lock = facts.lock
        if lock.path:
            out.info(LOCK_INFO, node=self._node, path=lock.path)
        if lock.present is not None:
            out.gauge(LOCK_PRESENT, float(lock.present), node=self._node)
        out.gauge(LOCK_MODIFIED, lock.modified_at, node=self._node)
        out.gauge(LOCK_AGE, lock.age_seconds, node=self._node)

    def _write_agent(self, out: MetricWriter, pcmk: PacemakerState | None) -> None:
        params = pcmk.pgsql if pcmk is not None else None
        path = self._config.agent_script_path or (ocf_agent_path(params.agent) if params else None)
        script = self._scripts.read(path) if path else None
        if script is None:
            return
        flavour = "cfengine_fork" if script.cfengine_fork else "stock"
        out.info(AGENT_INFO, node=self._node, flavour=flavour, crm_mon=script.crm_mon_reading)
        summary = pcmk.status.summary if pcmk is not None and pcmk.status else None
        dc = summary.dc if summary is not None else None
        reads = reads_crm_mon(script.crm_mon_reading, dc.version if dc else None)
        if reads is not None:
            out.gauge(AGENT_READS_CRM_MON, float(reads), node=self._node)


def _value(member: DescribedEnum | None) -> str:
    return ABSENT if member is None else member.value
