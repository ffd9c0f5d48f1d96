"""CFEngine hub reporting as this hub's cfdb sees it (the active hub's, or the passive's replica).

Example output::

    cfha_hub_up{cluster="cfcluster",node="hub1"} 1.0
    cfha_hub_hosts{cluster="cfcluster",node="hub1"} 51.0
    cfha_hub_hosts_by_last_report{cluster="cfcluster",last_report="beyond_horizon",node="hub1"} 5.0
    cfha_hub_hosts_agent_status{cluster="cfcluster",node="hub1",status="fail"} 3.0
    cfha_hub_connection_errors{cluster="cfcluster",message="ServerNoReply",node="hub1"} 4.0
    cfha_hub_member_last_report_timestamp_seconds{cluster="cfcluster",node="hub2"} 1.7e+09

`node` is the observing hub, except on `cfha_hub_member_*`, which are about each HA hub of
ha_info.json (its own last report in cfdb: the "state as of" of the status page). Both hubs
publish those; read them with `max by (cluster, node)`.

A table or column this cfdb lacks makes the collector fail with reason `schema` (naming what is
missing, see `cfha_hub_table_usable`) while everything the other tables allow is still published.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from clusterstate.cfdb import (
    HORIZON_SOURCES,
    HubFacts,
    HubMember,
    HubReader,
    HubReaderSettings,
    HubUnreadable,
    hub_name,
)
from clusterstate.cfdb_schema import TABLES
from clusterstate.cfdb_sql import AGENT_STATUSES, ERROR_MESSAGES, LAST_REPORT, OUTCOMES
from clusterstate.cfengine import HA_INFO, read_local_addresses
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from clusterstate.pg import PgSession
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

__all__ = ["HubCollector", "HubConfig", "HubFacts", "HubMember", "hub_name"]

DEFAULT_CONNINFO = "host=/tmp dbname=cfdb"  # CFEngine's PostgreSQL: its socket is in /tmp


class HubConfig(CollectorSettings):
    conninfo: str | None = setting(
        default=None,
        description="libpq connection string of this hub's cfdb; default: the postgres "
        "collector's (one database, configured once).",
    )
    password_file: Path | None = setting(
        default=None,
        description="File holding the password; never logged. Default: the postgres "
        "collector's, when `conninfo` is not set here.",
    )
    connect_timeout_seconds: int = setting(default=2, ge=2, le=30)
    statement_timeout_seconds: float = setting(default=2.0, gt=0, le=30)
    horizon_seconds: int = setting(
        default=900,
        ge=60,
        le=30 * 86400,
        description="A host whose last report is older is 'not reporting'. Used when Mission "
        "Portal's own setting (blueHostHorizon in the cfsettings database) cannot be read.",
    )
    settings_database: str | None = setting(
        default="cfsettings",
        description="Mission Portal's settings database on the same server, for its "
        "blueHostHorizon (read every 5 minutes); null to use `horizon_seconds` only.",
    )
    window_seconds: int = setting(
        default=900,
        ge=60,
        le=7 * 86400,
        description="Collection outcomes and connection errors are counted over this window.",
    )
    ha_info_path: Path | None = setting(
        default=Path("/var/cfengine") / HA_INFO,
        description="ha_info.json (the copy the agent reads, under inputs), for the HA hubs' "
        "host keys (their own last report time); null to skip.",
    )
    hub_names: dict[str, str] = setting(
        default_factory=dict,
        description="Hub IP -> pacemaker node name. Default: this hub's own address is this "
        "node, others are named by their inventory 'Host name' (up to the first dot).",
    )

    def reader_settings(self, database: tuple[str, Path | None]) -> HubReaderSettings:
        """`database`: the connection string and password file to use when no `conninfo` is
        set here (the postgres collector's)."""
        conninfo, password_file = (self.conninfo, self.password_file) if self.conninfo else database
        return HubReaderSettings(
            conninfo=conninfo,
            password_file=password_file,
            connect_timeout_seconds=self.connect_timeout_seconds,
            statement_timeout_seconds=self.statement_timeout_seconds,
            horizon_seconds=self.horizon_seconds,
            window_seconds=self.window_seconds,
            ha_info_path=self.ha_info_path,
            hub_names=self.hub_names,
            settings_database=self.settings_database,
        )


N = ("node",)
UP = MetricSpec("cfha_hub_up", "1 if this hub's cfdb answered the scrape's queries.", labels=N)
TABLE_USABLE = MetricSpec(
    "cfha_hub_table_usable",
    "1 if cfdb has the table and the columns the collector reads (0: reason `schema`).",
    labels=(*N, "table"),
)
AS_OF = MetricSpec(
    "cfha_hub_data_as_of_timestamp_seconds",
    "The time cfdb's data on this hub is current as of: now on the primary and on a caught-up "
    "standby, the last replayed commit when replay is behind or cut off. Host freshness below is "
    "relative to it.",
    labels=N,
)
HORIZON = MetricSpec(
    "cfha_hub_horizon_seconds",
    "The 'not reporting' horizon in use: Mission Portal's blueHostHorizon where it can be read, "
    "else the configured one (see cfha_hub_horizon_source).",
    labels=N,
)
HORIZON_SOURCE = MetricSpec(
    "cfha_hub_horizon_source",
    "Where the horizon in use comes from.",
    kind=Kind.STATESET,
    labels=N,
    states=HORIZON_SOURCES,
    state_help=(
        "Mission Portal's setting blueHostHorizon (cfsettings database)",
        "the exporter's configuration (collectors.hub.horizon_seconds)",
    ),
)
WINDOW = MetricSpec(
    "cfha_hub_window_seconds",
    "The window over which collections and connection errors are counted (configured).",
    labels=N,
)
HOSTS = MetricSpec("cfha_hub_hosts", "Hosts cfdb knows (not marked deleted).", labels=N)
DELETED = MetricSpec(
    "cfha_hub_hosts_deleted",
    "Hosts marked deleted in cfdb (absent when this cfdb has no `deleted` column).",
    labels=N,
)
BY_LAST_REPORT = MetricSpec(
    "cfha_hub_hosts_by_last_report",
    "Known hosts by their last report: within_horizon, beyond_horizon (Mission Portal's 'not "
    "reporting'), never (never collected). The three add up to cfha_hub_hosts.",
    labels=(*N, "last_report"),
)
LAST_COLLECTION = MetricSpec(
    "cfha_hub_last_collection_timestamp_seconds",
    "The newest report cfdb holds from any host (Unix time): stops moving when cf-hub stops "
    "collecting.",
    labels=N,
)
AGENT_STATUS = MetricSpec(
    "cfha_hub_hosts_agent_status",
    "Hosts by their agent's last execution status: ok, fail (no agent run within 3x its "
    "interval), other (unset or unknown value). Every __agentstatus row counts, also that of a "
    "host marked deleted while cfdb keeps it.",
    labels=(*N, "status"),
)
COLLECTIONS = MetricSpec(
    "cfha_hub_collections",
    "Collection attempts cf-hub recorded in __status within the window, by outcome: consumed, "
    "failed (FAILED*), other.",
    labels=(*N, "outcome"),
)
CONNECTION_ERRORS = MetricSpec(
    "cfha_hub_connection_errors",
    "cf-hub connection errors (__hubconnectionerrors) within the window, by message: "
    "ServerNoReply, InvalidData, ServerAuthenticationError, other.",
    labels=(*N, "message"),
)
MEMBER_INFO = MetricSpec(
    "cfha_hub_member_info",
    "Each HA hub of ha_info.json (`node` = that hub), its address and host key.",
    kind=Kind.INFO,
    labels=(*N, "hub_ip", "hostkey"),
)
MEMBER_KNOWN = MetricSpec(
    "cfha_hub_member_known",
    "1 if cfdb knows the HA hub as a host (`node` = that hub); 0: it never reported here.",
    labels=N,
)
MEMBER_LAST_REPORT = MetricSpec(
    "cfha_hub_member_last_report_timestamp_seconds",
    "When cfdb last got a report from the HA hub (`node` = that hub; Unix time): its 'state "
    "as of'. Absent if never.",
    labels=N,
)


HA_STATES = ("active", "passive", "other", "absent")
MEMBER_HA_STATE = MetricSpec(
    "cfha_hub_member_ha_state",
    "The inventory attribute `HA node state` the HA hub last reported (`node` = that hub).",
    kind=Kind.STATESET,
    labels=N,
    states=HA_STATES,
    state_help=(
        "it reported itself active",
        "it reported itself passive",
        "another value",
        "it has not reported the attribute (or cfdb has no inventory)",
    ),
)
_EXTENDED = tuple(s.value for s in PgsqlStatus)
MEMBER_HA_STATE_EXTENDED = MetricSpec(
    "cfha_hub_member_ha_state_extended",
    "The inventory attribute `HA node state extended` (the pgsql agent's status as that hub "
    "last reported it; `node` = that hub).",
    kind=Kind.STATESET,
    labels=N,
    states=(*_EXTENDED, "absent"),
    state_help=(*(s.description for s in PgsqlStatus), "not reported"),
)
MEMBER_HA_MASTER_IP = MetricSpec(
    "cfha_hub_member_ha_master_ip_info",
    "The inventory attribute `HA master IP` the HA hub last reported (`node` = that hub).",
    kind=Kind.INFO,
    labels=(*N, "ip"),
)
HOSTKEYS = MetricSpec(
    "cfha_hub_hostkeys_read",
    "Live host keys read from cfdb for the key checks (re-read when the number of hosts "
    "changes, else every 5 minutes; absent when not read).",
    labels=N,
)


class HubCollector:
    name: ClassVar[str] = "hub"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        UP,
        TABLE_USABLE,
        AS_OF,
        HORIZON,
        HORIZON_SOURCE,
        WINDOW,
        HOSTS,
        DELETED,
        BY_LAST_REPORT,
        LAST_COLLECTION,
        AGENT_STATUS,
        COLLECTIONS,
        CONNECTION_ERRORS,
        MEMBER_INFO,
        MEMBER_KNOWN,
        MEMBER_LAST_REPORT,
        MEMBER_HA_STATE,
        MEMBER_HA_STATE_EXTENDED,
        MEMBER_HA_MASTER_IP,
        HOSTKEYS,
    )

    def __init__(
        self,
        config: HubConfig,
        node: str,
        session: PgSession | None = None,
        local_addresses: Callable[[], frozenset[str]] = read_local_addresses,
        *,
        database: tuple[str, Path | None] = (DEFAULT_CONNINFO, None),
    ) -> None:
        """`database`: the connection string and password file to use when `config` sets no
        `conninfo` (the registry passes the postgres collector's)."""
        self._node = node
        self._reader = HubReader(
            config.reader_settings(database), node, local_addresses, session=session
        )

    def collect(self, out: MetricWriter) -> HubFacts:
        try:
            facts = self._reader.read()
        except HubUnreadable as exc:
            self._write(out, exc.state)
            raise CollectorError(exc.reason, str(exc), partial=out, facts=exc.state) from exc
        self._write(out, facts)
        return facts

    def close(self) -> None:
        self._reader.close()

    def _write(self, out: MetricWriter, f: HubFacts) -> None:
        node = self._node
        out.gauge(UP, 1.0 if f.up else 0.0, node=node)
        if not f.up:
            return
        for table in TABLES:
            usable = table in f.usable_tables
            out.gauge(TABLE_USABLE, 1.0 if usable else 0.0, node=node, table=table)
        out.gauge(AS_OF, f.data_as_of, node=node)
        out.gauge(HORIZON, f.horizon_seconds, node=node)
        out.state(HORIZON_SOURCE, f.horizon_source, node=node)
        out.gauge(WINDOW, f.window_seconds, node=node)
        if f.hosts is not None:
            out.gauge(HOSTS, f.hosts.live, node=node)
            out.gauge(DELETED, f.hosts.deleted, node=node)
            for bucket in LAST_REPORT:
                out.gauge(
                    BY_LAST_REPORT, f.hosts.by_last_report[bucket], node=node, last_report=bucket
                )
            out.gauge(LAST_COLLECTION, f.hosts.last_collection_time, node=node)
        if f.agents is not None:
            for status in AGENT_STATUSES:
                out.gauge(AGENT_STATUS, f.agents[status], node=node, status=status)
        if f.collections is not None:
            for outcome in OUTCOMES:
                out.gauge(COLLECTIONS, f.collections[outcome], node=node, outcome=outcome)
        if f.connection_errors is not None:
            for message in ERROR_MESSAGES:
                out.gauge(
                    CONNECTION_ERRORS, f.connection_errors[message], node=node, message=message
                )
        if f.hostkeys is not None:
            out.gauge(HOSTKEYS, len(f.hostkeys), node=node)
        for m in f.members or ():
            _write_member(out, m)


def _write_member(out: MetricWriter, m: HubMember) -> None:
    out.info(MEMBER_INFO, node=m.name, hub_ip=m.ip, hostkey=m.hostkey)
    out.gauge(MEMBER_KNOWN, 1.0 if m.known else 0.0, node=m.name)
    out.gauge(MEMBER_LAST_REPORT, m.last_report_time, node=m.name)
    inv = m.inventory
    state = inv.state.lower() if inv is not None and inv.state else None
    out.state(
        MEMBER_HA_STATE,
        (state if state in HA_STATES else "other") if state else "absent",
        node=m.name,
    )
    extended = inv.state_extended if inv is not None else None
    known = extended if extended in _EXTENDED else ("other" if extended else "absent")
    out.state(MEMBER_HA_STATE_EXTENDED, known, node=m.name)
    if inv is not None and inv.master_ip:
        out.info(MEMBER_HA_MASTER_IP, node=m.name, ip=inv.master_ip)
