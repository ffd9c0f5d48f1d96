"""PostgreSQL replication as this hub's own database sees it (either role).

Example output on a primary with its standby streaming::

    cfha_pg_up{cluster="cfcluster",node="hub1"} 1.0
    cfha_pg_role{cluster="cfcluster",node="hub1",state="primary"} 1.0
    cfha_pg_standby_state{cluster="cfcluster",node="hub1",standby="hub2",state="streaming"} 1.0
    cfha_pg_standby_lag_bytes{cluster="cfcluster",node="hub1",stage="replay",standby="hub2"} 0.0
    cfha_pg_streaming_standbys{cluster="cfcluster",node="hub1"} 1.0

and on an expected standby that is gone: `cfha_pg_standby_connected{standby="hub2"} 0` with state
`disconnected`, and *no* lag series (a missing standby never reads as zero lag).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clusterstate.pg import PgSession, PgSettings
from clusterstate.postgres import (
    RECEIVER_STATE_HELP,
    RECEIVER_STATES,
    SENDER_STATE_HELP,
    SENDER_STATES,
    SLOT_WAL_STATES,
    SYNC_STATES,
    PgFacts,
)
from clusterstate.postgres_read import PostgresUnreadable, read_postgres
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting


class PostgresConfig(CollectorSettings):
    conninfo: str = setting(
        default="host=/tmp dbname=cfdb",
        description="libpq connection string of this hub's PostgreSQL (CFEngine: socket in /tmp).",
    )
    password_file: Path | None = setting(
        default=None, description="File holding the password; never logged."
    )
    connect_timeout_seconds: int = setting(default=2, ge=2, le=30)
    statement_timeout_seconds: float = setting(default=2.0, gt=0, le=30)
    expected_standbys: list[str] = setting(
        default_factory=list,
        description="Standby names (application_name = pacemaker node name) the primary must "
        "serve; an absent one is published as disconnected.",
    )


N = ("node",)
NS = ("node", "standby")

UP = MetricSpec("cfha_pg_up", "1 if this hub's PostgreSQL answered the scrape's query.", labels=N)
ROLE = MetricSpec(
    "cfha_pg_role",
    "Replication role of this hub's PostgreSQL (all 0 when it is down).",
    kind=Kind.STATESET,
    labels=N,
    states=("primary", "standby"),
    state_help=("accepts writes (not in recovery)", "in recovery: a hot standby"),
)
SERVER_INFO = MetricSpec(
    "cfha_pg_server_info", "PostgreSQL server version.", kind=Kind.INFO, labels=(*N, "version")
)
VERSION_NUM = MetricSpec("cfha_pg_server_version_num", "server_version_num, e.g. 150008.", labels=N)
TIMELINE = MetricSpec(
    "cfha_pg_timeline",
    "Timeline: the current WAL timeline on a primary, the last checkpoint's on a standby.",
    labels=N,
)
START_TIME = MetricSpec(
    "cfha_pg_postmaster_start_timestamp_seconds", "When PostgreSQL started (Unix time).", labels=N
)
WAL_LSN = MetricSpec(
    "cfha_pg_wal_lsn_bytes",
    "Primary only: current WAL write position as a byte offset (compare across hubs).",
    labels=N,
)
RECEIVE_LSN = MetricSpec(
    "cfha_pg_wal_receive_lsn_bytes", "Standby only: last WAL position received.", labels=N
)
REPLAY_LSN = MetricSpec(
    "cfha_pg_wal_replay_lsn_bytes", "Standby only: last WAL position replayed.", labels=N
)
STANDBY_CONNECTED = MetricSpec(
    "cfha_pg_standby_connected",
    "Primary only: 1 if the standby has a WAL sender, 0 if it is expected but absent.",
    labels=NS,
)
STANDBY_STATE = MetricSpec(
    "cfha_pg_standby_state",
    "Primary only: the WAL sender state per standby (disconnected = expected, absent).",
    kind=Kind.STATESET,
    labels=NS,
    states=SENDER_STATES,
    state_help=SENDER_STATE_HELP,
)
STANDBY_SYNC = MetricSpec(
    "cfha_pg_standby_sync_state",
    "Primary only: synchronous state of a connected standby.",
    kind=Kind.STATESET,
    labels=NS,
    states=SYNC_STATES,
)
STANDBY_LAG_BYTES = MetricSpec(
    "cfha_pg_standby_lag_bytes",
    "Primary only: WAL bytes the standby has not yet written / flushed / replayed. "
    "Absent when the standby is not connected.",
    labels=(*NS, "stage"),
)
STANDBY_LAG_SECONDS = MetricSpec(
    "cfha_pg_standby_lag_seconds",
    "Primary only: time the standby is behind at each stage (0 once caught up and idle). "
    "Absent when unknown or not connected.",
    labels=(*NS, "stage"),
)
STANDBY_REPLY_AGE = MetricSpec(
    "cfha_pg_standby_reply_age_seconds",
    "Primary only: time since the standby's last status reply.",
    labels=NS,
)
STREAMING_STANDBYS = MetricSpec(
    "cfha_pg_streaming_standbys", "Primary only: standbys in state streaming.", labels=N
)
SLOT_ACTIVE = MetricSpec(
    "cfha_pg_slot_active", "1 if a replication slot is in use.", labels=(*N, "slot")
)
SLOT_RETAINED = MetricSpec(
    "cfha_pg_slot_retained_wal_bytes",
    "WAL bytes a replication slot forces this hub to keep (fills the disk when inactive).",
    labels=(*N, "slot"),
)
SLOT_WAL_STATUS = MetricSpec(
    "cfha_pg_slot_wal_status",
    "Whether the WAL a slot needs is still available (lost: the standby must be re-cloned).",
    kind=Kind.STATESET,
    labels=(*N, "slot"),
    states=SLOT_WAL_STATES,
)
RECEIVER_STATUS = MetricSpec(
    "cfha_pg_wal_receiver_status",
    "Standby only: WAL receiver status (absent = not connected to any primary).",
    kind=Kind.STATESET,
    labels=N,
    states=RECEIVER_STATES,
    state_help=RECEIVER_STATE_HELP,
)
RECEIVER_INFO = MetricSpec(
    "cfha_pg_wal_receiver_info",
    "Standby only: where the WAL receiver streams from.",
    kind=Kind.INFO,
    labels=(*N, "sender_host", "sender_port"),
)
RECEIVED_TIMELINE = MetricSpec(
    "cfha_pg_wal_receiver_timeline", "Standby only: timeline of the WAL being received.", labels=N
)
LAST_MESSAGE_AGE = MetricSpec(
    "cfha_pg_wal_receiver_last_message_age_seconds",
    "Standby only: time since the last message from the primary (grows when cut off).",
    labels=N,
)
REPLAY_PENDING = MetricSpec(
    "cfha_pg_replay_pending_bytes",
    "Standby only: WAL received but not yet replayed.",
    labels=N,
)
REPLAY_PAUSED = MetricSpec(
    "cfha_pg_replay_paused", "Standby only: 1 if WAL replay is paused.", labels=N
)
REPLAY_LAG = MetricSpec(
    "cfha_pg_replay_lag_seconds",
    "Standby only: how far replay is behind. 0 when everything received is replayed (also on an "
    "idle primary); time since the last replayed transaction when behind; absent when the WAL "
    "receiver is not streaming (unknown, never 0).",
    labels=N,
)
LAST_REPLAY = MetricSpec(
    "cfha_pg_last_replay_timestamp_seconds",
    "Standby only: commit time of the last replayed transaction (Unix time).",
    labels=N,
)
ARCHIVING = MetricSpec("cfha_pg_archiving_enabled", "1 if archive_mode is on.", labels=N)
ARCHIVED = MetricSpec(
    "cfha_pg_archiver_archived_total",
    "WAL segments archived since statistics reset.",
    kind=Kind.COUNTER,
    labels=N,
)
ARCHIVE_FAILED = MetricSpec(
    "cfha_pg_archiver_failed_total",
    "Failed WAL archiving attempts since statistics reset.",
    kind=Kind.COUNTER,
    labels=N,
)
LAST_ARCHIVED_AGE = MetricSpec(
    "cfha_pg_archiver_last_archived_age_seconds",
    "Time since the last WAL segment was archived; absent if none ever was.",
    labels=N,
)
LAST_ARCHIVE_FAILURE = MetricSpec(
    "cfha_pg_archiver_last_failure_timestamp_seconds",
    "When archiving last failed (Unix time); absent if it never did.",
    labels=N,
)


class PostgresCollector:
    name: ClassVar[str] = "postgres"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        UP, ROLE, SERVER_INFO, VERSION_NUM, TIMELINE, START_TIME, WAL_LSN, RECEIVE_LSN,
        REPLAY_LSN, STANDBY_CONNECTED, STANDBY_STATE, STANDBY_SYNC, STANDBY_LAG_BYTES,
        STANDBY_LAG_SECONDS, STANDBY_REPLY_AGE, STREAMING_STANDBYS, SLOT_ACTIVE, SLOT_RETAINED,
        SLOT_WAL_STATUS, RECEIVER_STATUS, RECEIVER_INFO, RECEIVED_TIMELINE, LAST_MESSAGE_AGE,
        REPLAY_PENDING, REPLAY_PAUSED, REPLAY_LAG, LAST_REPLAY, ARCHIVING, ARCHIVED,
        ARCHIVE_FAILED, LAST_ARCHIVED_AGE, LAST_ARCHIVE_FAILURE,
    )  # fmt: skip

    def __init__(self, config: PostgresConfig, node: str, session: PgSession | None = None) -> None:
        self._config = config
        self._node = node
        self._session = session or PgSession(
            PgSettings(
                conninfo=config.conninfo,
                password_file=config.password_file,
                connect_timeout_seconds=config.connect_timeout_seconds,
                statement_timeout_seconds=config.statement_timeout_seconds,
            )
        )
        self._expected = [s for s in config.expected_standbys if s != node]

    def collect(self, out: MetricWriter) -> PgFacts:
        try:
            facts = read_postgres(self._session, self._expected)
        except PostgresUnreadable as exc:
            # Down is a fact worth publishing: cfha_pg_up 0 and an empty role, plus the reason;
            # a role without the right to read replication details publishes only its role.
            self._write(out, exc.state, details=False)
            raise CollectorError(exc.reason, str(exc), partial=out, facts=exc.state) from exc
        self._write(out, facts)
        return facts

    def _write(self, out: MetricWriter, f: PgFacts, *, details: bool = True) -> None:
        node = self._node
        out.gauge(UP, 1.0 if f.up else 0.0, node=node)
        out.state(ROLE, f.role, node=node)
        if not (f.up and details):
            return
        if f.version:
            out.info(SERVER_INFO, node=node, version=f.version)
        out.gauge(VERSION_NUM, f.version_num, node=node)
        out.gauge(TIMELINE, f.timeline, node=node)
        out.gauge(START_TIME, f.postmaster_start_time, node=node)
        out.gauge(WAL_LSN, f.current_lsn, node=node)
        out.gauge(RECEIVE_LSN, f.receive_lsn, node=node)
        out.gauge(REPLAY_LSN, f.replay_lsn, node=node)
        if f.role == "primary":
            self._write_primary(out, f)
        else:
            self._write_standby(out, f)
        for slot in f.slots:
            out.gauge(SLOT_ACTIVE, 1.0 if slot.active else 0.0, node=node, slot=slot.name)
            out.gauge(SLOT_RETAINED, slot.retained_bytes, node=node, slot=slot.name)
            out.state(SLOT_WAL_STATUS, slot.wal_status, node=node, slot=slot.name)
        if f.archiver is not None:
            a = f.archiver
            out.gauge(ARCHIVING, 1.0 if a.enabled else 0.0, node=node)
            out.counter(ARCHIVED, a.archived, node=node)
            out.counter(ARCHIVE_FAILED, a.failed, node=node)
            out.gauge(LAST_ARCHIVED_AGE, a.last_archived_age_seconds, node=node)
            out.gauge(LAST_ARCHIVE_FAILURE, a.last_failed_time, node=node)

    def _write_primary(self, out: MetricWriter, f: PgFacts) -> None:
        node = self._node
        out.gauge(STREAMING_STANDBYS, f.streaming_standbys, node=node)
        for s in f.standbys:
            out.gauge(STANDBY_CONNECTED, 1.0 if s.connected else 0.0, node=node, standby=s.name)
            out.state(STANDBY_STATE, s.state, node=node, standby=s.name)
            if not s.connected:
                continue
            out.state(STANDBY_SYNC, s.sync_state, node=node, standby=s.name)
            out.gauge(STANDBY_REPLY_AGE, s.reply_age_seconds, node=node, standby=s.name)
            for stage, value in (s.lag_bytes or {}).items():
                out.gauge(STANDBY_LAG_BYTES, value, node=node, standby=s.name, stage=stage)
            for stage, value in (s.lag_seconds or {}).items():
                out.gauge(STANDBY_LAG_SECONDS, value, node=node, standby=s.name, stage=stage)

    def _write_standby(self, out: MetricWriter, f: PgFacts) -> None:
        node = self._node
        receiver = f.receiver
        out.state(RECEIVER_STATUS, receiver.status if receiver else "absent", node=node)
        if receiver is not None and receiver.status != "absent":
            out.info(
                RECEIVER_INFO,
                node=node,
                sender_host=receiver.sender_host or "",
                sender_port=str(receiver.sender_port or ""),
            )
            out.gauge(RECEIVED_TIMELINE, receiver.received_timeline, node=node)
            out.gauge(LAST_MESSAGE_AGE, receiver.last_message_age_seconds, node=node)
        out.gauge(REPLAY_PENDING, f.replay_pending_bytes, node=node)
        if f.replay_paused is not None:
            out.gauge(REPLAY_PAUSED, 1.0 if f.replay_paused else 0.0, node=node)
        out.gauge(REPLAY_LAG, f.replay_lag_seconds, node=node)
        out.gauge(LAST_REPLAY, f.last_replay_time, node=node)

    def interrupt(self, out: MetricWriter) -> PgFacts:
        """The scrape's deadline passed: cut the stuck query (the next scrape reconnects) and
        publish the database as down, so that CfHaPgDown sees it."""
        self._session.abort()
        down = PgFacts(up=False, error="no answer within the collector's deadline")
        self._write(out, down)
        return down

    def close(self) -> None:
        self._session.close()
