"""The worker under faults (issue 17, items 3-6 and 16): the cluster lock never outlives its
holder's intent, an unwritable journal is loud and runs nothing, a resolve that says "cancelled"
is kept, interrupted attempts count, and a kill switch that cannot be read is engaged.

Over the simulated cluster (fakeworld), except the lock of item 3, which is the real cibadmin on a
CIB file. The journal faults are real SQLite errors: another connection holds the database's
write lock, as a stuck `cfha-remediator` CLI or a backup tool would.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from clusterstate.pacemaker_state import LockState
from clusterstate.tools import CommandError, CommandResult
from remediator import journal as journal_module
from remediator.app import close_app, create_app
from remediator.journal import JournalError
from remediator.killswitch import KillSwitch
from remediator.lock import ClusterLock
from remediator.services import Services
from tests.support.runners import CibFileRunner

from .conftest import (
    AppFactory,
    auth,
    ban_alert,
    cleanup_alert,
    core,
    job_of,
    make_config,
    payload,
    resync_alert,
)
from .fakeworld import Call, FakeReader, FakeRunner, World
from .test_metrics_and_plan import value
from .test_worker import CLEANUP, Crash, aged_ban, fail_standby, policy_with, run, send

FAR = 4_000_000_000.0


# -- item 3: the lock is taken inside the try/finally that releases it ----------------------------
class ReadBackFails:
    """The real cibadmin on a CIB file, except that the query right after a create fails.

    FAKE (the failure only): a CIB manager that stops answering between two calls cannot be made
    offline. The create itself is real, so the lock really is in the CIB when the read fails.
    """

    def __init__(self, cib: Path) -> None:
        self.real = CibFileRunner(cib)
        self.after_create = False

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        if self.after_create and "--query" in argv:
            self.after_create = False
            raise CommandError("timeout", argv, "no answer from the CIB manager")
        self.after_create = "--create" in argv
        return self.real.run(argv, timeout=timeout, env=env, input_bytes=input_bytes)


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    path = tmp_path / "cib.xml"
    path.write_bytes(
        subprocess.run(["cibadmin", "--empty"], check=True, capture_output=True).stdout
    )
    return path


def test_a_lock_created_but_not_confirmed_is_released(
    world: World, tmp_path: Path, token_file: Path, cib: Path
) -> None:
    aged_ban(world)
    lock = ClusterLock(ReadBackFails(cib), "cibadmin", "hub1", timeout=10)
    services = Services(FakeRunner(world, "hub1"), FakeReader(world, "hub1"), lock, world.clock)
    app = create_app(make_config(tmp_path, "hub1", token_file), services, start_worker=False)
    try:
        send(app, ban_alert())
        job = run(app)[0]
        assert (job["state"], job["refused_by"]) == ("refused", "cluster_lock"), job
        assert "no answer" in job["detail"]
        left = ClusterLock(CibFileRunner(cib), "cibadmin", "hub1", timeout=10).read()
        assert not left.held, left  # was: held by this job until its lifetime ran out
        assert world.changes() == []
    finally:
        close_app(app)


def test_recovery_releases_the_lock_of_a_job_that_never_ran(
    world: World, make_app: AppFactory
) -> None:
    """A crash between taking the lock and marking the job running; the alert then resolves."""
    aged_ban(world)
    first = make_app("hub1")
    simulations: list[Call] = []
    lock_at_crash: list[LockState] = []

    def crash_under_the_lock(call: Call) -> None:
        if call.argv[0] == "crm_simulate":
            simulations.append(call)
            if len(simulations) == 2:  # the decision again, under the lock
                world.on_call = None
                lock_at_crash.append(world.lock)
                raise Crash

    world.on_call = crash_under_the_lock
    alert = ban_alert()
    [job_id] = send(first, alert)["accepted"]
    with pytest.raises(Crash):
        core(first).worker.run_pending()
    world.lock = lock_at_crash[0]  # a killed process runs no `finally`
    assert world.lock.job_id == job_id and job_of(first, job_id)["state"] == "queued"

    second = make_app("hub1")  # restart: recovery
    assert not world.lock.held  # was: held until its lifetime ran out
    released = [a for a in core(second).journal.audit_log() if a["event"] == "lock_released"]
    assert [(a["job_id"], a["reason"]) for a in released] == [(job_id, "recovery")]
    answer = send(second, {**alert, "status": "resolved", "endsAt": "2027-01-15T09:00:00Z"})
    assert answer["cancelled"] == [job_id]
    run(second)
    assert world.changes() == []


def test_recovery_leaves_the_other_hubs_lock_alone(world: World, make_app: AppFactory) -> None:
    other = LockState("hub2", "theirs", FAR, f"owner=hub2;job=theirs;acquired=1;expires={FAR:.0f}")
    world.lock = other
    make_app("hub1")
    assert world.lock == other


# -- item 4: a journal that cannot be written ------------------------------------------------------
@contextmanager
def journal_write_locked(app: Flask) -> Iterator[None]:
    """Another connection holds the journal's write lock (reads still work, as in WAL mode)."""
    blocker = sqlite3.connect(str(core(app).journal.path), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


@pytest.fixture
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked journal fails after 0.2 s instead of the service's 10 s."""
    monkeypatch.setattr(journal_module, "BUSY_TIMEOUT_SECONDS", 0.2)


@pytest.mark.usefixtures("short_busy_wait")
def test_an_unwritable_journal_is_visible_and_loud(world: World, app: Flask) -> None:
    client = app.test_client()
    with journal_write_locked(app):
        health = client.get("/healthz", headers=auth())
        assert health.status_code == 503, health.json  # was: 200 (a read still worked)
        assert any("journal" in p for p in health.json["problems"])  # type: ignore[index]
        assert value(app, "cfha_remediation_journal_ok") == 0
        answer = client.post("/webhook", json=payload(cleanup_alert()), headers=auth())
        assert answer.status_code == 503, answer.data  # was: an exception (500)
        assert answer.json == {"error": "journal unavailable; retry later"}
    assert client.get("/healthz").status_code == 200
    assert value(app, "cfha_remediation_journal_ok") == 1
    assert value(app, "cfha_remediation_webhook_requests_total", code="503") == 1
    assert core(app).journal.jobs() == []  # nothing half-written


@pytest.mark.usefixtures("short_busy_wait")
def test_no_action_runs_without_its_record(world: World, app: Flask) -> None:
    fail_standby(world)
    [job_id] = send(app, cleanup_alert())["accepted"]
    with journal_write_locked(app), pytest.raises(JournalError):
        core(app).worker.run_pending()
    assert world.changes() == []
    assert not world.lock.held  # was: held (the audit of the acquisition failed)
    assert job_of(app, job_id)["state"] == "queued"
    run(app)  # the journal works again: the job is decided afresh and recorded
    assert job_of(app, job_id)["state"] == "succeeded"
    assert world.changes() == [CLEANUP]


@pytest.mark.usefixtures("short_busy_wait")
def test_a_journal_that_fails_mid_job_stops_the_plan(world: World, app: Flask) -> None:
    fail_standby(world)
    world.diverge()  # a cause a re-sync cures
    held: list[Any] = []

    def lock_the_journal_after_the_hold(call: Call) -> None:
        if "--modify" in call.argv and not held:
            world.on_call = None
            blocker = sqlite3.connect(str(core(app).journal.path), isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            held.append(blocker)

    world.on_call = lock_the_journal_after_the_hold
    send(app, resync_alert())
    try:
        with pytest.raises(JournalError):
            core(app).worker.run_pending()
    finally:
        held[0].execute("ROLLBACK")
        held[0].close()
    assert [c[1] for c in world.changes()] == ["--modify"]  # the hold only: the rest unrecorded
    assert not world.lock.held


# -- item 5: a cancelled job does not run ---------------------------------------------------------
def test_a_job_cancelled_while_it_is_decided_does_not_run(
    world: World, make_app: AppFactory
) -> None:
    app = make_app("hub1")
    aged_ban(world)
    alert = ban_alert()
    [job_id] = send(app, alert)["accepted"]
    answers: list[dict[str, Any]] = []

    def resolve_during_the_simulation(call: Call) -> None:
        if call.argv[0] == "crm_simulate":
            world.on_call = None
            answers.append(send(app, {**alert, "status": "resolved"}))

    world.on_call = resolve_during_the_simulation
    run(app)
    assert answers[0]["cancelled"] == [job_id]
    assert job_of(app, job_id)["state"] == "cancelled"  # was: succeeded
    assert world.changes() == [] and not world.lock.held


def test_a_job_cancelled_while_it_waits_for_the_lock_does_not_run(
    world: World, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app("hub2")
    aged_ban(world)
    world.lock = LockState("hub1", "theirs", FAR, f"owner=hub1;job=theirs;expires={FAR:.0f}")
    alert = ban_alert()
    [job_id] = send(app, alert)["accepted"]
    answers: list[dict[str, Any]] = []
    sleep = world.clock.sleep

    def resolve_then_free_the_lock(seconds: float) -> None:
        if not answers:
            answers.append(send(app, {**alert, "status": "resolved"}))
            world.lock = LockState()  # the other hub is done
        sleep(seconds)

    monkeypatch.setattr(world.clock, "sleep", resolve_then_free_the_lock)
    run(app)
    assert answers[0]["cancelled"] == [job_id]
    job = job_of(app, job_id)
    assert job["state"] == "cancelled", job  # was: it took the lock and deleted the ban
    assert world.changes() == [] and not world.lock.held


def test_a_resolve_says_which_jobs_it_could_not_cancel(world: World, app: Flask) -> None:
    fail_standby(world)
    alert = cleanup_alert()
    answers: list[dict[str, Any]] = []

    def resolve_while_running(call: Call) -> None:
        world.on_call = None
        answers.append(send(app, {**alert, "status": "resolved"}))

    world.on_call = resolve_while_running
    [job_id] = send(app, alert)["accepted"]
    run(app)
    assert answers[0]["cancelled"] == []
    assert answers[0]["not_cancelled"] == [{"job_id": job_id, "state": "running"}]
    assert job_of(app, job_id)["state"] == "succeeded"


# -- item 6: interrupted attempts count -----------------------------------------------------------
def test_an_interrupted_attempt_counts_towards_the_budget(
    world: World, make_app: AppFactory
) -> None:
    policy = policy_with("resync_standby", attempts={"max_attempts": 1, "window_seconds": 86400})
    fail_standby(world)
    world.diverge()  # a cause a re-sync cures
    first = make_app("hub2", policy=policy)

    def crash_at_the_hold(call: Call) -> None:
        if "--modify" in call.argv:
            world.on_call = None
            raise Crash

    world.on_call = crash_at_the_hold
    [old_id] = send(first, resync_alert())["accepted"]
    with pytest.raises(Crash):
        core(first).worker.run_pending()
    commands = len(world.changes())
    second = make_app("hub2", policy=policy)  # restart: the job is interrupted, decided again
    assert job_of(second, old_id)["state"] == "interrupted"
    [new] = run(second)[:1]
    assert new["parent_job"] == old_id
    assert (new["state"], new["refused_by"]) == ("refused", "attempt_budget"), new  # was: ran
    assert "1 of 1" in new["detail"]
    assert len(world.changes()) == commands


# -- item 16: a kill switch that cannot be read is engaged -----------------------------------------
def test_a_kill_switch_that_cannot_be_read_is_engaged(tmp_path: Path) -> None:
    absent = tmp_path / "paused"
    assert not KillSwitch(absent).engaged()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    looping = tmp_path / "loop"
    looping.symlink_to(looping)
    a_file = tmp_path / "file"
    a_file.touch()
    for path in (dangling, looping, a_file / "paused", tmp_path / ("x" * 300)):
        switch = KillSwitch(path)
        assert switch.engaged(), path  # was: False for the symlinks
        assert switch.state()["engaged"] is True


def test_a_dangling_kill_switch_refuses_jobs(world: World, app: Flask, tmp_path: Path) -> None:
    fail_standby(world)
    os.symlink(tmp_path / "gone", tmp_path / "hub2" / "paused")
    send(app, cleanup_alert())
    assert run(app)[0]["refused_by"] == "kill_switch"
    assert world.changes() == []
