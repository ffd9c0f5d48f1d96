"""The worker on the fake world: acting, limits, circuit, kill switch, restarts, two hubs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lab.offline.clusterstates import location, with_pacemaker
from remediator.journal import JournalError
from remediator.policy import Policy, load_policy, policy_from_mapping
from tests.remediator.snapshots import cleanup_argv

from .conftest import (
    AppFactory,
    auth,
    ban_alert,
    body,
    circuit_of,
    cleanup_alert,
    core,
    job_of,
    payload,
    resync_alert,
)
from .fakeworld import Call, World
from .snapshots import standby_failed

CLEANUP = cleanup_argv("hub2")


def policy_with(action: str, **changes: Any) -> Policy:
    """The default policy with one rule's limits changed (parameters merged)."""
    data = load_policy(None).model_dump(mode="json")
    for rule in data["rules"]:
        if rule["action"] == action:
            params = changes.pop("parameters", {})
            rule.update(changes)
            rule["parameters"].update(params)
    return policy_from_mapping(data, "test")


def send(app: Flask, *alerts: dict[str, Any]) -> dict[str, Any]:
    response = app.test_client().post("/webhook", json=payload(*alerts), headers=auth())
    assert response.status_code == 202, response.json
    body = response.json
    assert isinstance(body, dict)
    return body


def run(app: Flask) -> list[dict[str, Any]]:
    """Let the worker take every queued job; the jobs, newest first."""
    core(app).worker.run_pending()
    return core(app).journal.jobs()


def fail_standby(world: World, age: float = 600) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2", age=age))


# -- resource_cleanup ----------------------------------------------------------------------------
def test_cleanup_runs_scoped_verifies_and_records_everything(world: World, app: Flask) -> None:
    fail_standby(world)
    job_id = send(app, cleanup_alert())["accepted"][0]
    assert world.calls == []  # nothing runs on the request thread
    run(app)
    assert world.commands() == [CLEANUP]
    detail = core(app).job_detail(job_id)
    assert detail is not None
    assert detail["state"] == "succeeded" and detail["executed"] == 1
    assert [s["name"] for s in detail["steps"]] == ["cleanup", "verify"]
    assert detail["steps"][0]["argv"] == list(CLEANUP)
    assert detail["steps"][0]["exit_code"] == 0 and detail["steps"][0]["duration"] is not None
    assert detail["steps"][1]["outcome"] == "ok"
    assert detail["before"]["failures"] and not detail["after"]["failures"]
    assert all(c["ok"] for c in detail["checks"])
    assert not world.lock.held
    events = [a["event"] for a in reversed(detail["audit"])]
    assert events == ["accepted", "lock_acquired", "executing", "succeeded"]


def test_cooldown_then_attempt_budget_then_circuit(world: World, make_app: AppFactory) -> None:
    policy = policy_with(
        "resource_cleanup",
        cooldown_seconds=600,
        attempts={"max_attempts": 2, "window_seconds": 86400},
    )
    app = make_app("hub2", policy=policy)
    days = iter(f"2027-01-{d:02d}T08:00:00Z" for d in range(1, 30))

    def episode() -> str:
        fail_standby(world, age=300)
        send(app, cleanup_alert(starts_at=next(days)))
        return str(run(app)[0]["state"])

    assert episode() == "succeeded"
    world.clock.advance(60)
    assert episode() == "refused"
    assert run(app)[0]["refused_by"] == "cooldown"
    world.clock.advance(600)
    assert episode() == "succeeded"
    world.clock.advance(700)
    assert episode() == "refused"
    assert run(app)[0]["refused_by"] == "attempt_budget"
    assert circuit_of(app, "resource_cleanup", "cfpgsql@hub2")["open"] == 1
    assert len(world.commands()) == 2


def test_a_cleanup_that_does_not_stick_opens_the_circuit(world: World, app: Flask) -> None:
    fail_standby(world)
    world.cause_present.add("hub2")
    send(app, cleanup_alert(starts_at="2027-01-01T00:00:00Z"))
    job = run(app)[0]
    assert job["state"] == "failed" and "verify" in job["detail"]
    assert circuit_of(app, "resource_cleanup", "cfpgsql@hub2")["open"] == 1
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert (
        'cfha_remediation_circuit_open{action="resource_cleanup",cluster="cftest",'
        'target="cfpgsql@hub2"} 1.0' in metrics
    )
    # The next episode is refused without touching the cluster, until a human resets.
    world.clock.advance(10 * 86400)
    world.cause_present.clear()
    fail_standby(world)
    send(app, cleanup_alert(starts_at="2027-01-11T00:00:00Z"))
    assert run(app)[0]["refused_by"] == "circuit_open"
    assert len(world.commands()) == 1
    client = app.test_client()
    reset = {"action": "resource_cleanup", "target": "cfpgsql@hub2", "by": "alice"}
    assert client.post("/api/circuits/reset", json=reset, headers=auth()).status_code == 200
    assert client.post("/api/circuits/reset", json=reset, headers=auth()).status_code == 404
    send(app, cleanup_alert(starts_at="2027-01-12T00:00:00Z"))
    assert run(app)[0]["state"] == "succeeded"


def test_nothing_to_do_and_refusals_run_no_command(world: World, app: Flask) -> None:
    send(app, cleanup_alert())
    job = run(app)[0]
    assert (job["state"], job["refused_by"]) == ("refused", "nothing_to_do")
    fail_standby(world, age=10)
    send(app, cleanup_alert())
    assert run(app)[0]["refused_by"] == "cause_gone"
    assert world.commands() == []


def test_a_decision_and_its_audit_record_commit_together(
    world: World, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(app, cleanup_alert())
    journal = core(app).journal

    def audit_fails(*_args: Any, **_kwargs: Any) -> None:
        raise JournalError("disk full")

    monkeypatch.setattr(journal, "audit", audit_fails)
    with pytest.raises(JournalError):
        core(app).worker.run_pending()
    [job] = journal.jobs()
    assert job["state"] == "queued"  # not "refused" without its audit record
    monkeypatch.undo()
    assert run(app)[0]["refused_by"] == "nothing_to_do"
    events = [a["event"] for a in journal.audit_log(job_id=job["id"])]
    assert events.count("refused") == 1


def test_pgsql_lock_means_resync_not_cleanup(world: World, app: Flask) -> None:
    fail_standby(world)
    world.update_local("hub2", pgsql_lock_present=True)
    send(app, cleanup_alert())
    job = run(app)[0]
    assert job["refused_by"] == "cause_gone" and "PGSQL.lock" in job["detail"]


def test_dry_run_plans_and_changes_nothing(world: World, make_app: AppFactory) -> None:
    app = make_app("hub2", dry_run=True)
    fail_standby(world)
    send(app, cleanup_alert())
    job = core(app).job_detail(run(app)[0]["id"])
    assert job is not None and job["state"] == "dry_run"
    assert job["plan"]["steps"][0]["argv"] == list(CLEANUP)
    assert world.commands() == [] and not world.lock.held


def test_cluster_unreadable_is_a_refusal(world: World, app: Flask) -> None:
    world.readable = False
    fail_standby(world)
    send(app, ban_alert())
    assert run(app)[0]["refused_by"] == "cluster_unreadable"


# -- kill switch ---------------------------------------------------------------------------------
def test_kill_switch_file_pauses_everything(world: World, app: Flask, tmp_path: Path) -> None:
    fail_standby(world)
    (tmp_path / "hub2" / "paused").touch()  # the way an operator does it without the service
    send(app, cleanup_alert())
    assert run(app)[0]["refused_by"] == "kill_switch"
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'cfha_remediation_kill_switch_engaged{cluster="cftest"} 1.0' in metrics
    assert world.commands() == []


def test_kill_switch_api(world: World, make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app("hub2", redecide_after_seconds=0)
    client = app.test_client()
    state = body(
        client.post(
            "/api/killswitch", json={"reason": "maintenance window", "by": "bob"}, headers=auth()
        )
    )
    assert state["engaged"] and state["reason"] == "maintenance window" and state["by"] == "bob"
    assert (tmp_path / "hub2" / "paused").exists()
    fail_standby(world)
    alert = cleanup_alert()
    send(app, alert)
    assert run(app)[0]["refused_by"] == "kill_switch"
    assert body(client.delete("/api/killswitch", headers=auth()))["engaged"] is False
    send(app, alert)  # a repeat of the refused episode is decided again
    assert run(app)[0]["state"] == "succeeded"
    events = [a["event"] for a in core(app).journal.audit_log()]
    assert "kill_switch_engaged" in events and "kill_switch_released" in events


def test_kill_switch_stops_a_running_job_between_steps(
    world: World, app: Flask, tmp_path: Path
) -> None:
    fail_standby(world)
    world.diverge()

    def engage_after_hold(call: Call) -> None:
        if "--modify" in call.argv:
            (tmp_path / "hub2" / "paused").touch()

    world.on_call = engage_after_hold
    send(app, resync_alert())
    job = run(app)[0]
    assert job["state"] == "interrupted" and job["refused_by"] == "kill_switch"
    assert [c[1] for c in world.commands()] == ["--modify"]  # only the hold ran
    assert any(c.id.startswith("cfha-hold-") for c in world.base.pacemaker.location_constraints)
    assert not world.lock.held


# -- resolve never kills, restart re-decides ------------------------------------------------------
def test_resolved_alert_does_not_stop_a_running_job(world: World, app: Flask) -> None:
    fail_standby(world)
    world.diverge()
    alert = resync_alert()
    resolved = {**alert, "status": "resolved", "endsAt": "2027-01-15T09:00:00Z"}

    def resolve_midway(call: Call) -> None:
        if "--modify" in call.argv:
            world.on_call = None
            assert send(app, resolved)["cancelled"] == []

    world.on_call = resolve_midway
    send(app, alert)
    assert run(app)[0]["state"] == "succeeded"
    assert "resolved" in [a["event"] for a in core(app).journal.audit_log()]


class Crash(BaseException):
    """Stands in for the process dying in the middle of a step."""


def test_interrupted_job_is_marked_and_redecided_after_restart(
    world: World, make_app: AppFactory
) -> None:
    fail_standby(world)
    world.diverge()
    first = make_app("hub2")
    lock_at_crash = []

    def crash_during_rewind(call: Call) -> None:
        if any(a.endswith("/pg_rewind") for a in call.argv) and "--dry-run" not in call.argv:
            world.on_call = None
            lock_at_crash.append(world.lock)
            raise Crash

    world.on_call = crash_during_rewind
    old_id = send(first, resync_alert())["accepted"][0]
    with pytest.raises(Crash):
        core(first).worker.run_pending()
    world.lock = lock_at_crash[0]  # a killed process runs no `finally`: its lock stays
    assert job_of(first, old_id)["state"] == "running"
    assert world.lock.held and world.lock.job_id == old_id
    before = len(world.calls)

    second = make_app("hub2")  # restart on the same journal
    journal = core(second).journal
    assert job_of(second, old_id)["state"] == "interrupted"
    assert not world.lock.held  # its own stale lock was released
    new = journal.jobs(state="queued")
    assert len(new) == 1 and new[0]["parent_job"] == old_id
    run(second)
    assert job_of(second, new[0]["id"])["state"] == "succeeded"
    # Decided again from live state: a new plan, starting with (re)placing the hold.
    replayed = [c.argv for c in world.calls[before:]]
    assert replayed[0][:3] == ("cibadmin", "--modify", "--allow-create")
    assert [a["event"] for a in reversed(journal.audit_log(job_id=old_id))][-3:] == [
        "interrupted",
        "redecide",
        "lock_released",
    ]


# -- two hubs, one cluster -----------------------------------------------------------------------
def aged_ban(world: World) -> None:
    s = world.snapshot("hub1")
    world.base = with_pacemaker(
        s,
        location_constraints=(location("cli-ban-mscfpgsql-on-hub2"),),
        last_change=s.taken_at - 7200,
    )


def test_both_hubs_get_the_alert_exactly_one_acts(world: World, make_app: AppFactory) -> None:
    hub1, hub2 = make_app("hub1"), make_app("hub2")
    aged_ban(world)
    alert = ban_alert()
    send(hub1, alert)
    send(hub2, alert)
    run(hub1)
    run(hub2)
    deletes = [c for c in world.calls if c.argv[:2] == ("cibadmin", "--delete") and not c.env]
    assert [c.node for c in deletes] == ["hub1"]
    assert core(hub1).journal.jobs()[0]["state"] == "succeeded"
    assert core(hub2).journal.jobs()[0]["refused_by"] == "nothing_to_do"


def test_the_other_hub_waits_for_the_lock_then_gives_up(world: World, make_app: AppFactory) -> None:
    hub1, hub2 = make_app("hub1"), make_app("hub2")
    aged_ban(world)
    alert = ban_alert()
    send(hub1, alert)
    send(hub2, alert)

    def hub2_decides_while_hub1_acts(call: Call) -> None:
        if call.argv[:2] == ("cibadmin", "--delete") and not call.env:
            world.on_call = None
            run(hub2)  # hub1 holds the cluster lock right now

    world.on_call = hub2_decides_while_hub1_acts
    run(hub1)
    job2 = core(hub2).journal.jobs()[0]
    assert (job2["state"], job2["refused_by"]) == ("refused", "cluster_lock")
    assert "held by hub1" in job2["detail"]
    assert {c.node for c in world.calls} == {"hub1"}  # hub2 ran nothing, not even a simulation


def test_a_young_constraint_waits(world: World, make_app: AppFactory) -> None:
    app = make_app("hub2", redecide_after_seconds=60)
    s = world.snapshot("hub2")
    world.base = with_pacemaker(
        s,
        location_constraints=(location("cli-ban-mscfpgsql-on-hub2"),),
        last_change=s.taken_at - 10,
    )
    alert = ban_alert()
    send(app, alert)
    job = run(app)[0]
    assert job["refused_by"] == "constraint_age"
    world.clock.advance(3600)
    send(app, alert)  # Alertmanager's repeat of the same episode
    assert run(app)[0]["state"] == "succeeded"


def test_a_removal_pacemaker_says_would_move_the_primary_is_refused(
    world: World, make_app: AppFactory
) -> None:
    app = make_app("hub1")
    aged_ban(world)
    world.simulated = [("demote", "cfpgsql:0", "hub1"), ("promote", "cfpgsql:1", "hub2")]
    send(app, ban_alert())
    job = run(app)[0]
    assert (job["state"], job["refused_by"]) == ("refused", "simulation")
    assert "demote cfpgsql:0" in job["detail"]
    assert world.changes() == []
