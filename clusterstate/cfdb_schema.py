"""Which of the documented cfdb tables and columns this hub's cfdb has.

CFEngine's cfdb DDL ships in the private hub package and varies by version, so the hub reader
first reads which of the documented tables and columns exist (`SCHEMA_STATEMENT`, pg_catalog via
`to_regclass`, which follows the search_path like the queries do); `cfdb_sql` then builds its
statement from the fragments whose tables are usable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


def text_of(value: Any) -> str:
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
        columns = found.setdefault(text_of(row["name"]), {})
        if row["column_name"] is not None:
            columns[text_of(row["column_name"])] = text_of(row["column_type"])
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
