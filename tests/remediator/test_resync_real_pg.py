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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lab.offline.pacemaker_standin import PacemakerStandIn
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from remediator.app import close_app, create_app
from remediator.clock import SystemClock
from remediator.config import config_from_mapping
from remediator.services import Services

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
    close_app(app)
    # The plan copies from a port where nothing listens; the guard still sees a primary.
    config = core(app).config.model_copy(
        update={"postgres": core(app).config.postgres.model_copy(update={"port": 1})}
    )
    services = Services(runner=stand_in, reader=stand_in, lock=stand_in.lock, clock=SystemClock())
    app = create_app(config, services, start_worker=False)
    try:
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


def test_killed_standby_is_resynced(pair: PgPair, setup: tuple[Flask, PacemakerStandIn]) -> None:
    """The lab's `stop-standby`: the standby's postmaster died (an unclean stop)."""
    app, _stand_in = setup
    rows(pair, "primary", "CREATE TABLE kept AS SELECT generate_series(1, 100) AS id")
    pair.wait_replayed()
    pair.stop_standby()  # pg_ctl -m immediate: no shutdown checkpoint, like kill -9
    rows(pair, "primary", "INSERT INTO kept SELECT generate_series(101, 150)")
    job = resync(app)
    assert job["state"] == "succeeded", (job["detail"], core(app).journal.steps(job["id"]))
    assert rows(pair, "standby", "SELECT count(*) FROM kept") == "150"
    steps = {s["name"]: s["outcome"] for s in core(app).journal.steps(job["id"])}
    # pg_rewind's dry run refuses a target that was not shut down cleanly: a fresh copy.
    assert (steps["rewind_dry_run"], steps["basebackup"]) == ("failed", "ok")
