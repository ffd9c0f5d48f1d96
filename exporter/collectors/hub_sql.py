"""The hub-report queries over cfdb: schema detection, one aggregate statement, pure decoding.

CFEngine's cfdb DDL ships in the private hub package and varies by version, so the collector
first reads which of the documented tables and columns exist (`SCHEMA_STATEMENT`, pg_catalog via
`to_regclass`, which follows the search_path like the queries do), then builds one statement
from the fragments whose tables are usable. Everything is aggregated in PostgreSQL: the result is
one row however many hosts there are.

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

SCHEMA_STATEMENT = """
SELECT t.name, c.relname::text AS relation, a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type
FROM unnest(%s::text[]) AS t(name)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
"""

# Logical table -> relation names to try, newest first (`__status` was `status` before 3.12.2).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "__hosts": ("__hosts",),
    "__agentstatus": ("__agentstatus",),
    "__status": ("__status", "status"),
    "__hubconnectionerrors": ("__hubconnectionerrors",),
    "__inventory": ("__inventory",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "__hosts": ("hostkey", "lastreporttimestamp"),
    "__agentstatus": ("hostkey", "lastagentexecutionstatus"),
    "__status": ("ts", "status"),
    "__hubconnectionerrors": ("checktimestamp", "message"),
    "__inventory": ("hostkey", "values"),
}
# Tables whose absence is not a failure: the inventory only names the hubs.
OPTIONAL_TABLES = frozenset({"__inventory"})
TABLES = tuple(CANDIDATES)

TIMESTAMP_TYPES = ("timestamp with time zone", "timestamp without time zone")
NUMERIC_PREFIXES = ("bigint", "integer", "numeric", "double precision", "real")

KNOWN_MESSAGES = ("ServerNoReply", "InvalidData", "ServerAuthenticationError")
ERROR_MESSAGES = (*KNOWN_MESSAGES, "other")
AGENT_STATUSES = ("ok", "fail", "other")
OUTCOMES = ("consumed", "failed", "other")
LAST_REPORT = ("within_horizon", "beyond_horizon", "never")


class HubDecodeError(ValueError):
    """The result row did not have the shape the statement produces."""


@dataclass(frozen=True)
class Schema:
    """Which documented tables are usable, under which name, with which column types."""

    relations: Mapping[str, str]  # logical table -> relation name, only usable ones
    columns: Mapping[str, Mapping[str, str]]  # logical table -> column -> type
    missing: tuple[str, ...]  # "table" or "table.column" (or "table.column: type") items

    def usable(self, table: str) -> bool:
        return table in self.relations

    def has(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, {})

    @property
    def complete(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[str, ...]:
        """Missing items that make the collector report `schema` (not the optional ones)."""
        return tuple(m for m in self.missing if m.split(".")[0] not in OPTIONAL_TABLES)


def schema_names() -> list[str]:
    return [name for names in CANDIDATES.values() for name in names]


def _text(value: Any) -> str:
    """Text from a row. cfdb is a SQL_ASCII database (as CFEngine creates it): unless the session
    sets a client encoding (PgSession does), psycopg returns its text columns as bytes."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def decode_schema(rows: Sequence[Mapping[str, Any]]) -> Schema:
    """Pure: SCHEMA_STATEMENT's rows -> Schema."""
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["relation"] is None:
            continue
        columns = found.setdefault(_text(row["name"]), {})
        if row["column_name"] is not None:
            columns[_text(row["column_name"])] = _text(row["column_type"])
    relations: dict[str, str] = {}
    columns_of: dict[str, Mapping[str, str]] = {}
    missing: list[str] = []
    for table, names in CANDIDATES.items():
        name = next((n for n in names if n in found), None)
        if name is None:
            missing.append(table)
            continue
        cols = found[name]
        absent = [f"{table}.{c}" for c in REQUIRED[table] if c not in cols]
        absent += _type_problems(table, cols)
        missing += absent
        if not absent:
            relations[table] = name
            columns_of[table] = cols
    return Schema(relations=relations, columns=columns_of, missing=tuple(missing))


def _type_problems(table: str, cols: Mapping[str, str]) -> list[str]:
    checks = {
        "__hosts": ("lastreporttimestamp", TIMESTAMP_TYPES),
        "__hubconnectionerrors": ("checktimestamp", TIMESTAMP_TYPES),
        "__inventory": ("values", ("jsonb", "json")),
    }
    problems = []
    if table in checks:
        column, allowed = checks[table]
        if column in cols and cols[column] not in allowed:
            problems.append(f"{table}.{column}: unexpected type {cols[column]}")
    if table == "__status" and "ts" in cols:
        kind = cols["ts"]
        if kind not in TIMESTAMP_TYPES and not kind.startswith(NUMERIC_PREFIXES):
            problems.append(f"__status.ts: unexpected type {kind}")
    return problems


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


def _members_select(schema: Schema) -> str:
    rel = schema.relations["__hosts"]
    name = "NULL::text"
    join = ""
    if schema.usable("__inventory"):
        inv = schema.relations["__inventory"]
        join = f" LEFT JOIN {inv} i ON i.hostkey = h.hostkey"
        name = "i.\"values\" ->> 'Host name'"
    deleted = "h.deleted IS NOT NULL" if schema.has("__hosts", "deleted") else "false"
    return (
        "(SELECT coalesce(json_agg(json_build_object('hostkey', h.hostkey, "  # noqa: S608
        "'last', extract(epoch FROM h.lastreporttimestamp::timestamptz)::float8, "
        f"'name', {name}, 'deleted', {deleted})), '[]') "
        f"FROM {rel} h{join} WHERE h.hostkey = ANY(%s::text[])) AS members"
    )


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
class MemberRow:
    hostkey: str
    last_report_time: float | None
    inventory_name: str | None
    deleted: bool


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
            members=tuple(
                MemberRow(
                    hostkey=str(m["hostkey"]),
                    last_report_time=_float(m["last"]),
                    inventory_name=m["name"] if isinstance(m["name"], str) else None,
                    deleted=bool(m["deleted"]),
                )
                for m in row["members"] or ()
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HubDecodeError(f"unexpected result shape: {exc!r}") from exc


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
