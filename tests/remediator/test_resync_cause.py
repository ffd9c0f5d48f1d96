"""resync_standby acts only on a cause re-cloning cures, checks it again right before it stops
the standby, and a failed attempt leaves the node as found where that is safer (fake world; the
same on real PostgreSQL: test_resync_real_pg)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask

from clusterstate.handshake import Handshake
from clusterstate.parsers.pg_messages import Cause, Clue
from lab.offline.clusterstates import agent, pg_standby, with_pacemaker

from .conftest import job_of, resync_alert
from .fakeworld import World
from .snapshots import standby_failed
from .test_resync import names
from .test_worker import run, send

# Lines as PostgreSQL 15 writes them (tests/fixtures/pg_messages/pg15).
REJECTED = Clue(
    Cause.AUTH_REJECTED,
    'FATAL: could not connect to the primary server: connection to server at "10.250.0.100", '
    'port 5432 failed: FATAL: pg_hba.conf rejects replication connection for host "10.250.0.12", '
    'user "postgres", no encryption',
)
UNREACHABLE = Clue(Cause.PRIMARY_UNREACHABLE, "FATAL: terminating walreceiver due to timeout")
REFUSED = Handshake(
    False, "postgres@10.250.0.100:5432", error=REJECTED.text, cause=Cause.AUTH_REJECTED
)
TIMED_OUT = Handshake(
    False,
    "postgres@10.250.0.100:5432",
    error="connection timeout expired",
    cause=Cause.PRIMARY_UNREACHABLE,
)
REMOVED = Clue(
    Cause.WAL_REMOVED,
    "FATAL: could not receive data from WAL stream: ERROR: requested WAL segment "
    "000000010000000000000003 has already been removed",
)


def refusal(app: Flask, world: World) -> dict[str, object]:
    send(app, resync_alert())
    job = run(app)[0]
    assert world.changes() == [], world.changes()
    return job


def waiting(world: World, clue: Clue | None = None) -> None:
    """hub2 runs as a standby whose WAL receiver waits: the primary has no walsender for it,
    the agent reports HS:alone."""
    world.update_local("hub2", postgres=pg_standby(receiver="waiting"))
    primary = world.base.primary
    assert primary is not None
    links = tuple(replace(x, state="disconnected") for x in primary.standbys)
    views = tuple(
        agent("hub2", "HS:alone", "DISCONNECT") if v.node == "hub2" else v
        for v in world.base.pacemaker.agent_views
    )
    world.base = replace(
        with_pacemaker(world.base, agent_views=views), primary=replace(primary, standbys=links)
    )
    if clue is not None:
        world.log_clues["hub2"] = clue


def test_a_rejected_running_standby_is_never_stopped(world: World, app: Flask) -> None:
    waiting(world, REJECTED)
    world.handshake = REFUSED
    job = refusal(app, world)
    assert job["refused_by"] == "diagnosis"
    assert str(job["detail"]).startswith("auth_rejected (server_log: FATAL: could not connect")
    assert "pg_hba.conf rejects replication connection" in str(job["detail"])
    assert world.local["hub2"].postgres is not None and world.local["hub2"].postgres.up


@pytest.mark.parametrize(
    ("clue", "handshake", "cause"),
    [(UNREACHABLE, TIMED_OUT, "primary_unreachable"), (None, None, "unknown")],
)
def test_causes_a_resync_does_not_cure(
    world: World, app: Flask, clue: Clue | None, handshake: Handshake | None, cause: str
) -> None:
    waiting(world, clue)
    world.handshake = handshake or world.handshake
    job = refusal(app, world)
    assert job["refused_by"] == "diagnosis" and str(job["detail"]).startswith(cause)
    assert "a human must" in str(job["detail"])


def test_replay_paused_is_no_reason_to_resync(world: World, app: Flask) -> None:
    world.update_local("hub2", postgres=replace(pg_standby(), replay_paused=True))
    job = refusal(app, world)
    assert job["refused_by"] == "nothing_to_do"
    assert job["detail"] == (
        "hub2 is already streaming; replay_paused (replay: pg_is_wal_replay_paused() is true)"
    )


def test_a_stopped_standby_with_intact_data_is_for_a_cleanup(world: World, app: Flask) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    job = refusal(app, world)
    assert job["refused_by"] == "diagnosis"
    assert str(job["detail"]).startswith("not_running_data_intact (pg_controldata: ")
    assert "resource_cleanup" in str(job["detail"])


def test_no_resync_without_the_replication_handshake(world: World, app: Flask) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge()
    world.handshake = Handshake(False, "postgres@10.250.0.100:5432", error="timeout expired")
    job = refusal(app, world)
    assert job["refused_by"] == "replication_handshake"
    assert "timeout expired" in str(job["detail"])


def test_the_cause_is_read_again_right_before_the_hold(world: World, app: Flask) -> None:
    """Diverged when decided (and under the lock); rejected by the primary when the hold is
    about to stop it: the hold does not run."""
    waiting(world, world.log_clues.get("hub2"))
    world.diverge()

    def rejected_before_the_hold(read: int) -> None:
        if read == 3:  # the decision, the decision under the lock, then the hold's re-read
            world.log_clues["hub2"] = REJECTED
            world.handshake = REFUSED

    world.on_read = rejected_before_the_hold
    send(app, resync_alert())
    job = run(app)[0]
    assert job["state"] == "failed" and job["refused_by"] == "diagnosis"
    assert "before hold: diagnosis: auth_rejected" in str(job["detail"])
    assert world.changes() == []


def test_wal_removed_is_recloned_without_pg_rewind(world: World, app: Flask) -> None:
    waiting(world, REMOVED)
    send(app, resync_alert())
    job = run(app)[0]
    assert job["state"] == "succeeded", job["detail"]
    assert "pg_rewind" not in " ".join(names(world))
    assert names(world)[:4] == ["cibadmin --modify", "install -d", "cp -p", "install -d"]


def test_a_failed_attempt_that_touched_no_data_restarts_the_standby(
    world: World, app: Flask
) -> None:
    waiting(world)
    world.diverge()
    world.failing["pg_rewind"] = 1
    world.failing["pg_basebackup"] = 1
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    job = job_of(app, job_id)
    assert job["state"] == "failed"
    assert "then remove_partial_copy" in job["detail"]
    assert "release_hold_as_found: left as found" in job["detail"]
    assert "restart_as_found" in job["detail"] and "reassert_hold" not in job["detail"]
    assert names(world)[-3:] == ["rm -rf", "cibadmin --delete", "crm_resource --cleanup"]
    assert world.base.pacemaker.location_constraints == ()
    assert world.local["hub2"].postgres is not None and world.local["hub2"].postgres.up


def test_a_failed_attempt_that_changed_the_data_stays_held(world: World, app: Flask) -> None:
    waiting(world)
    world.diverge()
    world.cause_present.add("hub2")  # rewound, but the standby does not come back
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    job = job_of(app, job_id)
    assert job["state"] == "failed" and job["detail"].startswith("verify")
    assert "reassert_hold: held:" in job["detail"]
    assert "release_hold_as_found" not in job["detail"]
    assert [c.id for c in world.base.pacemaker.location_constraints] == [
        "cfha-hold-mscfpgsql-on-hub2"
    ]


def test_a_failed_attempt_on_a_standby_that_was_not_running_stays_held(
    world: World, app: Flask
) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge()
    world.failing["pg_rewind"] = 1
    world.failing["pg_basebackup"] = 1
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    assert "reassert_hold: held:" in job_of(app, job_id)["detail"]
