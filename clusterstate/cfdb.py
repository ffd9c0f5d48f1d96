"""CFEngine hub reporting as this hub's cfdb sees it (the active hub's, or the passive's replica).

`HubReader.read()` runs one aggregate statement (`cfdb_sql`) over whatever documented tables
this cfdb has, and returns `HubFacts`: host counts, collections, connection errors, each HA hub
of ha_info.json with its own last report and the HA inventory it reported, and, kept between
scrapes because it only changes when hosts come and go, the host keys of every live host (the
clients whose keys a hub needs). The 'not reporting' horizon is Mission Portal's own
`blueHostHorizon` from the cfsettings database when it can be read there, else the configured one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg.conninfo import make_conninfo

from clusterstate.cfdb_schema import (
    SCHEMA_STATEMENT,
    HubDecodeError,
    Schema,
    decode_schema,
    schema_names,
)
from clusterstate.cfdb_sql import (
    HORIZON_SETTING,
    SETTINGS_STATEMENT,
    HaInventory,
    HostCounts,
    HubRow,
    build_statement,
    decode,
    decode_horizon,
    has_parameter,
    hostkeys_statement,
)
from clusterstate.cfengine import read_ha_info
from clusterstate.errors import Unreadable
from clusterstate.parsers.cfengine_files import HaHub
from clusterstate.pg import PgError, PgSession, PgSettings

log = logging.getLogger(__name__)

HorizonSource = Literal["mission_portal", "configured"]
HORIZON_SOURCES: tuple[HorizonSource, ...] = ("mission_portal", "configured")


@dataclass(frozen=True)
class HubReaderSettings:
    conninfo: str
    password_file: Path | None = None
    connect_timeout_seconds: int = 2
    statement_timeout_seconds: float = 2.0
    horizon_seconds: int = 900
    window_seconds: int = 900
    ha_info_path: Path | None = None
    hub_names: Mapping[str, str] | None = None
    settings_database: str | None = "cfsettings"
    settings_refresh_seconds: float = 300.0
    hostkeys_refresh_seconds: float = 300.0


@dataclass(frozen=True)
class HubMember:
    """One HA hub of ha_info.json, and its own last report as this cfdb knows it."""

    name: str
    ip: str
    hostkey: str
    is_in_cluster: bool
    known: bool  # present (and not deleted) in __hosts
    last_report_time: float | None
    inventory: HaInventory | None = None  # what it last reported about its HA state


@dataclass(frozen=True)
class HubFacts:
    up: bool
    error: str | None = None
    now: float | None = None  # the database's clock
    in_recovery: bool | None = None
    data_as_of: float | None = None
    horizon_seconds: int = 900
    horizon_source: HorizonSource = "configured"
    window_seconds: int = 900
    hosts: HostCounts | None = None
    agents: Mapping[str, int] | None = None
    collections: Mapping[str, int] | None = None
    connection_errors: Mapping[str, int] | None = None
    members: tuple[HubMember, ...] | None = None  # None: unknown (no ha_info.json or cfdb)
    missing: tuple[str, ...] = ()  # "table" or "table.column" items cfdb lacks
    usable_tables: frozenset[str] = frozenset()
    hostkeys: frozenset[str] | None = None  # every live host's key (None: not read)

    def member(self, name: str) -> HubMember | None:
        return next((m for m in self.members or () if m.name == name), None)


class HubUnreadable(Unreadable[HubFacts]):
    """cfdb (or part of it, or ha_info.json) could not be read; `state` is what was."""


class HubReader:
    def __init__(
        self,
        settings: HubReaderSettings,
        node: str,
        local_addresses: Callable[[], frozenset[str]],
        session: PgSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = settings
        self._node = node
        self._local_addresses = local_addresses
        self._clock = clock
        pg = PgSettings(
            conninfo=settings.conninfo,
            password_file=settings.password_file,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            statement_timeout_seconds=settings.statement_timeout_seconds,
        )
        self._session = session or PgSession(pg)
        self._settings_session: PgSession | None = None
        if settings.settings_database:
            self._settings_session = PgSession(
                PgSettings(
                    conninfo=make_conninfo(settings.conninfo, dbname=settings.settings_database),
                    password_file=settings.password_file,
                    connect_timeout_seconds=settings.connect_timeout_seconds,
                    statement_timeout_seconds=settings.statement_timeout_seconds,
                )
            )
        self._lock = threading.Lock()
        # A complete schema is remembered until a query fails; an incomplete one is read again
        # on every scrape, so a table that appears (an upgrade, a fix) is picked up at once.
        self._schema: Schema | None = None
        self._statement: tuple[int, str] | None = None  # (horizon, statement)
        self._logged_failures: tuple[str, ...] = ()
        self._horizon: tuple[float, int | None] | None = None  # (read at, MP's value)
        self._horizon_problem: str | None = None
        self._hostkeys: tuple[float, int, frozenset[str]] | None = None  # (at, live, keys)

    def read(self) -> HubFacts:
        """Raises HubUnreadable (with what was read) when cfdb or ha_info.json fails."""
        with self._lock:
            return self._read()

    def close(self) -> None:
        self._session.close()
        if self._settings_session is not None:
            self._settings_session.close()

    # -- the horizon ---------------------------------------------------------------------------
    def _horizon_now(self) -> tuple[int, HorizonSource]:
        now = self._clock()
        if self._settings_session is not None and (
            self._horizon is None or now - self._horizon[0] >= self._s.settings_refresh_seconds
        ):
            self._horizon = (now, self._mission_portal_horizon(self._settings_session))
        value = self._horizon[1] if self._horizon else None
        return (value, "mission_portal") if value else (self._s.horizon_seconds, "configured")

    def _mission_portal_horizon(self, session: PgSession) -> int | None:
        try:
            value = decode_horizon(session.query(SETTINGS_STATEMENT, [HORIZON_SETTING]))
            problem = None if value else f"{HORIZON_SETTING} is not set in cfsettings"
        except (PgError, HubDecodeError) as exc:
            value, problem = None, f"cfsettings: {exc}"
        if problem != self._horizon_problem:  # once per change, not every refresh
            if problem:
                log.info("using the configured horizon: %s", problem)
            self._horizon_problem = problem
        return value

    # -- one read ------------------------------------------------------------------------------
    def _read(self) -> HubFacts:
        hubs, ha_info_problem = self._ha_info()
        horizon, source = self._horizon_now()
        window = self._s.window_seconds
        try:
            schema = self._current_schema()
            statement = self._statement_for(schema, horizon)
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
                horizon_seconds=horizon,
                horizon_source=source,
                window_seconds=window,
            )
            raise HubUnreadable(reason, str(exc), down) from exc
        members = None
        if hubs is not None and schema.usable("__hosts"):
            members = self._members(hubs, row)
        facts = HubFacts(
            up=True,
            now=row.now,
            in_recovery=row.in_recovery,
            data_as_of=row.data_as_of,
            hosts=row.hosts,
            agents=row.agents,
            collections=row.collections,
            connection_errors=row.connection_errors,
            members=members,
            missing=schema.missing,
            usable_tables=frozenset(schema.relations),
            hostkeys=self._current_hostkeys(schema, row.hosts),
            horizon_seconds=horizon,
            horizon_source=source,
            window_seconds=window,
        )
        if schema.failures:
            raise HubUnreadable("schema", "cfdb lacks " + ", ".join(schema.failures), facts)
        if ha_info_problem is not None:
            raise HubUnreadable(*ha_info_problem, facts)
        return facts

    def _ha_info(self) -> tuple[tuple[HaHub, ...] | None, tuple[str, str] | None]:
        path = self._s.ha_info_path
        if path is None:
            return (), None
        hubs, problem = read_ha_info(path)
        if problem is not None and problem[0] == "unavailable":
            problem = ("unavailable", f"{problem[1]}: HA hubs unknown")
        return hubs, problem

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

    def _statement_for(self, schema: Schema, horizon: int) -> str:
        cached = self._statement
        if schema is self._schema and cached is not None and cached[0] == horizon:
            return cached[1]
        statement = build_statement(schema, horizon, self._s.window_seconds)
        if schema is self._schema:
            self._statement = (horizon, statement)
        return statement

    def _current_hostkeys(self, schema: Schema, hosts: HostCounts | None) -> frozenset[str] | None:
        """Every live host's key, read again only when the number of live hosts changed or the
        copy is older than `hostkeys_refresh_seconds` (it is thousands of rows)."""
        statement = hostkeys_statement(schema)
        if statement is None or hosts is None:
            return None
        now, cached = self._clock(), self._hostkeys
        fresh = cached is not None and now - cached[0] < self._s.hostkeys_refresh_seconds
        if cached is not None and fresh and cached[1] == hosts.live:
            return cached[2]
        try:
            keys = frozenset(str(r["hostkey"]) for r in self._session.query(statement))
        except PgError as exc:
            log.warning("cfdb host keys: %s", exc)
            self._hostkeys = None
            return None
        self._hostkeys = (now, hosts.live, keys)
        return keys

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
                        self._s.hub_names or {},
                        local,
                        self._node,
                        found.inventory_name if found else None,
                    ),
                    ip=hub.ip,
                    hostkey=hub.hostkey,
                    is_in_cluster=hub.is_in_cluster,
                    known=live,
                    last_report_time=found.last_report_time if live and found else None,
                    inventory=found.inventory if live and found else None,
                )
            )
        return tuple(members)


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
