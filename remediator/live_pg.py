"""PostgreSQL as the remediator sees it: the local server (its socket) and the primary (through
the pgsql resource's `master_ip`, normally the VIP). Read-only sessions with short timeouts
(clusterstate.pg.PgSession); a server that cannot be reached is a `PgView(reachable=False)`.
"""

from __future__ import annotations

import threading

from clusterstate.pg import PgError, PgSession, PgSettings
from remediator.cluster import PgsqlParams, PgView
from remediator.config import PostgresConfig

LOCAL_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status,
       (SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1) AS received_tli
"""
# On a primary, the timeline of the WAL being written is the current one (the checkpoint's may
# lag right after a promotion).
PRIMARY_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
       END AS timeline,
       (SELECT sum(pg_database_size(oid))::bigint FROM pg_database) AS database_bytes,
       ARRAY(SELECT application_name FROM pg_stat_replication
             WHERE state = 'streaming' ORDER BY 1) AS streaming_to
"""
DEFAULT_PORT = 5432


class PgReader:
    """Keeps one lazy session per target; conninfo follows the CIB if it changes."""

    def __init__(self, config: PostgresConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._sessions: dict[str, PgSession] = {}

    def _session(self, conninfo: str) -> PgSession:
        with self._lock:
            session = self._sessions.get(conninfo)
            if session is None:
                session = PgSession(
                    PgSettings(
                        conninfo=conninfo,
                        password_file=self._config.password_file,
                        connect_timeout_seconds=self._config.connect_timeout_seconds,
                        statement_timeout_seconds=self._config.statement_timeout_seconds,
                        application_name="cfha-remediator",
                    )
                )
                self._sessions[conninfo] = session
            return session

    def _conninfo(self, p: PgsqlParams, host: str) -> str:
        c = self._config
        user = c.monitor_user or c.user or p.pgdba or "postgres"
        port = c.port or p.pgport or DEFAULT_PORT
        return f"host={host} port={port} user={user} dbname={c.database}"

    def local(self, p: PgsqlParams) -> PgView:
        host = p.socketdir or "/tmp"  # noqa: S108 - PostgreSQL's own default socket directory
        try:
            [row] = self._session(self._conninfo(p, host)).query(LOCAL_SQL)
        except (PgError, ValueError) as exc:
            return PgView(reachable=False, error=str(exc))
        return PgView(
            reachable=True,
            in_recovery=row["in_recovery"],
            timeline=row["timeline"],
            receiver_status=row["receiver_status"],
            received_timeline=row["received_tli"],
        )

    def primary(self, p: PgsqlParams) -> PgView:
        host = self._config.primary_host or p.master_ip
        if not host:
            return PgView(reachable=False, error="no master_ip on the pgsql resource")
        try:
            [row] = self._session(self._conninfo(p, host)).query(PRIMARY_SQL)
        except (PgError, ValueError) as exc:
            return PgView(reachable=False, error=str(exc))
        return PgView(
            reachable=True,
            in_recovery=row["in_recovery"],
            timeline=row["timeline"],
            streaming_to=tuple(row["streaming_to"] or ()),
            database_bytes=row["database_bytes"],
        )

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
