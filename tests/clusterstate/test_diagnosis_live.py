"""The diagnosis as the services read it (`DiagnosisReader`), on a real primary and standby:
each fault is made for real, and the cause must be named from the real sources."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator

import pytest

from clusterstate.diagnosis import Diagnosis
from clusterstate.diagnosis_read import DiagnosisReader, DiagnosisSettings
from clusterstate.parsers.pg_messages import Cause
from clusterstate.pg import PgSession, PgSettings
from clusterstate.postgres import PgFacts
from clusterstate.postgres_read import PostgresUnreadable, read_postgres
from clusterstate.tools import SubprocessRunner
from lab.offline.clusterstates import pair_params
from lab.offline.pgpair import PgPair
from tests.support import pgcapture

DEADLINE = 30.0


@pytest.fixture(scope="module")
def pair(pg_pair: PgPair) -> PgPair:
    standby = pg_pair.standby
    pg_pair.psql(
        standby,
        "ALTER SYSTEM SET wal_retrieve_retry_interval = '1s'",
        "ALTER SYSTEM SET wal_receiver_timeout = '3s'",
        f"ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={pg_pair.primary.port} "
        "user=postgres application_name=hub2 connect_timeout=2'",
        "SELECT pg_reload_conf()",
    )
    pg_pair.wait_streaming()
    return pg_pair


@pytest.fixture
def session(pair: PgPair) -> Iterator[PgSession]:
    s = PgSession(PgSettings(pair.standby.conninfo()))
    yield s
    s.close()


def local_facts(session: PgSession) -> PgFacts:
    try:
        return read_postgres(session)
    except PostgresUnreadable as exc:
        return exc.state


def diagnose_now(pair: PgPair, session: PgSession) -> Diagnosis | None:
    reader = DiagnosisReader(DiagnosisSettings(), SubprocessRunner())
    return reader.read("hub2", pair_params(pair), ("hub1",), local_facts(session))


def until(
    pair: PgPair, session: PgSession, done: Callable[[Diagnosis | None], bool]
) -> Diagnosis | None:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = diagnose_now(pair, session)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE:g}s; last: {found}")
        time.sleep(0.3)


def test_a_streaming_standby_needs_no_diagnosis(pair: PgPair, session: PgSession) -> None:
    assert diagnose_now(pair, session) is None


def test_replay_paused(pair: PgPair, session: PgSession) -> None:
    pair.psql(pair.standby, "SELECT pg_wal_replay_pause()")
    try:
        pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('paused')")
        found = until(pair, session, lambda d: d is not None)
        assert found is not None and found.cause is Cause.REPLAY_PAUSED
        assert found.evidence.source == "replay"
    finally:
        pair.psql(pair.standby, "SELECT pg_wal_replay_resume()")
    assert diagnose_now(pair, session) is None


def test_pg_hba_rejects_the_standby(pair: PgPair, session: PgSession) -> None:
    with pgcapture.rejecting(pair):
        # The handshake names it at once; the line of the walreceiver's own attempt follows.
        first = until(pair, session, lambda d: d is not None and d.cause is not Cause.UNKNOWN)
        assert first is not None and first.cause is Cause.AUTH_REJECTED, first
        found = until(pair, session, lambda d: d is not None and d.evidence.source == "server_log")
        assert found is not None and found.cause is Cause.AUTH_REJECTED, found
        assert "pg_hba.conf rejects replication connection" in found.evidence.text
        assert found.handshake is not None and found.handshake.cause is Cause.AUTH_REJECTED
    pair.wait_streaming()
    assert until(pair, session, lambda d: d is None) is None


def test_the_primary_stopped(pair: PgPair, session: PgSession) -> None:
    pair._stop(pair.primary)
    try:
        found = until(pair, session, lambda d: d is not None and d.evidence.at is not None)
        assert found is not None and found.cause is Cause.PRIMARY_UNREACHABLE, found
        assert found.handshake is not None and not found.handshake.ok
    finally:
        pair._start(pair.primary)
    pair.wait_streaming()


def test_a_stopped_standby_with_intact_data(pair: PgPair, session: PgSession) -> None:
    pair.stop_standby()
    try:
        found = until(pair, session, lambda d: d is not None)
        assert found is not None and found.cause is Cause.NOT_RUNNING_DATA_INTACT, found
        assert found.evidence.source == "pg_controldata"
        assert found.handshake is not None and found.handshake.ok
    finally:
        pair.start_standby()


def test_a_stopped_standby_without_its_control_file(pair: PgPair, session: PgSession) -> None:
    pair.stop_standby()
    control = pair.standby.datadir / "global" / "pg_control"
    kept = pair.base / "pg_control.kept"
    shutil.move(control, kept)
    try:
        found = until(pair, session, lambda d: d is not None)
        assert found is not None and found.cause is Cause.DATA_MISSING_OR_CORRUPT, found
        assert found.evidence.source == "pg_controldata"
        assert "pg_control" in found.evidence.text
    finally:
        shutil.move(kept, control)
        pair.start_standby()
