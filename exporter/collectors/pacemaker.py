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

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.cib_model import CibConfig
from clusterstate.parsers.crm_mon import (
    CRM_MON_ARGV,
    ClusterStatus,
    ClusterUnavailableError,
    CrmMonParseError,
    parse_crm_mon,
)
from clusterstate.parsers.crm_mon_model import PacemakerdState
from clusterstate.parsers.pgsql_ra import DEFAULT_PGSQL_RESOURCE
from clusterstate.tools import CommandError, CommandResult, CommandRunner
from exporter.collectors.pacemaker_facts import PacemakerFacts, pacemaker_facts
from exporter.collectors.pacemaker_metrics import METRICS
from exporter.collectors.pacemaker_write import write_facts, write_local
from exporter.scrape import CollectorError
from servicekit.config import CollectorSettings
from servicekit.metrics import MetricSpec, MetricWriter

log = logging.getLogger(__name__)

# crm_exit_t codes crm_mon and cibadmin exit with, mapped to collector failure reasons.
_EXIT_REASONS = {
    4: "permission",  # CRM_EX_INSUFFICIENT_PRIV
    77: "permission",  # CRM_EX_NOPERM
    69: "unavailable",  # CRM_EX_UNAVAILABLE
    102: "unavailable",  # CRM_EX_DISCONNECT: "Not connected" (cluster not running here)
    124: "timeout",  # CRM_EX_TIMEOUT
}


class PacemakerConfig(CollectorSettings):
    crm_mon_path: str = Field(default="/usr/sbin/crm_mon", description="crm_mon to run.")
    cibadmin_path: str = Field(default="/usr/sbin/cibadmin", description="cibadmin to run.")
    crm_mon_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    cibadmin_timeout_seconds: float = Field(default=1.5, gt=0, le=60)
    cib_max_age_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Re-read the CIB configuration at least this often (and whenever crm_mon "
        "reports a configuration change).",
    )
    database_resource: str = Field(
        default=DEFAULT_PGSQL_RESOURCE,
        min_length=1,
        description="The pgsql primitive (or its promotable clone) that is 'the database'.",
    )
    vip_resource: str = Field(
        default="cfvirtip", min_length=1, description="The floating IP primitive (or its group)."
    )
    time_zone: str | None = Field(
        default=None,
        description="IANA zone crm_mon prints its local times in (also passed to it as TZ); "
        "default: $TZ, else /etc/localtime. Set it to read a saved CIB from another zone.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _timeouts_fit(self) -> PacemakerConfig:
        # crm_mon and cibadmin run one after the other within the collector's deadline
        total = self.crm_mon_timeout_seconds + self.cibadmin_timeout_seconds
        if total >= self.deadline_seconds:
            raise ValueError(
                f"crm_mon_timeout_seconds + cibadmin_timeout_seconds ({total:g}) must be "
                f"less than deadline_seconds ({self.deadline_seconds:g})"
            )
        return self


def local_zone(tz: str | None = None) -> tzinfo:
    """The zone pacemaker's tools print local times in: ``tz`` (default ``$TZ``) as an IANA
    name or a zone file, else /etc/localtime, else UTC.

    A real zone, not today's UTC offset: a July timestamp read in November needs July's offset.
    A POSIX rule string (``CET-1CEST,...``) cannot be read here; it logs and falls back.
    """
    text = os.environ.get("TZ") if tz is None else tz
    if text:
        name = text.removeprefix(":")
        try:
            if name.startswith("/"):
                with open(name, "rb") as zone_file:
                    return ZoneInfo.from_file(zone_file, key=name)
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            log.warning(
                "TZ=%r is not a time zone this exporter can read; using /etc/localtime", text
            )
    try:
        with open("/etc/localtime", "rb") as zone_file:
            return ZoneInfo.from_file(zone_file, key="localtime")
    except (OSError, ValueError):
        return UTC


@dataclass(frozen=True)
class _CachedCib:
    config: CibConfig
    read_at: float  # Unix time
    read_monotonic: float
    change_key: object


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
        self._config = config
        self._node = node
        self._runner = runner
        self._clock = clock
        self._zone = local_zone(config.time_zone)
        self._env = {"TZ": config.time_zone} if config.time_zone else None
        self._cib: _CachedCib | None = None

    def collect(self, out: MetricWriter) -> PacemakerFacts:
        status = self._status(out)
        current, cib_error = self._configuration(status)
        cached = self._cib
        facts = pacemaker_facts(
            status,
            cached.config if cached else None,
            local_node=self._node,
            database_resource=self._config.database_resource,
            vip_resource=self._config.vip_resource,
            cib_current=current,
            cib_read_at=cached.read_at if cached else None,
        )
        write_facts(out, facts, self._clock())
        if cib_error is not None:
            # Everything crm_mon said is published (without a current CIB copy, crm_mon's bans
            # stand in for the constraints), but the scrape was incomplete: say so.
            raise CollectorError(cib_error.reason, str(cib_error), partial=out, facts=facts)
        return facts

    # -- crm_mon -----------------------------------------------------------------------------

    def _status(self, out: MetricWriter) -> ClusterStatus:
        argv = [self._config.crm_mon_path, *CRM_MON_ARGV[1:]]
        try:
            result = self._runner.run(
                argv, timeout=self._config.crm_mon_timeout_seconds, env=self._env
            )
        except CommandError as exc:
            raise self._down(out, exc.reason, str(exc)) from exc
        try:
            return parse_crm_mon(result.stdout, local_tz=self._zone)
        except ClusterUnavailableError as exc:
            raise self._down(
                out, "unavailable", f"crm_mon: {exc}", pacemakerd_state=exc.pacemakerd_state
            ) from exc
        except CrmMonParseError as exc:
            if result.ok:
                raise self._down(out, "parse", f"crm_mon output: {exc}") from exc
            raise self._down(out, *_failed_command(result)) from exc

    def _down(
        self,
        out: MetricWriter,
        reason: str,
        message: str,
        *,
        pacemakerd_state: PacemakerdState | None = None,
    ) -> CollectorError:
        """Down is a fact: `up 0` and `local_is_dc 0` are published with the reason."""
        cached = self._cib
        facts = PacemakerFacts.down(
            local_node=self._node,
            reason=reason,
            message=message,
            pacemakerd_state=pacemakerd_state,
            cib=cached.config if cached else None,
            cib_read_at=cached.read_at if cached else None,
        )
        write_local(out, facts)
        return CollectorError(reason, message, partial=out, facts=facts)

    # -- CIB configuration ---------------------------------------------------------------------

    def _configuration(self, status: ClusterStatus) -> tuple[bool, CollectorError | None]:
        """Refresh the cached CIB configuration when it may have changed; say whether the cache
        matches the configuration crm_mon reports, and why a refresh failed.

        Why a cache: the configuration (constraints, resource parameters, cluster name) changes
        rarely, and every cibadmin call is one more round-trip to the CIB manager plus a full
        parse. crm_mon's last-change summary (who/when, to the second) tells when it changed;
        the age bound catches what that cannot show, e.g. two changes within one second.
        """
        summary = status.summary
        change_key = (
            (summary.last_change, summary.last_change_origin, summary.last_change_client)
            if summary is not None and summary.last_change is not None
            else None
        )
        cached = self._cib
        # Without a last-change time (a saved CIB lacking cib-last-written) only age counts.
        if (
            cached is not None
            and cached.change_key == change_key
            and time.monotonic() - cached.read_monotonic < self._config.cib_max_age_seconds
        ):
            return True, None
        try:
            config = self._read_cib()
        except CollectorError as exc:
            # When crm_mon reports no change since the cached copy, only the age-bound refresh
            # failed: the copy still matches the configuration.
            still_current = (
                cached is not None and change_key is not None and cached.change_key == change_key
            )
            return still_current, exc
        self._cib = _CachedCib(config, self._clock(), time.monotonic(), change_key)
        return True, None

    def _read_cib(self) -> CibConfig:
        argv = [self._config.cibadmin_path, "--query", "--scope", "configuration"]
        try:
            result = self._runner.run(
                argv, timeout=self._config.cibadmin_timeout_seconds, env=self._env
            )
        except CommandError as exc:
            raise CollectorError(exc.reason, f"CIB configuration: {exc}") from exc
        if not result.ok:
            reason, message = _failed_command(result)
            raise CollectorError(reason, f"CIB configuration: {message}")
        try:
            return parse_cib(result.stdout, local_tz=self._zone)
        except CibParseError as exc:
            raise CollectorError("parse", f"CIB configuration: {exc}") from exc


def _failed_command(result: CommandResult) -> tuple[str, str]:
    """Reason and message for a pacemaker tool that exited non-zero without usable output."""
    reason = _EXIT_REASONS.get(result.returncode, "command")
    tool = os.path.basename(result.argv[0]) if result.argv else "command"
    detail = result.stderr_tail() or "no output"
    return reason, f"{tool} exited {result.returncode}: {detail}"
