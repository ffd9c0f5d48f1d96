"""A harmless replication handshake with the primary, as the standby's walreceiver would do it.

One physical replication connection (`replication=true`) as the replication user, one
`IDENTIFY_SYSTEM` (the primary's system identifier, timeline and WAL position), then close: no
WAL moves, no slot is touched. It occupies one of the primary's `max_wal_senders` for a few
milliseconds. The connection is the standby's own `primary_conninfo` (host, port, user, TLS and
password settings as the walreceiver uses them), or, when that cannot be read, the pgsql
resource's `master_ip`, `pgport` and `repuser`; its application_name is `cfha-handshake`, never the
standby's. A password in the connection string is used and never logged, stored or shown.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from clusterstate.parsers.pg_messages import Cause, classify_connection_error, shorten
from clusterstate.pg import redacted

APPLICATION_NAME = "cfha-handshake"
DEFAULT_PORT = 5432
# Per-connection settings of the walreceiver that say nothing about where and as whom it
# connects; the handshake sets its own.
_DROPPED = ("application_name", "fallback_application_name", "dbname", "replication", "options")


@dataclass(frozen=True, slots=True)
class HandshakeTarget:
    """Where and how to connect (the password stays inside `conninfo`, which is never shown)."""

    conninfo: str = field(repr=False)
    shown: str
    """The connection string without its password: for humans."""
    password_source_known: bool = True
    """cfha could read every password source the walreceiver has (`classify_connection_error`)."""


@dataclass(frozen=True, slots=True)
class Handshake:
    ok: bool
    target: str
    """Where it connected (no password)."""
    system_identifier: str | None = None
    timeline: int | None = None
    wal_position: str | None = None
    error: str | None = None
    """libpq's or the server's error, first lines joined."""
    cause: Cause | None = None
    """For a failure: `auth_rejected`, `primary_unreachable`, or `unknown`."""
    duration_seconds: float = 0.0

    def describe(self) -> str:
        if self.ok:
            return (
                f"{self.target}: IDENTIFY_SYSTEM answered (system {self.system_identifier}, "
                f"timeline {self.timeline}, WAL at {self.wal_position})"
            )
        return f"{self.target}: {self.error}"


def handshake_target(
    primary_conninfo: str | None,
    *,
    master_ip: str | None,
    port: int | None,
    user: str | None,
    db_user_home: str | None,
    password_file: Path | None = None,
    timeout_seconds: int = 2,
) -> HandshakeTarget | None:
    """The walreceiver's connection as cfha can reproduce it; None when nothing says where the
    primary is."""
    params: dict[str, str] = {}
    if primary_conninfo:
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(primary_conninfo).items()}
        except psycopg.ProgrammingError:
            params = {}
    if not params.get("host") and not params.get("hostaddr"):
        if not master_ip:
            return None
        params = {"host": master_ip, "port": str(port or DEFAULT_PORT), "user": user or "postgres"}
    for key in _DROPPED:
        params.pop(key, None)
    known = True
    if "password" not in params:
        if password_file is not None:
            try:
                params["password"] = password_file.read_text().strip()
            except OSError:
                known = False
        else:
            # libpq would read *our* ~/.pgpass; the walreceiver reads its own user's.
            passfile = params.get("passfile") or (
                os.path.join(db_user_home, ".pgpass") if db_user_home else None
            )
            if passfile:
                params["passfile"] = passfile
                known = not os.path.exists(passfile) or os.access(passfile, os.R_OK)
    timeout = max(2, timeout_seconds)
    params.update(
        replication="true",
        application_name=APPLICATION_NAME,
        connect_timeout=str(timeout),
        keepalives="1",
        keepalives_idle="2",
        keepalives_interval="1",
        keepalives_count="2",
        tcp_user_timeout=str(timeout * 1000),
    )
    conninfo = make_conninfo("", **params)
    return HandshakeTarget(conninfo, redacted(conninfo), known)


def replication_handshake(target: HandshakeTarget) -> Handshake:
    """Connect, IDENTIFY_SYSTEM, close. Never raises for a connection or server error."""
    started = time.monotonic()
    shown = _where(target.shown)
    try:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            row = conn.execute("IDENTIFY_SYSTEM").fetchone()
    except psycopg.Error as exc:
        text = shorten(str(exc))
        cause = classify_connection_error(text, password_source_known=target.password_source_known)
        return Handshake(
            False, shown, error=text, cause=cause, duration_seconds=time.monotonic() - started
        )
    elapsed = time.monotonic() - started
    if row is None or len(row) < 3:
        return Handshake(False, shown, error="IDENTIFY_SYSTEM returned no row", cause=Cause.UNKNOWN)
    system_id, timeline, position = (_text(v) for v in row[:3])
    return Handshake(
        True,
        shown,
        system_identifier=system_id,
        timeline=int(timeline) if timeline and timeline.isdigit() else None,
        wal_position=position,
        duration_seconds=elapsed,
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _where(shown: str) -> str:
    """`user@host:port` of a (password-free) connection string."""
    try:
        p = conninfo_to_dict(shown)
    except psycopg.ProgrammingError:
        return "the primary"
    host = p.get("host") or p.get("hostaddr") or "?"
    return f"{p.get('user') or '?'}@{host}:{p.get('port') or DEFAULT_PORT}"
