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

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from clusterstate.parsers.cfengine_files import CfengineFileError, HaHub, parse_ha_info
from clusterstate.pg import PgError, PgSession, PgSettings
from exporter.collectors.cfengine import HA_INFO, read_local_addresses
from exporter.scrape import CollectorError
from servicekit.config import CollectorSettings
from servicekit.metrics import Kind, MetricSpec, MetricWriter

from .hub_sql import (
    AGENT_STATUSES,
    ERROR_MESSAGES,
    LAST_REPORT,
    OUTCOMES,
    SCHEMA_STATEMENT,
    TABLES,
    HostCounts,
    HubDecodeError,
    HubRow,
    Schema,
    build_statement,
    decode,
    decode_schema,
    has_parameter,
    schema_names,
)

log = logging.getLogger(__name__)

DEFAULT_CONNINFO = "host=/tmp dbname=cfdb"  # CFEngine's PostgreSQL: its socket is in /tmp


class HubConfig(CollectorSettings):
    conninfo: str | None = Field(
        default=None,
        description="libpq connection string of this hub's cfdb; default: the postgres "
        "collector's (one database, configured once).",
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the password; never logged. Default: the postgres "
        "collector's, when `conninfo` is not set here.",
    )
    connect_timeout_seconds: int = Field(default=2, ge=2, le=30)
    statement_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    horizon_seconds: int = Field(
        default=900,
        ge=60,
        le=30 * 86400,
        description="A host whose last report is older is 'not reporting' (Mission Portal's "
        "blueHostHorizon, default 900 s).",
    )
    window_seconds: int = Field(
        default=900,
        ge=60,
        le=7 * 86400,
        description="Collection outcomes and connection errors are counted over this window.",
    )
    ha_info_path: Path | None = Field(
        default=Path("/var/cfengine") / HA_INFO,
        description="ha_info.json, for the HA hubs' host keys (their own last report time); "
        "null to skip.",
    )
    hub_names: dict[str, str] = Field(
        default_factory=dict,
        description="Hub IP -> pacemaker node name. Default: this hub's own address is this "
        "node, others are named by their inventory 'Host name' (up to the first dot).",
    )


@dataclass(frozen=True)
class HubMember:
    """One HA hub of ha_info.json, and its own last report as this cfdb knows it."""

    name: str
    ip: str
    hostkey: str
    is_in_cluster: bool
    known: bool  # present (and not deleted) in __hosts
    last_report_time: float | None


@dataclass(frozen=True)
class HubFacts:
    up: bool
    error: str | None = None
    now: float | None = None  # the database's clock
    in_recovery: bool | None = None
    data_as_of: float | None = None
    horizon_seconds: int = 900
    window_seconds: int = 900
    hosts: HostCounts | None = None
    agents: Mapping[str, int] | None = None
    collections: Mapping[str, int] | None = None
    connection_errors: Mapping[str, int] | None = None
    members: tuple[HubMember, ...] | None = None  # None: unknown (no ha_info.json or cfdb)
    missing: tuple[str, ...] = ()

    def member(self, name: str) -> HubMember | None:
        return next((m for m in self.members or () if m.name == name), None)


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
    "cfha_hub_horizon_seconds", "The 'not reporting' horizon in use (configured).", labels=N
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


class HubCollector:
    name: ClassVar[str] = "hub"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        UP, TABLE_USABLE, AS_OF, HORIZON, WINDOW, HOSTS, DELETED, BY_LAST_REPORT,
        LAST_COLLECTION, AGENT_STATUS, COLLECTIONS, CONNECTION_ERRORS, MEMBER_INFO,
        MEMBER_KNOWN, MEMBER_LAST_REPORT,
    )  # fmt: skip

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
        self._config = config
        self._node = node
        self._local_addresses = local_addresses
        conninfo, password_file = (
            (config.conninfo, config.password_file) if config.conninfo else database
        )
        self._session = session or PgSession(
            PgSettings(
                conninfo=conninfo,
                password_file=password_file,
                connect_timeout_seconds=config.connect_timeout_seconds,
                statement_timeout_seconds=config.statement_timeout_seconds,
            )
        )
        # A complete schema is remembered until a query fails; an incomplete one is read again
        # on every scrape, so a table that appears (an upgrade, a fix) is picked up at once.
        self._schema: Schema | None = None
        self._statement: str | None = None
        self._logged_failures: tuple[str, ...] = ()

    def collect(self, out: MetricWriter) -> HubFacts:
        hubs, ha_info_problem = self._read_ha_info()
        try:
            schema = self._current_schema()
            statement = self._statement_for(schema)
            keys = [hub.hostkey for hub in hubs or ()]
            rows = self._session.query(statement, [keys] if has_parameter(statement) else None)
            if len(rows) != 1:
                raise HubDecodeError(f"expected one row, got {len(rows)}")
            row = decode(rows[0])
        except (PgError, HubDecodeError) as exc:
            self._schema = self._statement = None
            reason = exc.reason if isinstance(exc, PgError) else "parse"
            down = HubFacts(
                up=False,
                error=str(exc),
                horizon_seconds=self._config.horizon_seconds,
                window_seconds=self._config.window_seconds,
            )
            out.gauge(UP, 0.0, node=self._node)
            raise CollectorError(reason, str(exc), partial=out, facts=down) from exc
        facts = self._facts(schema, row, hubs)
        self._write(out, schema, facts)
        if schema.failures:
            message = "cfdb lacks " + ", ".join(schema.failures)
            raise CollectorError("schema", message, partial=out, facts=facts)
        if ha_info_problem is not None:
            reason, message = ha_info_problem
            raise CollectorError(reason, message, partial=out, facts=facts)
        return facts

    def close(self) -> None:
        self._session.close()

    # -- reading -----------------------------------------------------------------------------
    def _read_ha_info(self) -> tuple[tuple[HaHub, ...] | None, tuple[str, str] | None]:
        path = self._config.ha_info_path
        if path is None:
            return (), None
        try:
            return parse_ha_info(path.read_text(encoding="utf-8", errors="replace")), None
        except FileNotFoundError:
            return None, ("unavailable", f"{path} does not exist: HA hubs unknown")
        except OSError as exc:
            return None, ("permission", f"{path}: {exc.strerror or exc}")
        except CfengineFileError as exc:
            return None, ("parse", f"{path}: {exc}")

    def _current_schema(self) -> Schema:
        if self._schema is not None:
            return self._schema
        schema = decode_schema(self._session.query(SCHEMA_STATEMENT, [schema_names()]))
        if schema.complete:
            self._schema = schema
        elif schema.failures != self._logged_failures:  # once per change, not every scrape
            log.warning("cfdb lacks %s", ", ".join(schema.failures))
        self._logged_failures = schema.failures
        return schema

    def _statement_for(self, schema: Schema) -> str:
        if schema is self._schema and self._statement is not None:
            return self._statement
        statement = build_statement(
            schema, self._config.horizon_seconds, self._config.window_seconds
        )
        if schema is self._schema:
            self._statement = statement
        return statement

    def _facts(self, schema: Schema, row: HubRow, hubs: tuple[HaHub, ...] | None) -> HubFacts:
        members: tuple[HubMember, ...] | None = None
        if hubs is not None and schema.usable("__hosts"):
            members = self._members(hubs, row)
        return HubFacts(
            up=True,
            now=row.now,
            in_recovery=row.in_recovery,
            data_as_of=row.data_as_of,
            horizon_seconds=self._config.horizon_seconds,
            window_seconds=self._config.window_seconds,
            hosts=row.hosts,
            agents=row.agents,
            collections=row.collections,
            connection_errors=row.connection_errors,
            members=members,
            missing=schema.missing,
        )

    def _members(self, hubs: tuple[HaHub, ...], row: HubRow) -> tuple[HubMember, ...]:
        by_key = {m.hostkey: m for m in row.members}
        local = self._local_addresses()
        members = []
        for hub in hubs:
            found = by_key.get(hub.hostkey)
            live = found is not None and not found.deleted
            members.append(
                HubMember(
                    name=hub_name(
                        hub,
                        self._config.hub_names,
                        local,
                        self._node,
                        found.inventory_name if found else None,
                    ),
                    ip=hub.ip,
                    hostkey=hub.hostkey,
                    is_in_cluster=hub.is_in_cluster,
                    known=live,
                    last_report_time=found.last_report_time if live and found else None,
                )
            )
        return tuple(members)

    # -- writing -----------------------------------------------------------------------------
    def _write(self, out: MetricWriter, schema: Schema, f: HubFacts) -> None:
        node = self._node
        out.gauge(UP, 1.0, node=node)
        for table in TABLES:
            out.gauge(TABLE_USABLE, 1.0 if schema.usable(table) else 0.0, node=node, table=table)
        out.gauge(AS_OF, f.data_as_of, node=node)
        out.gauge(HORIZON, f.horizon_seconds, node=node)
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
        for m in f.members or ():
            out.info(MEMBER_INFO, node=m.name, hub_ip=m.ip, hostkey=m.hostkey)
            out.gauge(MEMBER_KNOWN, 1.0 if m.known else 0.0, node=m.name)
            out.gauge(MEMBER_LAST_REPORT, m.last_report_time, node=m.name)


def hub_name(
    hub: HaHub,
    overrides: Mapping[str, str],
    local_ips: frozenset[str],
    local_node: str,
    inventory_name: str | None,
) -> str:
    """The pacemaker node name of an HA hub: configured, else this node for its own address,
    else its inventory host name up to the first dot (lower case), else its IP."""
    if hub.ip in overrides:
        return overrides[hub.ip]
    if hub.ip in local_ips or (hub.internal_ip is not None and hub.internal_ip in local_ips):
        return local_node
    if inventory_name:
        short = inventory_name.strip().split(".")[0].lower()
        if short:
            return short
    return hub.ip
