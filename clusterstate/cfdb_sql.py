"""The hub-report queries over cfdb: one aggregate statement over the usable tables
(`cfdb_schema`), and its pure decoding. `clusterstate.cfdb` runs them; the exporter's `hub`
collector publishes what they found. Everything is aggregated in PostgreSQL: the result is one
row however many hosts there are.

Time reference. Host freshness is judged against the time cfdb's data is current as of, not
against the wall clock: `now()` on a primary or on a standby that has replayed everything it
received while its WAL receiver runs; otherwise (replay behind, or cut off from the primary) the
commit time of the last replayed transaction. So a passive hub whose replica lags does not
report healthy clients as "not reporting": that is the replication reasons' job, and
`data_as_of` says how old the picture is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterstate.cfdb_schema import (
    TIMESTAMP_TYPES,
    HubDecodeError,
    Schema,
    text_of,
)

KNOWN_MESSAGES = ("ServerNoReply", "InvalidData", "ServerAuthenticationError")
ERROR_MESSAGES = (*KNOWN_MESSAGES, "other")
AGENT_STATUSES = ("ok", "fail", "other")
OUTCOMES = ("consumed", "failed", "other")
LAST_REPORT = ("within_horizon", "beyond_horizon", "never")


def _bound(column_type: str, name: str) -> str:
    """A threshold from `b` in the column's own type, as an InitPlan parameter: computed once,
    compared without a cast or a join per row, and an index on the column stays usable."""
    if column_type == "timestamp without time zone":
        return f"(SELECT {name}_naive FROM b)"  # noqa: S608
    return f"(SELECT {name} FROM b)"  # noqa: S608


def has_parameter(statement: str) -> bool:
    return "%s" in statement


def build_statement(schema: Schema, horizon_seconds: int, window_seconds: int) -> str:
    """One statement over the usable tables.

    Only validated integers and fixed identifiers are spliced in; the hubs' host keys are the one
    parameter (`%s`, a text array), present only when `__hosts` is usable (`has_parameter`).
    Per-row work is kept to a minimum (the cost is dominated by it at 100,000 hosts): counts that
    follow from others are derived in Python, and thresholds are computed once in `b`.
    """
    horizon, window = int(horizon_seconds), int(window_seconds)
    ctes = [
        "WITH ref AS MATERIALIZED (\n"
        "  SELECT now() AS now, pg_is_in_recovery() AS in_recovery,\n"
        "    CASE WHEN NOT pg_is_in_recovery() THEN now()\n"
        "         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()\n"
        "              AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL)\n"
        "         THEN now()\n"
        "         ELSE coalesce(pg_last_xact_replay_timestamp(), now()) END AS as_of\n"
        ")",
        "b AS MATERIALIZED (\n"  # noqa: S608
        f"  SELECT now, in_recovery, as_of, as_of - interval '{horizon} seconds' AS horizon_at,\n"
        f"    (as_of - interval '{horizon} seconds')::timestamp AS horizon_at_naive,\n"
        f"    as_of - interval '{window} seconds' AS window_at,\n"
        f"    (as_of - interval '{window} seconds')::timestamp AS window_at_naive,\n"
        f"    floor(extract(epoch FROM as_of))::bigint - {window} AS window_epoch\n"
        "  FROM ref\n"
        ")",
    ]
    selects = [
        "extract(epoch FROM b.now)::float8 AS now",
        "b.in_recovery",
        "extract(epoch FROM b.as_of)::float8 AS as_of",
    ]
    if schema.usable("__hosts"):
        ctes.append(_hosts_cte(schema))
        selects.append(
            "(SELECT json_build_object('total', total, 'deleted', deleted, 'within', within, "
            "'never', never, 'last', extract(epoch FROM last)::float8) FROM hc) AS hosts"
        )
        selects.append(_members_select(schema))
    else:
        selects += ["NULL::json AS hosts", "NULL::json AS members"]
    selects.append(_agents_select(schema))
    selects.append(_status_select(schema))
    selects.append(_errors_select(schema))
    return ",\n".join(ctes) + "\nSELECT\n  " + ",\n  ".join(selects) + "\nFROM b"


def _hosts_cte(schema: Schema) -> str:
    rel = schema.relations["__hosts"]
    column_type = schema.columns["__hosts"]["lastreporttimestamp"]
    bound = _bound(column_type, "horizon_at")
    has_deleted = schema.has("__hosts", "deleted")
    live = "h.deleted IS NULL" if has_deleted else "true"
    deleted = "count(h.deleted)" if has_deleted else "NULL::bigint"
    last = f"max(h.lastreporttimestamp) FILTER (WHERE {live})"
    if column_type == "timestamp without time zone":
        last = f"({last})::timestamptz"
    return (
        "hc AS MATERIALIZED (\n"  # noqa: S608
        f"  SELECT count(*) AS total, {deleted} AS deleted,\n"
        f"    count(*) FILTER (WHERE {live} AND h.lastreporttimestamp >= {bound}) AS within,\n"
        f"    count(*) FILTER (WHERE {live} AND h.lastreporttimestamp IS NULL) AS never,\n"
        f"    {last} AS last\n"
        f"  FROM {rel} h\n"
        ")"
    )


def _agents_select(schema: Schema) -> str:
    """Every __agentstatus row counts, also a host marked deleted while cfdb keeps its row:
    excluding those costs a third of the statement at 100,000 hosts (see bench/hub_scrape.py)."""
    if not schema.usable("__agentstatus"):
        return "NULL::json AS agents"
    rel = schema.relations["__agentstatus"]
    return (
        "(SELECT json_build_object('total', count(*), "  # noqa: S608
        "'ok', count(*) FILTER (WHERE lastagentexecutionstatus = 'OK'), "
        "'fail', count(*) FILTER (WHERE lastagentexecutionstatus = 'FAIL')) "
        f"FROM {rel}) AS agents"
    )


def _status_select(schema: Schema) -> str:
    if not schema.usable("__status"):
        return "NULL::json AS collections"
    rel = schema.relations["__status"]
    ts_type = schema.columns["__status"]["ts"]
    bound = (
        _bound(ts_type, "window_at")
        if ts_type in TIMESTAMP_TYPES
        else "(SELECT window_epoch FROM b)"
    )
    return (
        "(SELECT json_build_object('total', count(*), "  # noqa: S608
        "'consumed', count(*) FILTER (WHERE status = 'CONSUMED'), "
        "'failed', count(*) FILTER (WHERE status = 'FAILEDC')) "
        f"FROM {rel} WHERE ts >= {bound}) AS collections"
    )


def _errors_select(schema: Schema) -> str:
    if not schema.usable("__hubconnectionerrors"):
        return "NULL::json AS errors"
    rel = schema.relations["__hubconnectionerrors"]
    bound = _bound(schema.columns["__hubconnectionerrors"]["checktimestamp"], "window_at")
    known = ", ".join(f"'{m}', count(*) FILTER (WHERE message = '{m}')" for m in KNOWN_MESSAGES)
    return (
        f"(SELECT json_build_object('total', count(*), {known}) "  # noqa: S608
        f"FROM {rel} WHERE checktimestamp >= {bound}) AS errors"
    )


# The HA inventory each hub reports about itself (the enterprise agent's attributes, by the
# names Mission Portal shows; their variable names are not public).
HA_ATTRIBUTES = {
    "ha_state": "HA node state",
    "ha_state_extended": "HA node state extended",
    "ha_master_ip": "HA master IP",
}


def _members_select(schema: Schema) -> str:
    rel = schema.relations["__hosts"]
    inventory = {"name": "Host name", **HA_ATTRIBUTES}
    fields = {key: "NULL::text" for key in inventory}
    join = ""
    if schema.usable("__inventory"):
        inv = schema.relations["__inventory"]
        join = f" LEFT JOIN {inv} i ON i.hostkey = h.hostkey"
        fields = {key: f"i.\"values\" ->> '{name}'" for key, name in inventory.items()}
    deleted = "h.deleted IS NOT NULL" if schema.has("__hosts", "deleted") else "false"
    pairs = "".join(f"'{key}', {value}, " for key, value in fields.items())
    return (
        "(SELECT coalesce(json_agg(json_build_object('hostkey', h.hostkey, "  # noqa: S608
        "'last', extract(epoch FROM h.lastreporttimestamp::timestamptz)::float8, "
        f"{pairs}'deleted', {deleted})), '[]') "
        f"FROM {rel} h{join} WHERE h.hostkey = ANY(%s::text[])) AS members"
    )


def hostkeys_statement(schema: Schema) -> str | None:
    """The host keys of every live host cfdb knows (None: __hosts is not usable)."""
    if not schema.usable("__hosts"):
        return None
    live = " WHERE deleted IS NULL" if schema.has("__hosts", "deleted") else ""
    return f"SELECT hostkey FROM {schema.relations['__hosts']}{live}"  # noqa: S608


# Mission Portal's settings (cfsettings database). The table's shape is not public: a key/value
# table `settings(key, value)` is what cfha reads, and anything else leaves the configured value.
HORIZON_SETTING = "blueHostHorizon"
SETTINGS_STATEMENT = "SELECT value::text AS value FROM settings WHERE key = %s"


def decode_horizon(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """Pure: SETTINGS_STATEMENT's rows -> the horizon in seconds (None: not set there).
    Raises HubDecodeError for a value that is not a positive whole number of seconds."""
    if not rows:
        return None
    raw = text_of(rows[0]["value"]).strip().strip('"')
    try:
        seconds = int(float(raw))
    except ValueError as exc:
        raise HubDecodeError(f"{HORIZON_SETTING} is {raw!r}, not a number of seconds") from exc
    if seconds <= 0:
        raise HubDecodeError(f"{HORIZON_SETTING} is {seconds}, not a positive number")
    return seconds


@dataclass(frozen=True)
class HostCounts:
    live: int
    deleted: int | None  # None: this cfdb has no `deleted` column
    within_horizon: int
    beyond_horizon: int
    never_collected: int
    last_collection_time: float | None  # newest report collected from any live host

    @property
    def by_last_report(self) -> dict[str, int]:
        return dict(
            zip(
                LAST_REPORT,
                (self.within_horizon, self.beyond_horizon, self.never_collected),
                strict=True,
            )
        )


@dataclass(frozen=True)
class HaInventory:
    """What a hub last reported about its own HA state (its inventory attributes in cfdb)."""

    state: str | None  # `HA node state`: active / passive
    state_extended: str | None  # `HA node state extended`: the agent's status, e.g. HS:alone
    master_ip: str | None  # `HA master IP`

    @property
    def reported(self) -> bool:
        return any(v is not None for v in (self.state, self.state_extended, self.master_ip))


@dataclass(frozen=True)
class MemberRow:
    hostkey: str
    last_report_time: float | None
    inventory_name: str | None
    deleted: bool
    inventory: HaInventory | None = None


@dataclass(frozen=True)
class HubRow:
    """The decoded aggregate row; a part is None when its table was not usable."""

    now: float
    in_recovery: bool
    data_as_of: float
    hosts: HostCounts | None
    agents: Mapping[str, int] | None
    collections: Mapping[str, int] | None
    connection_errors: Mapping[str, int] | None
    members: tuple[MemberRow, ...] = field(default_factory=tuple)


def decode(row: Mapping[str, Any]) -> HubRow:
    """Pure: the statement's row -> HubRow. Raises HubDecodeError on an unexpected shape."""
    try:
        return HubRow(
            now=float(row["now"]),
            in_recovery=bool(row["in_recovery"]),
            data_as_of=float(row["as_of"]),
            hosts=_hosts(row["hosts"]),
            agents=_agents(row["agents"]),
            collections=_outcomes(row["collections"]),
            connection_errors=None if row["errors"] is None else _messages(row["errors"]),
            members=tuple(_member(m) for m in row["members"] or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HubDecodeError(f"unexpected result shape: {exc!r}") from exc


def _member(m: Mapping[str, Any]) -> MemberRow:
    def text(key: str) -> str | None:
        value = m.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    inventory = HaInventory(text("ha_state"), text("ha_state_extended"), text("ha_master_ip"))
    return MemberRow(
        hostkey=str(m["hostkey"]),
        last_report_time=_float(m["last"]),
        inventory_name=text("name"),
        deleted=bool(m["deleted"]),
        inventory=inventory if inventory.reported else None,
    )


def _hosts(raw: Mapping[str, Any] | None) -> HostCounts | None:
    if raw is None:
        return None
    deleted = None if raw["deleted"] is None else int(raw["deleted"])
    live = int(raw["total"]) - (deleted or 0)
    within, never = int(raw["within"]), int(raw["never"])
    return HostCounts(
        live=live,
        deleted=deleted,
        within_horizon=within,
        beyond_horizon=live - within - never,  # a live host reported is within or beyond
        never_collected=never,
        last_collection_time=_float(raw["last"]),
    )


def _agents(raw: Mapping[str, Any] | None) -> dict[str, int] | None:
    if raw is None:
        return None
    ok, fail = int(raw["ok"]), int(raw["fail"])
    return {"ok": ok, "fail": fail, "other": int(raw["total"]) - ok - fail}


def _outcomes(raw: Mapping[str, Any] | None) -> dict[str, int] | None:
    if raw is None:
        return None
    consumed, failed = int(raw["consumed"]), int(raw["failed"])
    return {"consumed": consumed, "failed": failed, "other": int(raw["total"]) - consumed - failed}


def _messages(raw: Mapping[str, Any]) -> dict[str, int]:
    """Counts per known message; any other text is `other` (label values stay a closed set)."""
    out = {m: int(raw[m]) for m in KNOWN_MESSAGES}
    out["other"] = int(raw["total"]) - sum(out.values())
    return out


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
