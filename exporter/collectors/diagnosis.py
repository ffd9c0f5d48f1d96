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
log, pg_controldata and the handshake itself only when there is something to explain. Its cost
is bounded: the handshake's connect timeout (`handshake_timeout_seconds`), pg_controldata's
timeout, the last `log_max_bytes` of each log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from clusterstate.diagnosis import Diagnosis
from clusterstate.diagnosis_read import DiagnosisReader, DiagnosisSettings
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.pg_messages import CAUSE_HELP, Cause
from clusterstate.postgres import PgFacts
from clusterstate.tools import CommandRunner
from exporter.collectors.verdict import facts_of
from exporter.scrape import CollectorError, CollectorResult
from servicekit.config import CollectorSettings
from servicekit.metrics import Kind, MetricSpec, MetricWriter

CAUSES = tuple(c.value for c in Cause)


class DiagnosisConfig(CollectorSettings):
    pg_bin_dir: str | None = Field(
        default=None,
        description="Where pg_controldata is; default: the directory of the pgsql resource's "
        "pgctl (CFEngine: /var/cfengine/bin).",
    )
    replication_password_file: Path | None = Field(
        default=None,
        description="The replication user's password for the handshake, only if the standby's "
        "primary_conninfo and its OS user's ~/.pgpass hold it where this exporter cannot read.",
    )
    handshake_timeout_seconds: int = Field(default=2, ge=2, le=10)
    controldata_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    log_max_bytes: int = Field(default=256 * 1024, ge=4096, le=16 * 2**20)

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
        diagnosis = self._reader.read(self._node, pacemaker.pgsql, promoted, local)
        write(out, self._node, diagnosis)
        return diagnosis


def write(out: MetricWriter, node: str, d: Diagnosis | None) -> None:
    out.state(STANDBY_CAUSE, d.cause.value if d else None, node=node)
    if d is None:
        return
    e = d.evidence
    out.info(CAUSE_INFO, node=node, cause=d.cause.value, source=e.source, evidence=e.text)
    if d.handshake is not None:
        out.gauge(HANDSHAKE_OK, 1.0 if d.handshake.ok else 0.0, node=node)
