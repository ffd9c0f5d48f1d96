"""The remediator's memory: an SQLite journal (WAL, fsync on commit) that survives restarts.

Tables: `jobs` (one per decision that may act: state, plan, checks, before/after), `steps` (every
step with argv, exit code, duration, output tail), `alerts` (dedupe by fingerprint and startsAt,
pointing at the episode's latest job), `circuits` (per action and target), `constraints_seen`
(first sight of a constraint, evidence of its age) and `audit`: an append-only record of every
decision, enforced by triggers that abort any UPDATE or DELETE on it.

Everything that answers an HTTP request is committed before the answer is sent. One connection,
serialised by a lock: the service has one worker and a few request threads, and each operation is
a handful of small statements. Every SQLite failure, including a database locked by another
process past the busy wait or a full disk at commit, is a JournalError: the webhook answers 503
for it and the health check (`check_writable`, a real write) reports it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
BUSY_TIMEOUT_SECONDS = 10.0
"""How long a statement waits for another process's write lock before it fails."""
PROBE_TIMEOUT_SECONDS = 1.0
"""The health check's write waits this long at most: a health check must answer quickly."""
ACTIVE_STATES = ("queued", "running")
TERMINAL_STATES = ("succeeded", "failed", "refused", "interrupted", "dry_run", "cancelled")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, created_at REAL NOT NULL, node TEXT NOT NULL, rule TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, alertname TEXT NOT NULL,
    fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL, labels TEXT NOT NULL,
    dry_run INTEGER NOT NULL, state TEXT NOT NULL, refused_by TEXT, detail TEXT,
    started_at REAL, finished_at REAL, executed INTEGER NOT NULL DEFAULT 0,
    checks TEXT, plan TEXT, before TEXT, after TEXT, parent_job TEXT);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_target ON jobs (action, target, executed, finished_at);
CREATE INDEX IF NOT EXISTS jobs_by_alert ON jobs (fingerprint, starts_at);
CREATE TABLE IF NOT EXISTS steps (
    job_id TEXT NOT NULL REFERENCES jobs (id), idx INTEGER NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL, runs_on TEXT NOT NULL, argv TEXT, why TEXT NOT NULL,
    timeout REAL NOT NULL, destructive INTEGER NOT NULL, started_at REAL, finished_at REAL,
    exit_code INTEGER, duration REAL, outcome TEXT, detail TEXT, output_tail TEXT,
    PRIMARY KEY (job_id, idx));
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL, first_seen REAL NOT NULL,
    last_decided REAL NOT NULL, job_id TEXT, resolved_at REAL,
    PRIMARY KEY (fingerprint, starts_at));
CREATE TABLE IF NOT EXISTS circuits (
    action TEXT NOT NULL, target TEXT NOT NULL, open INTEGER NOT NULL, changed_at REAL NOT NULL,
    reason TEXT NOT NULL, job_id TEXT, PRIMARY KEY (action, target));
CREATE TABLE IF NOT EXISTS constraints_seen (
    signature TEXT PRIMARY KEY, constraint_id TEXT NOT NULL, first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, node TEXT NOT NULL,
    event TEXT NOT NULL, job_id TEXT, fingerprint TEXT, starts_at TEXT, alertname TEXT,
    action TEXT, target TEXT, reason TEXT, data TEXT);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""
JOB_COLUMNS = frozenset(
    {
        *("id", "created_at", "node", "rule", "action", "target", "alertname", "fingerprint"),
        *("starts_at", "labels", "dry_run", "state", "refused_by", "detail", "started_at"),
        *("finished_at", "executed", "checks", "plan", "before", "after", "parent_job"),
    }
)
STEP_RESULT_COLUMNS = frozenset({"exit_code", "duration", "outcome", "detail", "output_tail"})
JSON_COLUMNS = {"labels", "checks", "plan", "before", "after", "argv", "data"}


class JournalError(Exception):
    """The journal cannot be opened or written (disk full, permissions, corruption)."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def _row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    record = {}
    for (name, *_), value in zip(cursor.description, row, strict=True):
        decode = name in JSON_COLUMNS and isinstance(value, str)
        record[name] = json.loads(value) if decode else value
    return record


class Journal:
    def __init__(self, path: Path, node: str) -> None:
        self.path = path
        self.node = node
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.row_factory = _row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # committed means on disk
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
            )
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"{path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; nested use joins the outer transaction."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            try:
                self._statement("BEGIN IMMEDIATE")
                yield
                self._statement("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
                        self._db.execute("ROLLBACK")
                raise

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """One statement; rows as dicts (JSON columns decoded). Raises JournalError."""
        with self._lock:
            return self._statement(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One statement that changes rows; how many it changed. Raises JournalError."""
        with self._lock:
            return self._statement(sql, params).rowcount

    def _statement(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from exc

    def check_writable(self) -> None:
        """Commit a small write now, waiting at most PROBE_TIMEOUT_SECONDS for another process's
        lock. Raises JournalError when it cannot: a read alone would not notice a full disk, a
        read-only file or a database locked by someone else."""
        with self._lock:
            self._statement(f"PRAGMA busy_timeout = {int(PROBE_TIMEOUT_SECONDS * 1000)}")
            try:
                with self.transaction():
                    self._statement(
                        "INSERT INTO meta (key, value) VALUES ('write_probe', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (str(time.time()),),
                    )
            finally:
                self._statement(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")

    # -- audit -----------------------------------------------------------------------------------
    def audit(
        self, at: float, event: str, *, reason: str = "", data: Any = None, **fields: Any
    ) -> None:
        columns = ("job_id", "fingerprint", "starts_at", "alertname", "action", "target")
        values = [fields.pop(c, None) for c in columns]
        if fields:
            raise TypeError(f"unknown audit fields: {sorted(fields)}")
        self.execute(
            "INSERT INTO audit (at, node, event, reason, data, job_id, fingerprint, starts_at, "
            "alertname, action, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, self.node, event, reason, None if data is None else json.dumps(data), *values),
        )

    def audit_log(self, limit: int = 100, job_id: str | None = None) -> list[dict[str, Any]]:
        if job_id:
            return self.execute(
                "SELECT * FROM audit WHERE job_id = ? ORDER BY id DESC LIMIT ?", (job_id, limit)
            )
        return self.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))

    # -- alerts (dedupe) -------------------------------------------------------------------------
    def episode(self, fingerprint: str, starts_at: str) -> dict[str, Any] | None:
        """The dedupe record, with its job's `job_state` and `job_refused_by` (None when it has
        no job): all that deciding a repeat needs, in one narrow query."""
        rows = self.execute(
            "SELECT a.*, j.state AS job_state, j.refused_by AS job_refused_by FROM alerts a "
            "LEFT JOIN jobs j ON j.id = a.job_id WHERE a.fingerprint = ? AND a.starts_at = ?",
            (fingerprint, starts_at),
        )
        return rows[0] if rows else None

    def record_episode(self, fingerprint: str, starts_at: str, now: float, job_id: str) -> None:
        self.execute(
            "INSERT INTO alerts (fingerprint, starts_at, first_seen, last_decided, job_id) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint, starts_at) DO UPDATE SET "
            "last_decided = excluded.last_decided, job_id = excluded.job_id",
            (fingerprint, starts_at, now, now, job_id),
        )

    def resolve_episode(self, fingerprint: str, starts_at: str, now: float) -> None:
        self.execute(
            "INSERT INTO alerts (fingerprint, starts_at, first_seen, last_decided, resolved_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint, starts_at) DO UPDATE SET "
            "resolved_at = excluded.resolved_at",
            (fingerprint, starts_at, now, now, now),
        )

    # -- jobs ------------------------------------------------------------------------------------
    def create_job(self, **fields: Any) -> str:
        fields.setdefault("id", new_job_id())
        fields.setdefault("node", self.node)
        for name in JSON_COLUMNS & set(fields):
            fields[name] = json.dumps(fields[name])
        unknown = set(fields) - set(JOB_COLUMNS)
        if unknown:
            raise TypeError(f"unknown job fields: {sorted(unknown)}")
        names = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        sql = f"INSERT INTO jobs ({names}) VALUES ({marks})"  # noqa: S608 - names checked above
        self.execute(sql, tuple(fields.values()))
        return str(fields["id"])

    def update_job(self, job_id: str, *, expect_state: str | None = None, **fields: Any) -> bool:
        """Change a job; with `expect_state`, only if it is still in that state (a queued job
        cancelled meanwhile is not overwritten). True when the job was changed."""
        for name in JSON_COLUMNS & set(fields):
            fields[name] = json.dumps(fields[name])
        unknown = set(fields) - set(JOB_COLUMNS)
        if unknown:
            raise TypeError(f"unknown job fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE jobs SET {assignments} WHERE id = ?"  # noqa: S608 - names checked above
        params = [*fields.values(), job_id]
        if expect_state is not None:
            sql += " AND state = ?"
            params.append(expect_state)
        return self._write(sql, tuple(params)) > 0

    def job(self, job_id: str) -> dict[str, Any] | None:
        rows = self.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def jobs(self, limit: int = 50, state: str | None = None) -> list[dict[str, Any]]:
        return self.execute(
            "SELECT id, created_at, node, rule, action, target, alertname, state, refused_by, "
            "detail, dry_run, started_at, finished_at, parent_job FROM jobs "
            "WHERE ? IS NULL OR state = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (state, state, limit),
        )

    def next_queued(self) -> dict[str, Any] | None:
        rows = self.execute(
            "SELECT * FROM jobs WHERE state = 'queued' ORDER BY created_at, rowid LIMIT 1"
        )
        return rows[0] if rows else None

    def active_for_alert(self, fingerprint: str, starts_at: str) -> list[dict[str, Any]]:
        """The episode's jobs that are queued (being decided included) or running."""
        return self.execute(
            "SELECT * FROM jobs WHERE state IN ('queued', 'running') AND fingerprint = ? "
            "AND starts_at = ? ORDER BY created_at, rowid",
            (fingerprint, starts_at),
        )

    def queued_count(self) -> int:
        return int(self.execute("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'")[0]["n"])

    def steps(self, job_id: str) -> list[dict[str, Any]]:
        return self.execute("SELECT * FROM steps WHERE job_id = ? ORDER BY idx", (job_id,))

    def step_started(self, job_id: str, idx: int, step: dict[str, Any], now: float) -> None:
        self.execute(
            "INSERT OR REPLACE INTO steps (job_id, idx, name, kind, runs_on, argv, why, timeout, "
            "destructive, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                idx,
                step["name"],
                step["kind"],
                step["runs_on"],
                json.dumps(step["argv"]),
                step["why"],
                step["timeout_seconds"],
                int(bool(step["destructive"])),
                now,
            ),
        )

    def step_finished(self, job_id: str, idx: int, now: float, **fields: Any) -> None:
        if set(fields) - STEP_RESULT_COLUMNS:
            raise TypeError(f"unknown step fields: {sorted(set(fields) - STEP_RESULT_COLUMNS)}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        sql = f"UPDATE steps SET finished_at = ?, {assignments} WHERE job_id = ? AND idx = ?"  # noqa: S608
        self.execute(sql, (now, *fields.values(), job_id, idx))

    # -- limits ----------------------------------------------------------------------------------
    def last_executed_finish(
        self, action: str, target: str, exclude_job: str | None = None
    ) -> float | None:
        """When the last job that reached the cluster ended (`exclude_job`: the interrupted job
        a re-decision replaces, which must not put its own successor in cooldown)."""
        rows = self.execute(
            "SELECT MAX(COALESCE(finished_at, started_at)) AS at FROM jobs "
            "WHERE action = ? AND target = ? AND executed = 1 AND id IS NOT ?",
            (action, target, exclude_job),
        )
        return rows[0]["at"] if rows else None

    def attempts_since(self, action: str, target: str, since: float) -> int:
        """Runs that reached the cluster, whatever their end (an interrupted one counts)."""
        rows = self.execute(
            "SELECT COUNT(*) AS n FROM jobs WHERE action = ? AND target = ? AND executed = 1 "
            "AND started_at >= ?",
            (action, target, since),
        )
        return int(rows[0]["n"])

    def failures_in_a_row(self, action: str, target: str) -> int:
        rows = self.execute(
            "SELECT state FROM jobs WHERE action = ? AND target = ? AND executed = 1 "
            "AND state IN ('succeeded', 'failed', 'interrupted') "
            "ORDER BY finished_at DESC, rowid DESC LIMIT 50",
            (action, target),
        )
        count = 0
        for row in rows:
            if row["state"] == "succeeded":
                break
            count += row["state"] == "failed"
        return count

    # -- circuits --------------------------------------------------------------------------------
    def circuit(self, action: str, target: str) -> dict[str, Any] | None:
        rows = self.execute(
            "SELECT * FROM circuits WHERE action = ? AND target = ?", (action, target)
        )
        return rows[0] if rows else None

    def set_circuit(
        self,
        action: str,
        target: str,
        *,
        is_open: bool,
        now: float,
        reason: str,
        job_id: str | None,
    ) -> None:
        self.execute(
            "INSERT INTO circuits (action, target, open, changed_at, reason, job_id) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (action, target) DO UPDATE SET "
            "open = excluded.open, changed_at = excluded.changed_at, reason = excluded.reason, "
            "job_id = excluded.job_id",
            (action, target, int(is_open), now, reason, job_id),
        )

    def circuits(self) -> list[dict[str, Any]]:
        return self.execute("SELECT * FROM circuits ORDER BY action, target")

    # -- constraint ages -------------------------------------------------------------------------
    def observe_constraints(self, seen: dict[str, str], now: float) -> None:
        """One snapshot's constraints (signature -> id): new ones are first seen now, and those
        no longer there are forgotten, so one placed again later is young again."""
        with self.transaction():
            known = {r["signature"] for r in self.execute("SELECT signature FROM constraints_seen")}
            for signature in known - set(seen):
                self._write("DELETE FROM constraints_seen WHERE signature = ?", (signature,))
            for signature, constraint_id in seen.items():
                if signature not in known:
                    self._write(
                        "INSERT INTO constraints_seen (signature, constraint_id, first_seen) "
                        "VALUES (?, ?, ?)",
                        (signature, constraint_id, now),
                    )

    def first_seen(self, signature: str) -> float | None:
        """When this constraint was first seen since it last appeared; None: not seen."""
        rows = self.execute(
            "SELECT first_seen FROM constraints_seen WHERE signature = ?", (signature,)
        )
        return float(rows[0]["first_seen"]) if rows else None

    def forget_constraint(self, constraint_id: str) -> int:
        """Forget every sighting of a constraint id (it may have gone); how many there were."""
        return self._write("DELETE FROM constraints_seen WHERE constraint_id = ?", (constraint_id,))
