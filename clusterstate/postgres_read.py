"""Reading PostgreSQL: this hub's server through its socket (both services) and the primary
through the pgsql resource's `master_ip` (the remediator), with the statement and decoding of
`clusterstate.postgres`. Sessions are lazy, long-lived and bounded by timeouts (`clusterstate.pg`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from clusterstate.disk import DEFAULT_ARCHIVE_DIRECTORY, CloneSize, read_clone_size
from clusterstate.errors import Unreadable
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.pg import PgError, PgSession, PgSettings
from clusterstate.postgres import STATEMENT, DecodeError, PgFacts, decode


class PostgresUnreadable(Unreadable[PgFacts]):
    """The server could not be read (fully); `state` is what is known (down, or role only)."""


def read_postgres(session: PgSession, expected_standbys: Sequence[str] = ()) -> PgFacts:
    """One read of a server through ``session``; raises `PostgresUnreadable` with what is known.

    Without pg_read_all_stats the replication views show NULLs that would read as "no standby"
    or "no lag": then only the role is certain, and the read says why it is incomplete.
    """
    try:
        rows = session.query(STATEMENT)
        if len(rows) != 1:
            raise DecodeError(f"expected one row, got {len(rows)}")
        facts = decode(rows[0], expected_standbys)
    except (PgError, DecodeError) as exc:
        reason = exc.reason if isinstance(exc, PgError) else "parse"
        down = PgFacts(up=False, error=str(exc), error_reason=reason)
        raise PostgresUnreadable(reason, str(exc), down) from exc
    if not rows[0].get("can_read_stats"):
        raise PostgresUnreadable(
            "permission",
            "the monitoring role must be a member of pg_monitor (replication details are "
            "hidden from it)",
            PgFacts(
                up=True, role=facts.role, error="insufficient privileges", error_reason="permission"
            ),
        )
    return facts


DEFAULT_PORT = 5432


@dataclass(frozen=True)
class ConnectionSettings:
    """How the remediator connects: overrides of what the CIB's pgsql resource says."""

    database: str = "postgres"
    user: str | None = None
    monitor_user: str | None = None
    port: int | None = None
    primary_host: str | None = None
    password_file: Path | None = None
    connect_timeout_seconds: int = 3
    statement_timeout_seconds: float = 5.0
    application_name: str = "cfha-remediator"
    archive_directory: str = DEFAULT_ARCHIVE_DIRECTORY
    """The WAL archive inside the data directory, which a re-clone copies too."""


class PgsqlConnections:
    """This hub's server (its socket) and the primary (the resource's `master_ip`), one lazy
    session per target; the targets follow the CIB if it changes."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, PgSession] = {}

    def _session(self, conninfo: str) -> PgSession:
        with self._lock:
            session = self._sessions.get(conninfo)
            if session is None:
                s = self._settings
                session = PgSession(
                    PgSettings(
                        conninfo=conninfo,
                        password_file=s.password_file,
                        connect_timeout_seconds=s.connect_timeout_seconds,
                        statement_timeout_seconds=s.statement_timeout_seconds,
                        application_name=s.application_name,
                    )
                )
                self._sessions[conninfo] = session
            return session

    def conninfo(self, p: PgsqlParams, host: str) -> str:
        s = self._settings
        return make_conninfo(
            "",
            host=host,
            port=s.port or p.pgport or DEFAULT_PORT,
            user=s.monitor_user or s.user or p.pgdba or "postgres",
            dbname=s.database,
        )

    def local(self, p: PgsqlParams) -> PgFacts:
        """This hub's server through its socket directory (PostgreSQL's default: /tmp)."""
        return self._read(self.conninfo(p, p.socketdir or "/tmp"))  # noqa: S108

    def primary(self, p: PgsqlParams) -> tuple[PgFacts, CloneSize | None]:
        """The primary through its address, and what a re-clone of it copies."""
        host = self._settings.primary_host or p.master_ip
        if not host:
            return PgFacts(up=False, error="no master_ip on the pgsql resource"), None
        session = self._session(self.conninfo(p, host))
        facts = self._read_with(session)
        if not facts.up:
            return facts, None
        try:
            return facts, read_clone_size(session, self._settings.archive_directory)
        except PgError:
            return facts, None

    def _read(self, conninfo: str) -> PgFacts:
        return self._read_with(self._session(conninfo))

    @staticmethod
    def _read_with(session: PgSession) -> PgFacts:
        try:
            return read_postgres(session)
        except PostgresUnreadable as exc:
            return exc.state

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
