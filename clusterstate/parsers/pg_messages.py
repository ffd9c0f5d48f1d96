"""Why a standby does not stream, as PostgreSQL and libpq word it: pure classifiers of server log
records and of connection error texts.

Every pattern here was seen in a real server's log or a real libpq error on PostgreSQL 15 and 18
(`tests/fixtures/pg_messages/`, captured by `tests/support/pgcapture.py`). Patterns match the
message text only (never the log line prefix), and a libpq error nested in a walreceiver line
("could not connect to the primary server: ... FATAL:  pg_hba.conf rejects ...") is classified by
its innermost cause: the table is ordered so that authentication and history problems win over
the generic "could not connect".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Cause(StrEnum):
    """Why a standby is not streaming (or not replaying): one at a time."""

    PRIMARY_UNREACHABLE = "primary_unreachable"
    AUTH_REJECTED = "auth_rejected"
    WAL_REMOVED = "wal_removed"
    TIMELINE_DIVERGED = "timeline_diverged"
    NOT_RUNNING_DATA_INTACT = "not_running_data_intact"
    DATA_MISSING_OR_CORRUPT = "data_missing_or_corrupt"
    REPLAY_PAUSED = "replay_paused"
    UNKNOWN = "unknown"


CAUSE_HELP: dict[Cause, str] = {
    Cause.PRIMARY_UNREACHABLE: "the standby cannot reach the primary (network, refused, timeout)",
    Cause.AUTH_REJECTED: "the primary rejects the standby's replication connection (pg_hba, "
    "password, role)",
    Cause.WAL_REMOVED: "the WAL the standby needs is gone from the primary and the archive",
    Cause.TIMELINE_DIVERGED: "the standby's history is not the primary's (forked timeline, a "
    "former primary, another cluster)",
    Cause.NOT_RUNNING_DATA_INTACT: "PostgreSQL is not running on the standby; its data directory "
    "is intact",
    Cause.DATA_MISSING_OR_CORRUPT: "the standby's data directory is missing, empty or damaged",
    Cause.REPLAY_PAUSED: "the standby receives WAL but its replay is paused",
    Cause.UNKNOWN: "the standby does not stream and no source names why",
}
RESYNC_CURES = frozenset(
    {Cause.WAL_REMOVED, Cause.TIMELINE_DIVERGED, Cause.DATA_MISSING_OR_CORRUPT}
)
"""What re-cloning (pg_rewind or pg_basebackup) from the primary cures."""
CLEANUP_CURES = frozenset({Cause.NOT_RUNNING_DATA_INTACT})
"""What letting pacemaker start the instance again (a scoped cleanup) cures."""

# Ordered: the first match wins (innermost causes before "could not connect").
_PATTERNS: tuple[tuple[Cause, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(pattern, re.IGNORECASE))
    for cause, pattern in (
        (Cause.AUTH_REJECTED, r"pg_hba\.conf rejects (replication )?connection"),
        (Cause.AUTH_REJECTED, r"no pg_hba\.conf entry for (replication )?connection"),
        (Cause.AUTH_REJECTED, r"\b\w+ authentication failed for user"),
        (Cause.AUTH_REJECTED, r"no password supplied"),
        (Cause.AUTH_REJECTED, r"must be superuser or replication role to start walsender"),
        (Cause.AUTH_REJECTED, r"permission denied to start WAL sender"),
        (Cause.AUTH_REJECTED, r'role "[^"]*" (does not exist|is not permitted to log in)'),
        (Cause.WAL_REMOVED, r"requested WAL segment \S+ has already been removed"),
        (Cause.WAL_REMOVED, r"cannot read from replication slot .* invalidated"),
        (Cause.WAL_REMOVED, r"can no longer get changes from replication slot"),
        (Cause.TIMELINE_DIVERGED, r"is not a child of this server's history"),
        (Cause.TIMELINE_DIVERGED, r"forked off current database system timeline"),
        (Cause.TIMELINE_DIVERGED, r"is not in this server's history"),
        (Cause.TIMELINE_DIVERGED, r"highest timeline \d+ of the primary is behind recovery"),
        (Cause.TIMELINE_DIVERGED, r"does not contain minimum recovery point"),
        (Cause.TIMELINE_DIVERGED, r"database system identifier differs between the primary"),
        (Cause.DATA_MISSING_OR_CORRUPT, r"could not locate a valid checkpoint record"),
        (Cause.DATA_MISSING_OR_CORRUPT, r"invalid (primary |secondary )?checkpoint record"),
        (Cause.DATA_MISSING_OR_CORRUPT, r'could not (open|read) file "[^"]*global/pg_control"'),
        (Cause.DATA_MISSING_OR_CORRUPT, r"incorrect checksum in control file"),
        (Cause.DATA_MISSING_OR_CORRUPT, r"calculated CRC checksum does not match value stored"),
        (Cause.DATA_MISSING_OR_CORRUPT, r"is not a valid data directory"),
        (Cause.DATA_MISSING_OR_CORRUPT, r"database files are incompatible with server"),
        (Cause.DATA_MISSING_OR_CORRUPT, r'could not (open|find) (file|directory) "[^"]*pg_wal'),
        (Cause.DATA_MISSING_OR_CORRUPT, r"data directory \S+ (does not exist|has invalid perm)"),
        (Cause.REPLAY_PAUSED, r"recovery has paused"),
        (Cause.PRIMARY_UNREACHABLE, r"could not connect to the primary server"),
        (Cause.PRIMARY_UNREACHABLE, r"terminating walreceiver due to timeout"),
        (Cause.PRIMARY_UNREACHABLE, r"replication terminated by primary server"),
        (Cause.PRIMARY_UNREACHABLE, r"could not (receive|send) data (from|to) WAL stream"),
        (Cause.PRIMARY_UNREACHABLE, r"connection refused|timeout expired|no route to host"),
        (Cause.PRIMARY_UNREACHABLE, r"network is unreachable|could not translate host name"),
        (Cause.PRIMARY_UNREACHABLE, r"server closed the connection unexpectedly"),
        (Cause.PRIMARY_UNREACHABLE, r"the database system is (shutting down|starting up)"),
    )
)
STREAMING_STARTED = re.compile(r"started streaming WAL from primary at", re.IGNORECASE)
"""The walreceiver's line when streaming (re)starts: older lines no longer explain anything."""
# `%m [%p] ` (PostgreSQL's default log_line_prefix), the time zone as a name or an offset.
_PREFIX = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: (?P<tz>[A-Z]{1,5}|[+-]\d\d(?::?\d\d)?))?"
    r"(?: \[\d+\])?\s*"
)
_SEVERITY = re.compile(
    r"^(?:.*?\s)?(?P<sev>DEBUG\d?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC):\s+"
)
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log message: its first line and the lines that continue it (indented by a tab)."""

    text: str
    """The message without the line prefix, continuation lines joined by a space."""
    at: float | None
    """Unix time from a `%m`-style prefix in UTC or a numeric offset; None otherwise."""
    severity: str | None


@dataclass(frozen=True, slots=True)
class Clue:
    """A cause found in one message: the message as evidence."""

    cause: Cause
    text: str
    at: float | None = None


def classify_message(text: str) -> Cause | None:
    """The cause a log message or a libpq error names, if any. Pure."""
    for cause, pattern in _PATTERNS:
        if pattern.search(text):
            return cause
    return None


def log_records(lines: Iterable[str]) -> list[LogRecord]:
    """Group raw log lines into messages. Lines that start with white space continue the
    previous message (libpq's multi-line errors); lines before the first message are dropped."""
    records: list[tuple[str, float | None, str | None]] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line[0] in " \t":
            if records:
                text, at, sev = records[-1]
                records[-1] = (f"{text} {line.strip()}", at, sev)
            continue
        match = _PREFIX.match(line)
        at = _timestamp(match.group("ts"), match.group("tz")) if match else None
        body = line[match.end() :] if match else line
        level = _SEVERITY.match(body)
        records.append((body.strip(), at, level.group("sev") if level else None))
    return [LogRecord(text, at, sev) for text, at, sev in records]


def since_streaming_started(records: Sequence[LogRecord]) -> Sequence[LogRecord]:
    """The records after the newest "started streaming WAL" (all of them if there is none)."""
    for index in range(len(records) - 1, -1, -1):
        if STREAMING_STARTED.search(records[index].text):
            return records[index + 1 :]
    return records


def newest_clue(records: Sequence[LogRecord]) -> Clue | None:
    """The newest record that names a cause, as a clue (the walreceiver retries every few
    seconds and logs each failure, so the newest one says what blocks it now)."""
    for record in reversed(records):
        cause = classify_message(record.text)
        if cause is not None:
            return Clue(cause, shorten(record.text), record.at)
    return None


def classify_connection_error(text: str, *, password_source_known: bool = True) -> Cause:
    """The cause behind a failed replication connection (libpq's error text).

    `password_source_known`: whether the connection used every password source the standby's
    walreceiver has (False: a password file exists that cfha may not read). A server that asks
    for a password cfha could not give is then no proof the standby's own connection fails.
    """
    cause = classify_message(text)
    unproven = "no password supplied" in text and not password_source_known
    if cause is Cause.AUTH_REJECTED and unproven:
        return Cause.UNKNOWN
    if cause in (Cause.AUTH_REJECTED, Cause.PRIMARY_UNREACHABLE):
        return cause
    return Cause.UNKNOWN


def shorten(text: str) -> str:
    """One line of evidence: white space collapsed, at most MAX_MESSAGE_CHARS characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


def _timestamp(text: str, zone: str | None) -> float | None:
    if zone is None or (zone not in ("UTC", "GMT") and zone[0] not in "+-"):
        return None  # no zone, or a zone name other than UTC: ambiguous, leave it unknown
    suffix = "+00:00" if zone in ("UTC", "GMT") else _offset(zone)
    try:
        return datetime.fromisoformat(f"{text.replace(' ', 'T')}{suffix}").timestamp()
    except ValueError:
        return None


def _offset(zone: str) -> str:
    digits = zone[1:].replace(":", "")
    hours, minutes = digits[:2], digits[2:4] or "00"
    return f"{zone[0]}{hours}:{minutes}"
