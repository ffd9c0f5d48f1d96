"""A monitoring connection to PostgreSQL that can never hang a scrape or leak a password.

One lazy, long-lived connection per target (Patroni's NamedConnection pattern): opened on first
use under a lock, dropped on any connection-level error and reopened on the next query. Every
session is autocommit, read-only, named, and bounded by connect, statement and lock timeouts.
Errors are classified into the collector failure reasons (`connect`, `auth`, `timeout`,
`permission`, `schema`, `query`).

The server enforces statement_timeout only while it runs: a server that is stopped (SIGSTOP, a
hung host) answers nothing, and its kernel still acknowledges every packet and keepalive, so
neither TCP timeout fires. So each query also has a client-side deadline: past it, the socket is
shut down under the waiting query, which fails at once (`timeout`), and the next query opens a
new connection. `abort()` does the same from another thread (a scrape deadline, a shutdown).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from clusterstate.errors import ReadError

log = logging.getLogger(__name__)

AUTH_SQLSTATES = {"28000", "28P01"}
# The client's deadline is the server's statement_timeout plus this: a live server cancels first.
CLIENT_MARGIN_SECONDS = 1.0
SCHEMA_ERRORS = (pg_errors.UndefinedTable, pg_errors.UndefinedColumn, pg_errors.UndefinedFunction)


class PgError(ReadError):
    """A query could not be answered (`reason`: connect, auth, timeout, permission, ...)."""


@dataclass(frozen=True)
class PgSettings:
    conninfo: str
    password_file: Path | None = None
    connect_timeout_seconds: int = 2  # libpq's minimum; per host attempt
    statement_timeout_seconds: float = 2.0
    application_name: str = "cfha-exporter"


def redacted(conninfo: str) -> str:
    """The connection string as it may appear in logs and errors: never with a password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparseable connection string>"
    params.pop("password", None)
    return make_conninfo("", **params)


class PgSession:
    """Thread-safe lazy connection; `query` returns rows as dicts or raises PgError."""

    def __init__(self, settings: PgSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._watchdog: _SocketWatchdog | None = None

    @property
    def target(self) -> str:
        return redacted(self._settings.conninfo)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            conn = self._connect()
            deadline = self._settings.statement_timeout_seconds + CLIENT_MARGIN_SECONDS
            watchdog = self._watchdog = _SocketWatchdog(conn.pgconn.socket, deadline)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql.encode(), params)
                    return cur.fetchall() if cur.description else []
            except pg_errors.QueryCanceled as exc:
                raise PgError("timeout", f"statement timeout: {_first_line(exc)}") from exc
            except psycopg.OperationalError as exc:
                watchdog.finish()
                self._drop()
                if watchdog.fired:
                    raise PgError(
                        "timeout",
                        f"{self.target}: no answer within {deadline:g}s; the connection was cut "
                        "and is opened anew on the next query",
                    ) from exc
                raise PgError("connect", f"connection lost: {_first_line(exc)}") from exc
            except pg_errors.InsufficientPrivilege as exc:
                raise PgError("permission", _first_line(exc)) from exc
            except SCHEMA_ERRORS as exc:
                raise PgError("schema", _first_line(exc)) from exc
            except psycopg.Error as exc:
                watchdog.finish()
                if conn.closed or conn.broken:
                    self._drop()
                raise PgError("query", _first_line(exc)) from exc
            finally:
                watchdog.finish()
                self._watchdog = None

    def abort(self) -> None:
        """Cut the query in progress, if any (from any thread): it fails with `timeout` at once."""
        watchdog = self._watchdog
        if watchdog is not None:
            watchdog.fire()

    def close(self) -> None:
        self.abort()
        if self._lock.acquire(timeout=2.0):
            try:
                self._drop()
            finally:
                self._lock.release()

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        s = self._settings
        timeout_ms = max(1, int(s.statement_timeout_seconds * 1000))
        options = (
            f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
            "-c default_transaction_read_only=on -c idle_in_transaction_session_timeout=10000"
        )
        extra: dict[str, Any] = {
            "connect_timeout": max(2, s.connect_timeout_seconds),
            "application_name": s.application_name,
            # CFEngine's cfdb is SQL_ASCII: without this psycopg hands text back as bytes.
            "client_encoding": "UTF8",
            "options": options,
            # A peer that vanishes after the connection is up must not hold the scrape forever.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": int(s.statement_timeout_seconds * 1000) + 2000,
        }
        if s.password_file is not None:
            try:
                extra["password"] = s.password_file.read_text().strip()
            except OSError as exc:
                raise PgError("permission", f"cannot read password file: {exc.strerror}") from exc
        try:
            conn = psycopg.connect(s.conninfo, autocommit=True, row_factory=dict_row, **extra)
        except psycopg.OperationalError as exc:
            raise PgError(_connect_reason(exc), f"{self.target}: {_first_line(exc)}") from exc
        except psycopg.ProgrammingError as exc:  # malformed connection string
            raise PgError("config", f"invalid connection string: {_first_line(exc)}") from exc
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("closing a broken connection failed", exc_info=True)
            self._conn = None


class _SocketWatchdog:
    """Shuts a connection's socket down if the query outlives `seconds` (or when fired).

    The socket is shut down, never closed: its descriptor stays libpq's, and `finish()` (called
    before the connection is dropped) guarantees that a late timer never touches a descriptor
    number the process has since reused.
    """

    def __init__(self, fd: int, seconds: float) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._finished = False
        self.fired = False
        self._timer = threading.Timer(seconds, self.fire)
        self._timer.daemon = True
        self._timer.start()

    def fire(self) -> None:
        with self._lock:
            if self._finished or self.fired:
                return
            self.fired = True
            try:
                with socket.socket(fileno=os.dup(self._fd)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                log.debug("cutting a stuck PostgreSQL connection failed: %s", exc)

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True


def _connect_reason(exc: psycopg.OperationalError) -> str:
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).lower()
    if sqlstate in AUTH_SQLSTATES or "authentication failed" in text or "no password" in text:
        return "auth"
    if "permission denied" in text:
        return "permission"
    if "timeout expired" in text:
        return "timeout"
    return "connect"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
