"""Why this hub's standby does not stream, as one cause: the shared reading's diagnosis
(`clusterstate.diagnosis`, docs/diagnosis.md), published.

Example output on hub2 while the primary's pg_hba.conf rejects it::

    cfha_pg_standby_cause{cluster="cfcluster",node="hub2",state="auth_rejected"} 1.0
    cfha_pg_standby_cause{cluster="cfcluster",node="hub2",state="wal_removed"} 0.0
    cfha_pg_standby_diagnosis_info{cause="auth_rejected",evidence="FATAL: could not connect to the
      primary server: ... pg_hba.conf rejects replication connection ...",node="hub2",
      source="server_log"} 1.0
    cfha_pg_replication_handshake_ok{cluster="cfcluster",node="hub2"} 0.0

and on the primary, or a standby that streams and replays: every state 0, no info series, no
handshake. A derived collector: it runs after `pacemaker` (the pgsql resource's parameters, who
is promoted) and `postgres` (this hub's server), on their facts of the same scrape, and reads the
log, pg_controldata and the handshake itself only when there is something to explain. A scrape
waits for that read at most `wait_seconds`: a primary that does not answer makes the handshake
last its connect timeout (`handshake_timeout_seconds`), longer than a short scrape interval
allows, so a slower read finishes in the background (one at a time) and the next scrape
publishes it; meanwhile the previous diagnosis stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import ClassVar

from clusterstate.diagnosis import Diagnosis
from clusterstate.diagnosis_read import DiagnosisReader, DiagnosisSettings
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.pg_messages import CAUSE_HELP, Cause
from clusterstate.postgres import PgFacts
from clusterstate.tools import CommandRunner
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError, CollectorResult, facts_of
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

CAUSES = tuple(c.value for c in Cause)


class DiagnosisConfig(CollectorSettings):
    pg_bin_dir: str | None = setting(
        default=None,
        description="Where pg_controldata is; default: the directory of the pgsql resource's "
        "pgctl (CFEngine: /var/cfengine/bin).",
    )
    replication_password_file: Path | None = setting(
        default=None,
        description="The replication user's password for the handshake, only if the standby's "
        "primary_conninfo and its OS user's ~/.pgpass hold it where this exporter cannot read.",
    )
    wait_seconds: float = setting(
        default=1.0,
        gt=0,
        le=10,
        description="How long a scrape waits for the diagnosis; a slower one (an unanswered "
        "handshake) is published by the next scrape.",
    )
    handshake_timeout_seconds: int = setting(default=2, ge=2, le=10)
    controldata_timeout_seconds: float = setting(default=2.0, gt=0, le=10)
    log_max_bytes: int = setting(default=256 * 1024, ge=4096, le=16 * 2**20)

    @property
    def reader_settings(self) -> DiagnosisSettings:
        return DiagnosisSettings(
            pg_bin_dir=self.pg_bin_dir,
            password_file=self.replication_password_file,
            handshake_timeout_seconds=self.handshake_timeout_seconds,
            controldata_timeout_seconds=self.controldata_timeout_seconds,
            log_max_bytes=self.log_max_bytes,
        )


N = ("node",)
STANDBY_CAUSE = MetricSpec(
    "cfha_pg_standby_cause",
    "Why this hub's standby does not stream (or does not replay): 1 on the diagnosed cause, one "
    "at a time; all 0 on the primary and on a standby that streams and replays "
    "(docs/diagnosis.md).",
    kind=Kind.STATESET,
    labels=N,
    states=CAUSES,
    state_help=tuple(CAUSE_HELP[c] for c in Cause),
)
CAUSE_INFO = MetricSpec(
    "cfha_pg_standby_diagnosis_info",
    "While a cause is diagnosed: the source that named it (server_log, handshake, wal_receiver, "
    "pg_controldata, data_directory, replay, postgres) and its words (a log line without its "
    "prefix, at most 300 characters). One series per standby; its text changes only with the "
    "message.",
    kind=Kind.INFO,
    labels=(*N, "cause", "source", "evidence"),
)
HANDSHAKE_OK = MetricSpec(
    "cfha_pg_replication_handshake_ok",
    "1 if the primary answered this hub's replication handshake (IDENTIFY_SYSTEM as the "
    "replication user, no data) in this scrape, 0 if it refused or did not answer; absent when "
    "none was needed (the primary, or a standby that streams).",
    labels=N,
)


class DiagnosisCollector:
    name: ClassVar[str] = "diagnosis"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (STANDBY_CAUSE, CAUSE_INFO, HANDSHAKE_OK)

    def __init__(self, config: DiagnosisConfig, node: str, runner: CommandRunner) -> None:
        self._node = node
        self._reader = DiagnosisReader(config.reader_settings, runner)
        self._wait = config.wait_seconds
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnosis")
        self._running: Future[Diagnosis | None] | None = None
        self._last: tuple[Diagnosis | None] | None = None
        """The last finished read (a 1-tuple: None inside is "nothing to explain")."""

    def collect(
        self, out: MetricWriter, results: Mapping[str, CollectorResult]
    ) -> Diagnosis | None:
        pacemaker = facts_of(results, "pacemaker", PacemakerState)
        if pacemaker is None or pacemaker.pgsql is None:
            raise CollectorError(
                "unavailable", "the pgsql resource's parameters are unknown (pacemaker not read)"
            )
        database = pacemaker.database if pacemaker.up else None
        promoted = database.promoted_nodes if database and database.configured else None
        local = facts_of(results, "postgres", PgFacts)
        if self._running is None:
            read = self._reader.read
            self._running = self._pool.submit(read, self._node, pacemaker.pgsql, promoted, local)
        try:
            diagnosis = self._running.result(timeout=self._wait)
        except FutureTimeout:
            if self._last is None:
                raise CollectorError(
                    "timeout", f"no diagnosis within {self._wait:g}s yet (the handshake waits)"
                ) from None
            (diagnosis,) = self._last  # this read finishes in the background
        else:
            self._running, self._last = None, (diagnosis,)
        write(out, self._node, diagnosis)
        return diagnosis

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def write(out: MetricWriter, node: str, d: Diagnosis | None) -> None:
    out.state(STANDBY_CAUSE, d.cause.value if d else None, node=node)
    if d is None:
        return
    e = d.evidence
    out.info(CAUSE_INFO, node=node, cause=d.cause.value, source=e.source, evidence=e.text)
    if d.handshake is not None:
        out.gauge(HANDSHAKE_OK, 1.0 if d.handshake.ok else 0.0, node=node)
