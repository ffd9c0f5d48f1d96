"""The diagnosis: why this hub's standby does not stream (or does not replay), as one cause.

A pure decision over what one read saw (`DiagnosisInputs`); `diagnosis_read` gathers the inputs.
It is part of the shared reading (`ClusterState.diagnosis`), so the exporter that publishes the
cause and the remediator that acts on it decide from the same function.

Precedence, strongest first:
1. this hub is the primary (pacemaker promoted it) or a standby that streams and replays: no
   diagnosis; a standby that streams with replay paused: `replay_paused`;
2. live evidence from the handshake: the primary refuses the connection or cannot be reached
   (the log line saying the same is shown as the evidence when there is one); a handshake that
   succeeds clears a stale "rejected"/"unreachable" line of the log;
3. the newest message of the server log since streaming last started that names a cause;
4. what the handshake and the control file tell together: another system identifier, a timeline
   ahead of the primary's, a server that last ran as a primary while another one is (not a
   fresh base backup, whose control file is the primary's);
5. for a server that is not running: its data directory and pg_controldata (intact or not);
6. otherwise `unknown`, with what was seen.
For a server that is not running, 4, the log's history lines (removed WAL, a forked timeline,
damaged data) and 5 come before 2 and the log's connection lines: why it is stopped is in its
data, and a handshake that fails while the primary's address moves (a failover) says nothing
about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clusterstate.handshake import Handshake
from clusterstate.host import DataDir
from clusterstate.parsers.pg_controldata import ControlData
from clusterstate.parsers.pg_messages import (
    CLEANUP_CURES,
    RESYNC_CURES,
    Cause,
    Clue,
)
from clusterstate.postgres import PgFacts

SOURCES = (
    "server_log",
    "handshake",
    "wal_receiver",
    "pg_controldata",
    "data_directory",
    "replay",
    "postgres",
)
UNREADABLE_REASONS = ("auth", "permission", "timeout", "parse", "schema", "query", "internal")
"""Read failures of the local server that do not mean it is down (it runs but cannot be read)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What decided the cause: a source (one of SOURCES) and its words."""

    source: str
    text: str
    at: float | None = None
    """When the source said it (a log line's time), if known."""

    def describe(self) -> str:
        return f"{self.source}: {self.text}"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    node: str
    cause: Cause
    evidence: Evidence
    handshake: Handshake | None = None
    notes: tuple[str, ...] = ()
    """What the other sources said, for humans."""

    @property
    def resync_cures(self) -> bool:
        return self.cause in RESYNC_CURES

    @property
    def cleanup_cures(self) -> bool:
        return self.cause in CLEANUP_CURES

    def describe(self) -> str:
        """`cause (source: words)`: how every message of cfha names it."""
        return f"{self.cause.value} ({self.evidence.describe()})"

    def as_dict(self) -> dict[str, object]:
        return {
            "node": self.node,
            "cause": self.cause.value,
            "source": self.evidence.source,
            "evidence": self.evidence.text,
            "evidence_at": self.evidence.at,
            "handshake": self.handshake.describe() if self.handshake else None,
            "handshake_ok": self.handshake.ok if self.handshake else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DiagnosisInputs:
    node: str
    promoted_nodes: tuple[str, ...] | None
    """Where pacemaker promoted the database (None: pacemaker could not be read)."""
    local: PgFacts | None
    data_dir: DataDir | None = None
    controldata: ControlData | None = None
    controldata_failure: str | None = None
    """pg_controldata failed because of the data directory itself (not a permission)."""
    log_clue: Clue | None = None
    """The newest cause-naming log message since streaming last started."""
    fresh_backup: bool = False
    """The data directory holds a `backup_label`: a base backup not started yet (its control
    file is the primary's, "in production"), not a former primary."""
    handshake: Handshake | None = None
    notes: tuple[str, ...] = ()


def is_primary_here(node: str, promoted: tuple[str, ...] | None, local: PgFacts | None) -> bool:
    if promoted is not None and node in promoted:
        return True
    return local is not None and local.up and local.role == "primary"


def streams(local: PgFacts | None) -> bool:
    receiver = local.receiver if local is not None else None
    return bool(local and local.up and receiver is not None and receiver.status == "streaming")


def needs_reading(node: str, promoted: tuple[str, ...] | None, local: PgFacts | None) -> bool:
    """Whether the expensive sources (log, control file, handshake) are worth reading: this hub
    is not the primary and its standby does not stream."""
    return not is_primary_here(node, promoted, local) and not streams(local)


def diagnose(i: DiagnosisInputs) -> Diagnosis | None:
    """The cause, or None when there is nothing to explain. Pure."""
    if is_primary_here(i.node, i.promoted_nodes, i.local):
        return None
    local = i.local
    if streams(local):
        assert local is not None
        if local.replay_paused:
            pending = local.replay_pending_bytes
            behind = f"; {pending:.0f} bytes received and not replayed" if pending else ""
            text = f"pg_is_wal_replay_paused() is true{behind}"
            return _found(i, Cause.REPLAY_PAUSED, Evidence("replay", text))
        return None
    if local is not None and local.up:
        return _live(i) or _logged(i) or _histories(i) or _unknown(i)
    # A server that is not running: what its data and history say come first (a handshake that
    # fails while the primary's address moves says nothing about why this one is stopped).
    history = _histories(i) or _logged(i, connection=False) or _at_rest(i)
    return history or _live(i) or _logged(i) or _unknown(i)


def _found(i: DiagnosisInputs, cause: Cause, evidence: Evidence) -> Diagnosis:
    notes = list(i.notes)  # the handshake has a field of its own
    if i.log_clue is not None and i.log_clue.text != evidence.text:
        notes.append(f"server log: {i.log_clue.text}")
    return Diagnosis(i.node, cause, evidence, i.handshake, tuple(notes))


def _live(i: DiagnosisInputs) -> Diagnosis | None:
    hs = i.handshake
    if hs is None or hs.ok or hs.cause not in (Cause.AUTH_REJECTED, Cause.PRIMARY_UNREACHABLE):
        return None
    assert hs.cause is not None
    clue = i.log_clue
    if clue is not None and clue.cause is hs.cause:
        return _found(i, hs.cause, Evidence("server_log", clue.text, clue.at))
    return _found(i, hs.cause, Evidence("handshake", hs.describe()))


def _logged(i: DiagnosisInputs, *, connection: bool = True) -> Diagnosis | None:
    """The log's clue; `connection=False` leaves out rejected/unreachable lines."""
    clue = i.log_clue
    if clue is None:
        return None
    about_connection = clue.cause in (Cause.AUTH_REJECTED, Cause.PRIMARY_UNREACHABLE)
    if about_connection and not connection:
        return None
    if about_connection and i.handshake is not None and i.handshake.ok:
        return None  # the primary accepts the connection now: that line is history
    return _found(i, clue.cause, Evidence("server_log", clue.text, clue.at))


def _histories(i: DiagnosisInputs) -> Diagnosis | None:
    """The standby's history against the primary's (handshake) and against who is primary."""
    hs, local, control = i.handshake, i.local, i.controldata
    own_system = (local.system_identifier if local and local.up else None) or (
        control.system_identifier if control else None
    )
    own_timeline = (local.timeline if local and local.up else None) or (
        control.timeline if control else None
    )
    if hs is not None and hs.ok:
        if own_system and hs.system_identifier and own_system != hs.system_identifier:
            text = (
                f"the primary's system identifier is {hs.system_identifier}, this data "
                f"directory's is {own_system}: another cluster"
            )
            return _found(i, Cause.TIMELINE_DIVERGED, Evidence("handshake", text))
        if own_timeline and hs.timeline and own_timeline > hs.timeline:
            text = f"this server is on timeline {own_timeline}, the primary on {hs.timeline}"
            return _found(i, Cause.TIMELINE_DIVERGED, Evidence("handshake", text))
    running = local is not None and local.up
    if not running and control is not None and control.last_ran_as_primary and not i.fresh_backup:
        others = [n for n in (i.promoted_nodes or ()) if n != i.node]
        if others or (hs is not None and hs.ok):
            primary = others[0] if others else "another server"
            text = (
                f"Database cluster state: {control.cluster_state} (it last ran as a primary, "
                f"timeline {control.timeline}); {primary} is the primary now"
            )
            return _found(i, Cause.TIMELINE_DIVERGED, Evidence("pg_controldata", text))
    return None


def _at_rest(i: DiagnosisInputs) -> Diagnosis | None:
    """A server that is not running: is its data directory intact?"""
    local = i.local
    if local is not None and (local.up or local.error_reason in UNREADABLE_REASONS):
        return None
    data = i.data_dir
    if data is not None and data.exists is False:
        return _found(i, Cause.DATA_MISSING_OR_CORRUPT, Evidence("data_directory", "missing"))
    if data is not None and data.exists and data.has_version is False:
        text = "no PG_VERSION: not a data directory (empty or wiped)"
        return _found(i, Cause.DATA_MISSING_OR_CORRUPT, Evidence("data_directory", text))
    if i.controldata_failure is not None:
        evidence = Evidence("pg_controldata", i.controldata_failure)
        return _found(i, Cause.DATA_MISSING_OR_CORRUPT, evidence)
    control = i.controldata
    if control is not None:
        text = f"Database cluster state: {control.cluster_state}, timeline {control.timeline}"
        return _found(i, Cause.NOT_RUNNING_DATA_INTACT, Evidence("pg_controldata", text))
    return None


def _unknown(i: DiagnosisInputs) -> Diagnosis:
    local = i.local
    if local is not None and local.up:
        status = local.receiver.status if local.receiver else "absent"
        text = f"the WAL receiver is {status}; no source names why"
        return _found(i, Cause.UNKNOWN, Evidence("wal_receiver", text))
    why = local.error if local is not None and local.error else "not read"
    return _found(i, Cause.UNKNOWN, Evidence("postgres", f"PostgreSQL here: {why}"))


def clue_of(clues: Sequence[Clue | None]) -> Clue | None:
    """The newest of several sources' clues (a clue without a time ranks below timed ones)."""
    found = [c for c in clues if c is not None]
    if not found:
        return None
    return max(found, key=lambda c: (c.at is not None, c.at or 0.0))
