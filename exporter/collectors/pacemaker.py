"""Pacemaker as crm_mon on this hub sees it: one crm_mon call per scrape, plus the CIB's
configuration (cached) for constraints, resource parameters and the cluster's name.

Example output of a healthy CFEngine pair, scraped on hub1 (the DC; `cluster` left out where
the line would be too long)::

    cfha_pacemaker_up{cluster="cfcluster",node="hub1"} 1.0
    cfha_pacemaker_local_is_dc{cluster="cfcluster",node="hub1"} 1.0
    cfha_pacemaker_node_state{cluster="cfcluster",node="hub2",state="online"} 1.0
    cfha_pacemaker_resource_role{node="hub1",resource="cfpgsql",state="promoted"} 1.0
    cfha_pacemaker_database_promoted{cluster="cfcluster",node="hub1",resource="cfpgsql"} 1.0
    cfha_pacemaker_vip_active{cluster="cfcluster",node="hub1",resource="cfvirtip"} 1.0
    cfha_pacemaker_cli_constraints{cluster="cfcluster",kind="cli-ban"} 0.0

and where the cluster is not running: `cfha_pacemaker_up{node="hub1"} 0`, `local_is_dc 0`, the
failure reason `unavailable`, and no cluster series (unknown, not "fine"). Like pacemaker's own
tools, crm_mon and cibadmin honour `CIB_file` in the environment: with it a saved CIB (from a
support report) is read offline, e.g. `CIB_file=cib.xml cfha-exporter --once`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from clusterstate.pacemaker import PacemakerDown, PacemakerReader, PacemakerSettings
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.pgsql_ra import DEFAULT_PGSQL_RESOURCE
from clusterstate.timezone import valid_zone_name
from clusterstate.tools import CommandRunner
from exporter.collectors.pacemaker_metrics import CRM_MON_FORMAT, METRICS
from exporter.collectors.pacemaker_write import write_local, write_state
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import MetricSpec, MetricWriter
from servicekit.settings import setting


class PacemakerConfig(CollectorSettings):
    crm_mon_path: str = setting(default="/usr/sbin/crm_mon", description="crm_mon to run.")
    cibadmin_path: str = setting(default="/usr/sbin/cibadmin", description="cibadmin to run.")
    crm_mon_timeout_seconds: float = setting(default=3.0, gt=0, le=60)
    cibadmin_timeout_seconds: float = setting(default=1.5, gt=0, le=60)
    cib_max_age_seconds: float = setting(
        default=60.0,
        ge=0,
        le=3600,
        description="Re-read the CIB configuration at least this often (and whenever crm_mon "
        "reports a configuration change).",
    )
    database_resource: str = setting(
        default=DEFAULT_PGSQL_RESOURCE,
        min_length=1,
        description="The pgsql primitive (or its promotable clone) that is 'the database'.",
    )
    vip_resource: str = setting(
        default="cfvirtip", min_length=1, description="The floating IP primitive (or its group)."
    )
    time_zone: str | None = setting(
        default=None,
        description="IANA zone (or zone file) crm_mon prints its local times in (also passed to "
        "it as TZ); default: $TZ, else /etc/localtime. Set it to read a saved CIB from another "
        "zone.",
        check=lambda value, _: valid_zone_name(value),
    )

    def problems(self) -> list[str]:
        # crm_mon and cibadmin run one after the other within the collector's deadline
        total = self.crm_mon_timeout_seconds + self.cibadmin_timeout_seconds
        if total >= self.deadline_seconds:
            return [
                f"crm_mon_timeout_seconds + cibadmin_timeout_seconds ({total:g}) must be "
                f"less than deadline_seconds ({self.deadline_seconds:g})"
            ]
        return []

    @property
    def reader_settings(self) -> PacemakerSettings:
        return PacemakerSettings(
            database_resource=self.database_resource,
            vip_resource=self.vip_resource,
            crm_mon_path=self.crm_mon_path,
            cibadmin_path=self.cibadmin_path,
            crm_mon_timeout_seconds=self.crm_mon_timeout_seconds,
            cibadmin_timeout_seconds=self.cibadmin_timeout_seconds,
            cib_max_age_seconds=self.cib_max_age_seconds,
            time_zone=self.time_zone,
        )


class PacemakerCollector:
    name: ClassVar[str] = "pacemaker"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS

    def __init__(
        self,
        config: PacemakerConfig,
        node: str,
        runner: CommandRunner,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._reader = PacemakerReader(config.reader_settings, node, runner, clock=clock)

    def collect(self, out: MetricWriter) -> PacemakerState:
        try:
            state = self._reader.read()
        except PacemakerDown as exc:
            # Down is a fact: `up 0` and `local_is_dc 0` are published with the reason.
            write_local(out, exc.state)
            self._write_format(out, exc.state.local_node)
            raise CollectorError(exc.reason, str(exc), partial=out, facts=exc.state) from exc
        write_state(out, state, self._clock())
        self._write_format(out, state.local_node)
        if state.cib_error is not None:
            # Everything crm_mon said is published (without a current CIB copy, crm_mon's bans
            # stand in for the constraints), but the scrape was incomplete: say so.
            reason, message = state.cib_error
            raise CollectorError(reason, message, partial=out, facts=state)
        return state

    def _write_format(self, out: MetricWriter, node: str) -> None:
        if self._reader.last_format is not None:
            out.state(CRM_MON_FORMAT, self._reader.last_format.value, node=node)
