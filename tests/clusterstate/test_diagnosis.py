"""The diagnosis' decision (`clusterstate.diagnosis.diagnose`): which source wins, on inputs built
from what real servers said (tests/fixtures/pg_messages) and hand-made facts around them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from clusterstate.diagnosis import DiagnosisInputs, diagnose, needs_reading
from clusterstate.handshake import Handshake
from clusterstate.host import DataDir
from clusterstate.parsers.pg_controldata import ControlData, parse_controldata
from clusterstate.parsers.pg_messages import (
    Cause,
    Clue,
    classify_connection_error,
    log_records,
    newest_clue,
    since_streaming_started,
)
from clusterstate.postgres import PgFacts, WalReceiver

CAPTURED = Path(__file__).resolve().parents[1] / "fixtures" / "pg_messages" / "pg15"
SYSTEM = "7716183412321539998"
WAITING = PgFacts(
    up=True,
    role="standby",
    timeline=1,
    receiver=WalReceiver("waiting"),
    system_identifier=SYSTEM,
)
DOWN = PgFacts(up=False, error="connection refused", error_reason="connect")
INTACT = DataDir(True, False, "postgres", True, False, 10**9)


def clue(fault: str) -> Clue:
    text = (CAPTURED / f"{fault}.log").read_text().splitlines()
    found = newest_clue(since_streaming_started(log_records(text)))
    assert found is not None
    return found


def refused(fault: str) -> Handshake:
    error = (CAPTURED / f"{fault}.handshake").read_text().strip()
    return Handshake(
        False, "postgres@hub1:5432", error=error, cause=classify_connection_error(error)
    )


def answered(system: str = SYSTEM, timeline: int = 1) -> Handshake:
    return Handshake(True, "postgres@hub1:5432", system, timeline, "0/3000000")


def control(fault: str) -> ControlData:
    return parse_controldata((CAPTURED / f"{fault}.controldata").read_text())


def standby(**changes: Any) -> DiagnosisInputs:
    base = DiagnosisInputs("hub2", ("hub1",), WAITING, data_dir=INTACT)
    return replace(base, **changes)


def test_the_primary_and_a_streaming_standby_need_no_diagnosis() -> None:
    streaming = replace(WAITING, receiver=WalReceiver("streaming"))
    assert diagnose(DiagnosisInputs("hub1", ("hub1",), DOWN)) is None
    assert diagnose(standby(local=streaming)) is None
    assert not needs_reading("hub2", ("hub1",), streaming)
    assert not needs_reading("hub1", ("hub1",), DOWN)
    assert needs_reading("hub2", ("hub1",), WAITING)
    assert needs_reading("hub2", None, DOWN)


def test_replay_paused_while_streaming() -> None:
    paused = replace(
        WAITING, receiver=WalReceiver("streaming"), replay_paused=True, receive_lsn=200.0,
        replay_lsn=100.0,
    )  # fmt: skip
    found = diagnose(standby(local=paused))
    assert found is not None and found.cause is Cause.REPLAY_PAUSED
    assert "100 bytes received and not replayed" in found.evidence.text


def test_a_rejection_shows_the_standby_log_line_it_came_from() -> None:
    found = diagnose(standby(log_clue=clue("pg_hba_rejects"), handshake=refused("pg_hba_rejects")))
    assert found is not None and found.cause is Cause.AUTH_REJECTED
    assert found.evidence.source == "server_log" and found.evidence.at is not None
    assert "pg_hba.conf rejects replication connection" in found.describe()


def test_the_live_handshake_wins_over_an_older_line() -> None:
    """Rejected first, then the network went: the walreceiver's newest attempt may still be the
    rejected one, but the handshake says what blocks it now."""
    found = diagnose(standby(log_clue=clue("pg_hba_rejects"), handshake=refused("primary_frozen")))
    assert found is not None and found.cause is Cause.PRIMARY_UNREACHABLE
    assert found.evidence.source == "handshake"
    assert any("pg_hba.conf rejects" in note for note in found.notes)


def test_an_accepted_handshake_makes_a_rejection_line_history() -> None:
    found = diagnose(standby(log_clue=clue("password_changed"), handshake=answered()))
    assert found is not None and found.cause is Cause.UNKNOWN
    assert found.evidence.source == "wal_receiver"


def test_removed_wal_and_forked_timelines_come_from_the_log() -> None:
    for fault, cause in (
        ("wal_removed", Cause.WAL_REMOVED),
        ("timeline_forked", Cause.TIMELINE_DIVERGED),
        ("timeline_ahead", Cause.TIMELINE_DIVERGED),
        ("another_cluster", Cause.TIMELINE_DIVERGED),
    ):
        found = diagnose(standby(log_clue=clue(fault), handshake=answered()))
        assert found is not None and found.cause is cause, fault
        assert found.resync_cures


def test_another_cluster_or_a_newer_timeline_from_the_handshake_alone() -> None:
    other = diagnose(standby(handshake=answered(system="1234")))
    assert other is not None and other.cause is Cause.TIMELINE_DIVERGED
    assert "another cluster" in other.evidence.text
    ahead = diagnose(standby(local=replace(WAITING, timeline=2), handshake=answered()))
    assert ahead is not None and ahead.cause is Cause.TIMELINE_DIVERGED


def test_a_stopped_standby_with_intact_data() -> None:
    stopped = control("standby_stopped")
    shake = answered(system=stopped.system_identifier)
    found = diagnose(standby(local=DOWN, controldata=stopped, handshake=shake))
    assert found is not None and found.cause is Cause.NOT_RUNNING_DATA_INTACT
    assert found.cleanup_cures and not found.resync_cures
    assert "shut down in recovery" in found.evidence.text


def test_a_former_primary_while_another_node_is_primary() -> None:
    inputs = standby(local=DOWN, controldata=control("former_primary_stopped"))
    found = diagnose(inputs)
    assert found is not None and found.cause is Cause.TIMELINE_DIVERGED
    assert "last ran as a primary" in found.evidence.text and "hub1" in found.evidence.text
    alone = diagnose(replace(inputs, promoted_nodes=()))  # nobody else is primary: just stopped
    assert alone is not None and alone.cause is Cause.NOT_RUNNING_DATA_INTACT


def test_missing_or_damaged_data() -> None:
    gone = DataDir(False, False, None, False, False, 10**9)
    wiped = DataDir(True, False, "postgres", False, False, 10**9)
    for inputs in (
        standby(local=DOWN, data_dir=gone),
        standby(local=DOWN, data_dir=wiped),
        standby(local=DOWN, controldata_failure="could not open file global/pg_control"),
        standby(local=DOWN, log_clue=clue("control_file_damaged")),
    ):
        found = diagnose(inputs)
        assert found is not None and found.cause is Cause.DATA_MISSING_OR_CORRUPT, inputs


def test_a_server_that_runs_but_cannot_be_read_is_not_called_stopped() -> None:
    unreadable = PgFacts(up=False, error="password authentication failed", error_reason="auth")
    found = diagnose(standby(local=unreadable, controldata=control("standby_stopped")))
    assert found is not None and found.cause is Cause.UNKNOWN
    assert "password authentication failed" in found.evidence.text


def test_nothing_names_a_cause() -> None:
    found = diagnose(standby())
    assert found is not None and found.cause is Cause.UNKNOWN
    assert found.evidence.text == "the WAL receiver is waiting; no source names why"


def test_a_stopped_server_is_explained_by_its_data_before_an_unanswered_handshake() -> None:
    """During a failover the primary's address moves: the old primary's handshake times out,
    but why it is stopped is in its data (it last ran as a primary)."""
    found = diagnose(
        standby(local=DOWN, controldata=control("former_primary_stopped"),
                handshake=refused("primary_frozen"))
    )  # fmt: skip
    assert found is not None and found.cause is Cause.TIMELINE_DIVERGED
    intact = diagnose(
        standby(
            local=DOWN, controldata=control("standby_stopped"), handshake=refused("primary_frozen")
        )
    )
    assert intact is not None and intact.cause is Cause.NOT_RUNNING_DATA_INTACT


def test_a_fresh_base_backup_is_no_former_primary() -> None:
    copied = standby(local=DOWN, controldata=control("former_primary_stopped"), fresh_backup=True)
    found = diagnose(copied)
    assert found is not None and found.cause is Cause.NOT_RUNNING_DATA_INTACT
