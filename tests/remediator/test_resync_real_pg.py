"""resync_standby's data steps for real, on a real PostgreSQL pair (each tested major), no lab.

Everything the plan runs on PostgreSQL runs for real: setpriv to the postgres user, pg_rewind
(dry run and real), pg_basebackup into a fresh directory, install/mv/cp/rm. Only pacemaker is a
stand-in (it cannot run here outside the lab): the hold stops the standby the way the agent's
stop does (`pg_ctl stop -m fast`), releasing it and the cleanup start it the way the agent's
start does (standby.signal plus primary_conninfo with application_name = node name). The
pacemaker part of the snapshot follows from that; PostgreSQL's and the files' parts are read
with the real readers. The full procedure against a live pacemaker is in test_lab.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from clusterstate.host import probe_data_dir
from lab.offline.pacemaker_standin import PacemakerStandIn
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from remediator.app import close_app, create_app
from remediator.clock import SystemClock
from remediator.config import config_from_mapping
from remediator.services import Services
from tests.support import pgcapture

from .conftest import TOKEN, auth, circuit_of, core, job_of, payload, resync_alert


@pytest.fixture
def pair(pg: PgInstall) -> Iterator[PgPair]:
    """A fresh pair per test (each one breaks its standby), on each tested major."""
    fresh = PgPair(pg)
    try:
        fresh.start()
        yield fresh
    finally:
        fresh.close()


@pytest.fixture
def setup(pair: PgPair, tmp_path: Path) -> Iterator[tuple[Flask, PacemakerStandIn]]:
    stand_in = PacemakerStandIn(pair)
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)  # the service refuses a token others may read
    config = config_from_mapping(
        {
            "cluster": "cftest",
            "node": "hub2",
            "journal": str(tmp_path / "j.db"),
            "kill_switch_file": str(tmp_path / "paused"),
            "web": {"token_file": str(token)},
            "guard": {"require_fencing": False, "poll_interval_seconds": 0.2},
        }
    )
    services = Services(runner=stand_in, reader=stand_in, lock=stand_in.lock, clock=SystemClock())
    app = create_app(config, services, start_worker=False)
    try:
        yield app, stand_in
    finally:
        close_app(app)
        stand_in.pg.close()


def copying_from_nowhere(app: Flask, stand_in: PacemakerStandIn) -> Flask:
    """The app again (the given one closed), its plan copying from a port where nothing
    listens; the guard and the diagnosis still see the primary (the CIB's port)."""
    close_app(app)
    config = core(app).config.model_copy(
        update={"postgres": core(app).config.postgres.model_copy(update={"port": 1})}
    )
    services = Services(runner=stand_in, reader=stand_in, lock=stand_in.lock, clock=SystemClock())
    return create_app(config, services, start_worker=False)


def rows(pair: PgPair, server: str, sql: str) -> str:
    return pair.psql(getattr(pair, server), sql)


def resync(app: Flask) -> dict[str, Any]:
    response = app.test_client().post("/webhook", json=payload(resync_alert()), headers=auth())
    [job_id] = response.get_json()["accepted"]
    core(app).worker.run_pending()
    return job_of(app, job_id)


def test_diverged_standby_is_rewound_and_keeps_the_primarys_rows(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    app, stand_in = setup
    rows(pair, "primary", "CREATE TABLE kept AS SELECT generate_series(1, 500) AS id")
    pair.wait_replayed()
    pair._pg("pg_ctl", "-D", str(pair.standby.datadir), "-w", "promote")  # split brain
    rows(pair, "standby", "CREATE TABLE diverged AS SELECT 1 AS id")
    stand_in.stop_standby()
    job = resync(app)
    assert job["state"] == "succeeded", (job["detail"], core(app).journal.steps(job["id"]))
    steps = {s["name"]: s for s in core(app).journal.steps(job["id"])}
    assert steps["rewind_dry_run"]["outcome"] == "ok" and steps["rewind"]["outcome"] == "ok"
    assert "servers diverged" in steps["rewind"]["output_tail"]
    assert steps["basebackup"]["outcome"] == "skipped"
    assert rows(pair, "standby", "SELECT count(*) FROM kept") == "500"
    assert rows(pair, "standby", "SELECT to_regclass('diverged') IS NULL") == "t"


def test_wiped_standby_is_recloned_and_the_old_directory_kept(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    app, stand_in = setup
    rows(pair, "primary", "CREATE TABLE kept AS SELECT generate_series(1, 300) AS id")
    pair.wait_replayed()
    stand_in.stop_standby()
    for child in pair.standby.datadir.iterdir():  # the lab's wipe-standby
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    job = resync(app)
    assert job["state"] == "succeeded", (job["detail"], core(app).journal.steps(job["id"]))
    names = [s["name"] for s in core(app).journal.steps(job["id"]) if s["outcome"] == "ok"]
    assert names[:2] == ["hold", "wait_stopped"]
    assert {"basebackup", "set_aside", "swap_in"} <= set(names) and "rewind" not in names
    assert rows(pair, "standby", "SELECT count(*) FROM kept") == "300"
    aside = list(pair.base.glob("hub2.cfha-old-*"))
    assert len(aside) == 1 and aside[0].is_dir()
    assert not list(pair.base.glob("hub2.cfha-new-*"))


def test_unreachable_primary_fails_safely(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn], tmp_path: Path
) -> None:
    app, stand_in = setup
    app = copying_from_nowhere(app, stand_in)
    try:
        # a diverged standby (promoted, then stopped): a cause a re-sync cures
        pair._pg("pg_ctl", "-D", str(pair.standby.datadir), "-w", "promote")
        stand_in.stop_standby()
        before = sorted(p.name for p in pair.standby.datadir.iterdir())
        job = resync(app)
        assert job["state"] == "failed" and job["detail"].startswith("basebackup")
        steps = {s["name"]: s["outcome"] for s in core(app).journal.steps(job["id"])}
        assert steps["rewind_dry_run"] == "failed" and steps["basebackup"] == "failed"
        assert steps["remove_partial_copy"] == "ok" and steps["reassert_hold"] == "ok"
        assert "set_aside" not in steps or steps["set_aside"] == "skipped"
        assert stand_in.held  # the node stays banned
        assert sorted(p.name for p in pair.standby.datadir.iterdir()) == before  # untouched
        assert not list(pair.base.glob("hub2.cfha-new-*"))
        assert circuit_of(app, "resync_standby", "hub2")["open"] == 1
    finally:
        close_app(app)


def test_old_primary_on_the_same_timeline_is_recloned_not_rewound(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    """The lab's `diverge`: promotion by restart (the agent's restart_on_promote=true) keeps the
    timeline, so pg_rewind sees nothing to rewind although the old primary has WAL of its own."""
    app, stand_in = setup
    rows(pair, "primary", "CREATE TABLE kept AS SELECT generate_series(1, 200) AS id")
    pair.wait_replayed()
    stand_in.stop_standby()
    (pair.standby.datadir / "standby.signal").unlink()
    pair._start(pair.standby)  # hub2 runs as a primary on the same timeline
    rows(pair, "standby", "CREATE TABLE diverged AS SELECT 1 AS id")
    stand_in.stop_standby()
    rows(pair, "primary", "INSERT INTO kept SELECT generate_series(201, 250)")
    job = resync(app)
    assert job["state"] == "succeeded", (job["detail"], core(app).journal.steps(job["id"]))
    steps = {s["name"]: s for s in core(app).journal.steps(job["id"])}
    assert "no rewind required" in steps["rewind_dry_run"]["output_tail"]
    assert (
        "Database cluster state:               shut down\n" in steps["controldata"]["output_tail"]
    )
    assert steps["rewind"]["outcome"] == "skipped"
    assert steps["basebackup"]["outcome"] == "ok"
    assert rows(pair, "standby", "SELECT count(*) FROM kept") == "250"
    assert rows(pair, "standby", "SELECT to_regclass('diverged') IS NULL") == "t"


def test_killed_standby_is_left_to_a_cleanup(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    """The lab's `stop-standby`: the standby's postmaster died (an unclean stop). Its data are
    intact: pacemaker starting it again (a cleanup) is the cure, not a re-clone."""
    app, stand_in = setup
    pair.stop_standby()  # pg_ctl -m immediate: no shutdown checkpoint, like kill -9
    job = resync(app)
    assert job["state"] == "refused" and job["refused_by"] == "diagnosis"
    assert job["detail"].startswith("not_running_data_intact (pg_controldata: Database cluster")
    assert not any(c[0] in ("pcs", "cibadmin") for c in stand_in.calls)


def test_a_rejected_running_standby_is_never_stopped(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    """The issue's demo: pg_hba.conf starts rejecting the standby's replication connections."""
    app, stand_in = setup
    pgcapture.pg_hba_rejects(pair)  # the pair is the test's own: no need to undo it
    wait_for(lambda: "pg_hba.conf rejects" in pair.standby.log.read_text())
    job = resync(app)
    assert job["state"] == "refused" and job["refused_by"] == "diagnosis", job["detail"]
    assert job["detail"].startswith("auth_rejected (server_log: ")
    assert "pg_hba.conf rejects replication connection" in job["detail"]
    assert not any(c[0] in ("pcs", "cibadmin") for c in stand_in.calls)
    assert probe_data_dir(str(pair.standby.datadir)).postmaster_running  # never stopped


def test_a_failed_attempt_on_a_running_standby_restarts_it(
    pair: PgPair, setup: tuple[Flask, PacemakerStandIn]
) -> None:
    """WAL the running standby needs was removed; the re-clone fails (the copy's source is
    wrong): its data were not touched, so it is started again rather than held stopped."""
    app, stand_in = setup
    app = copying_from_nowhere(app, stand_in)
    try:
        pgcapture.wal_removed(pair)
        wait_for(lambda: "has already been removed" in pair.standby.log.read_text())
        job = resync(app)
        assert job["state"] == "failed" and job["detail"].startswith("basebackup"), job
        assert "release_hold_as_found: left as found" in job["detail"]
        steps = {s["name"]: s["outcome"] for s in core(app).journal.steps(job["id"])}
        assert steps["hold"] == "ok" and "rewind" not in steps  # wal_removed: no pg_rewind
        assert steps["restart_as_found"] == "ok" and steps["reassert_hold"] == "skipped"
        assert not stand_in.held
        assert probe_data_dir(str(pair.standby.datadir)).postmaster_running  # as it was found
    finally:
        close_app(app)


def wait_for(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.2)
