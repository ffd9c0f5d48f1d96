"""PostgreSQL as cfha reads it: the one statement of a read, and its pure decoding into `PgFacts`
(the readers that run it are in `postgres_read`).

One round trip returns everything for either role: functions that only work on a primary (or only
in recovery) sit behind `CASE WHEN pg_is_in_recovery()`, which PostgreSQL evaluates lazily for
volatile functions. Views that list several rows come back as JSON arrays. Works for a role that
is a member of `pg_monitor` (LSN columns of pg_stat_replication are NULL without it; the
settings that say where the server logs and how it reaches the primary need its
pg_read_all_settings). `primary_conninfo` may hold a password: it is kept out of `repr` and used
only for the diagnosis' handshake (`clusterstate.handshake`), never shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STATEMENT = """
WITH r AS (SELECT pg_is_in_recovery() AS in_recovery),
     s AS (SELECT pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS all_settings)
SELECT
  r.in_recovery,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_stats,
  current_setting('server_version_num')::int AS version_num,
  current_setting('server_version') AS version,
  current_setting('archive_mode') AS archive_mode,
  extract(epoch FROM pg_postmaster_start_time())::float8 AS postmaster_start,
  extract(epoch FROM now())::float8 AS now,
  CASE WHEN r.in_recovery THEN (SELECT timeline_id FROM pg_control_checkpoint())
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS timeline,
  CASE WHEN NOT r.in_recovery THEN pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8
  END AS current_lsn,
  CASE WHEN r.in_recovery THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::float8
  END AS receive_lsn,
  CASE WHEN r.in_recovery THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8
  END AS replay_lsn,
  CASE WHEN r.in_recovery THEN extract(epoch FROM pg_last_xact_replay_timestamp())::float8
  END AS last_replay_time,
  CASE WHEN r.in_recovery THEN pg_is_wal_replay_paused() END AS replay_paused,
  (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
  CASE WHEN s.all_settings THEN current_setting('primary_conninfo') END AS primary_conninfo,
  CASE WHEN s.all_settings THEN current_setting('data_directory') END AS data_directory,
  CASE WHEN s.all_settings AND current_setting('logging_collector')::bool
       THEN current_setting('log_directory') END AS log_directory,
  (SELECT coalesce(json_agg(json_build_object(
      'name', application_name, 'client_addr', client_addr::text, 'state', state,
      'sync_state', sync_state,
      'write_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8,
      'flush_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8,
      'replay_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,
      'write_seconds', extract(epoch FROM write_lag)::float8,
      'flush_seconds', extract(epoch FROM flush_lag)::float8,
      'replay_seconds', extract(epoch FROM replay_lag)::float8,
      'reply_age', extract(epoch FROM now() - reply_time)::float8)), '[]')
   FROM pg_stat_replication WHERE NOT r.in_recovery) AS senders,
  (SELECT json_build_object(
      'status', status, 'sender_host', sender_host, 'sender_port', sender_port,
      'received_tli', received_tli,
      'last_msg_age', extract(epoch FROM now() - last_msg_receipt_time)::float8)
   FROM pg_stat_wal_receiver LIMIT 1) AS receiver,
  (SELECT coalesce(json_agg(json_build_object(
      'name', slot_name, 'type', slot_type, 'active', active, 'wal_status', wal_status,
      'retained_bytes', pg_wal_lsn_diff(
          CASE WHEN r.in_recovery THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
          restart_lsn)::float8)), '[]')
   FROM pg_replication_slots) AS slots,
  (SELECT json_build_object(
      'archived', archived_count, 'failed', failed_count,
      'last_archived', extract(epoch FROM last_archived_time)::float8,
      'last_failed', extract(epoch FROM last_failed_time)::float8)
   FROM pg_stat_archiver) AS archiver
FROM r, s
"""

SENDER_STATES = ("streaming", "catchup", "startup", "backup", "stopping", "disconnected")
SENDER_STATE_HELP = (
    "connected and streaming WAL as it is written",
    "connected, catching up on WAL it missed",
    "the WAL sender is starting",
    "sending a base backup (pg_basebackup)",
    "the WAL sender is stopping",
    "expected but not connected: this standby receives nothing",
)
SYNC_STATES = ("async", "sync", "potential", "quorum")
RECEIVER_STATES = (
    "streaming",
    "starting",
    "waiting",
    "restarting",
    "stopping",
    "stopped",
    "absent",
)
RECEIVER_STATE_HELP = (
    "receiving WAL from the primary",
    "the WAL receiver is starting",
    "waiting to (re)connect to the primary",
    "restarting",
    "stopping",
    "stopped",
    "no WAL receiver process: the standby is not connected to any primary",
)
SLOT_WAL_STATES = ("reserved", "extended", "unreserved", "lost", "unknown")


class DecodeError(ValueError):
    """The row did not have the shape STATEMENT produces."""


@dataclass(frozen=True)
class StandbyLink:
    """The primary's view of one standby (a pg_stat_replication row, or an expected absentee)."""

    name: str
    state: str  # one of SENDER_STATES
    sync_state: str | None = None
    client_addr: str | None = None
    lag_bytes: Mapping[str, float | None] | None = None  # write / flush / replay
    lag_seconds: Mapping[str, float | None] | None = None
    reply_age_seconds: float | None = None

    @property
    def connected(self) -> bool:
        return self.state != "disconnected"


@dataclass(frozen=True)
class WalReceiver:
    status: str  # one of RECEIVER_STATES
    sender_host: str | None = None
    sender_port: int | None = None
    received_timeline: int | None = None
    last_message_age_seconds: float | None = None


@dataclass(frozen=True)
class Slot:
    name: str
    slot_type: str
    active: bool
    wal_status: str  # one of SLOT_WAL_STATES
    retained_bytes: float | None


@dataclass(frozen=True)
class Archiver:
    enabled: bool
    archived: int
    failed: int
    last_archived_age_seconds: float | None
    last_failed_time: float | None


@dataclass(frozen=True)
class PgFacts:
    """What this hub's PostgreSQL says about itself and its replication."""

    up: bool
    error: str | None = None
    role: str | None = None  # "primary" | "standby"
    version: str | None = None
    version_num: int | None = None
    timeline: int | None = None
    postmaster_start_time: float | None = None
    current_lsn: float | None = None
    receive_lsn: float | None = None
    replay_lsn: float | None = None
    last_replay_time: float | None = None
    replay_paused: bool | None = None
    replay_lag_seconds: float | None = None
    standbys: tuple[StandbyLink, ...] = ()
    receiver: WalReceiver | None = None
    slots: tuple[Slot, ...] = ()
    archiver: Archiver | None = None
    error_reason: str | None = None
    """A read failure reason (`connect`, `auth`, `timeout`, ...) when it could not be read."""
    system_identifier: str | None = None
    primary_conninfo: str | None = field(default=None, repr=False)
    """The standby's connection to the primary as configured (may hold a password)."""
    data_directory: str | None = None
    log_directory: str | None = None
    """Where the logging collector writes (as configured: may be relative to the data
    directory); None when the collector is off or the setting cannot be read."""

    @property
    def writable(self) -> bool:
        return self.up and self.role == "primary"

    @property
    def in_recovery(self) -> bool | None:
        """A standby (True), a primary (False), or unknown (None: not read)."""
        return None if not self.up or self.role is None else self.role == "standby"

    @property
    def streaming_to(self) -> tuple[str, ...]:
        """The standbys (application_name) a primary is streaming to, sorted."""
        return tuple(sorted(s.name for s in self.standbys if s.state == "streaming"))

    @property
    def received_timeline(self) -> int | None:
        return self.receiver.received_timeline if self.receiver is not None else None

    @property
    def streaming_standbys(self) -> int | None:
        if self.role != "primary":
            return None
        return sum(1 for s in self.standbys if s.state == "streaming")

    @property
    def replay_pending_bytes(self) -> float | None:
        if self.receive_lsn is None or self.replay_lsn is None:
            return None
        return max(0.0, self.receive_lsn - self.replay_lsn)


def decode(row: Mapping[str, Any], expected_standbys: Sequence[str] = ()) -> PgFacts:
    """Turn STATEMENT's row into facts. Pure; raises DecodeError on an unexpected shape."""
    try:
        in_recovery = bool(row["in_recovery"])
        now = float(row["now"])
        standbys = () if in_recovery else _standbys(row["senders"], expected_standbys)
        receiver = _receiver(row["receiver"]) if in_recovery else None
        facts = PgFacts(
            up=True,
            role="standby" if in_recovery else "primary",
            version=str(row["version"]),
            version_num=int(row["version_num"]),
            timeline=_int(row["timeline"]),
            postmaster_start_time=_float(row["postmaster_start"]),
            current_lsn=_float(row["current_lsn"]),
            receive_lsn=_float(row["receive_lsn"]),
            replay_lsn=_float(row["replay_lsn"]),
            last_replay_time=_float(row["last_replay_time"]),
            replay_paused=None if row["replay_paused"] is None else bool(row["replay_paused"]),
            standbys=standbys,
            receiver=receiver,
            slots=tuple(_slot(s) for s in row["slots"] or ()),
            archiver=_archiver(row["archiver"], row["archive_mode"], now),
            system_identifier=_str(row["system_identifier"]),
            primary_conninfo=_str(row["primary_conninfo"]),
            data_directory=_str(row["data_directory"]),
            log_directory=_str(row["log_directory"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"unexpected result shape: {exc!r}") from exc
    return _with_replay_lag(facts, now)


def _with_replay_lag(facts: PgFacts, now: float) -> PgFacts:
    """A standby's replay lag that stays 0 while the primary is idle and is unknown when cut off.

    Caught up with everything received while the receiver streams: 0, however long ago the last
    transaction was (postgres_exporter's lag grows on an idle primary). Behind: time since the
    last replayed transaction. Receiver not streaming: unknown, never 0 (a disconnected standby
    is not "caught up"); the primary's view and the receiver status say what is wrong.
    """
    if facts.role != "standby":
        return facts
    receiver_streaming = facts.receiver is not None and facts.receiver.status == "streaming"
    lag: float | None = None
    if receiver_streaming:
        pending = facts.replay_pending_bytes
        if pending == 0:
            lag = 0.0
        elif facts.last_replay_time is not None:
            lag = max(0.0, now - facts.last_replay_time)
    return PgFacts(**{**facts.__dict__, "replay_lag_seconds": lag})


def _standbys(rows: Any, expected: Sequence[str]) -> tuple[StandbyLink, ...]:
    best: dict[str, StandbyLink] = {}
    for raw in rows or ():
        link = StandbyLink(
            name=str(raw["name"] or "walreceiver"),
            state=raw["state"] if raw["state"] in SENDER_STATES else "startup",
            sync_state=raw["sync_state"] if raw["sync_state"] in SYNC_STATES else None,
            client_addr=raw["client_addr"],
            lag_bytes={k: _non_negative(raw[f"{k}_bytes"]) for k in ("write", "flush", "replay")},
            lag_seconds=_lag_seconds(raw),
            reply_age_seconds=_float(raw["reply_age"]),
        )
        # Two senders for one name (a reconnect in progress): keep the more useful one.
        current = best.get(link.name)
        if current is None or _rank(link) < _rank(current):
            best[link.name] = link
    for name in expected:
        best.setdefault(name, StandbyLink(name=name, state="disconnected"))
    return tuple(best[name] for name in sorted(best))


def _rank(link: StandbyLink) -> int:
    return SENDER_STATES.index(link.state)


def _lag_seconds(raw: Mapping[str, Any]) -> dict[str, float | None]:
    """PostgreSQL shows NULL lag once an idle standby has caught up: that is 0, not unknown."""
    out: dict[str, float | None] = {}
    for stage in ("write", "flush", "replay"):
        seconds = _float(raw[f"{stage}_seconds"])
        if seconds is None and _non_negative(raw[f"{stage}_bytes"]) == 0:
            seconds = 0.0
        out[stage] = seconds
    return out


def _non_negative(value: Any) -> float | None:
    number = _float(value)
    return None if number is None else max(0.0, number)


def _receiver(raw: Any) -> WalReceiver:
    if not raw:
        return WalReceiver(status="absent")
    status = raw["status"] if raw["status"] in RECEIVER_STATES else "starting"
    return WalReceiver(
        status=status,
        sender_host=raw["sender_host"],
        sender_port=_int(raw["sender_port"]),
        received_timeline=_int(raw["received_tli"]),
        # now() is the statement's start: a message that arrived during it reads slightly negative
        last_message_age_seconds=_non_negative(raw["last_msg_age"]),
    )


def _slot(raw: Mapping[str, Any]) -> Slot:
    status = raw["wal_status"] if raw["wal_status"] in SLOT_WAL_STATES else "unknown"
    return Slot(
        name=str(raw["name"]),
        slot_type=str(raw["type"]),
        active=bool(raw["active"]),
        wal_status=status,
        retained_bytes=_non_negative(raw["retained_bytes"]),
    )


def _archiver(raw: Any, archive_mode: Any, now: float) -> Archiver | None:
    if not raw:
        return None
    last = _float(raw["last_archived"])
    return Archiver(
        enabled=str(archive_mode) in ("on", "always"),
        archived=int(raw["archived"]),
        failed=int(raw["failed"]),
        last_archived_age_seconds=None if last is None else max(0.0, now - last),
        last_failed_time=_float(raw["last_failed"]),
    )


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
