"""/metrics (names the alert rules rely on), /healthz, and the plan preview that changes nothing."""

from __future__ import annotations

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from remediator import guard
from remediator.actions import ACTION_NAMES
from remediator.metrics import METRICS, RESULTS
from tests.remediator.snapshots import cleanup_argv

from .conftest import auth, ban_alert, body, cleanup_alert, core, payload, resync_alert
from .fakeworld import World
from .snapshots import standby_failed
from .test_worker import run, send


def samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(app: Flask, name: str, **labels: str) -> float | None:
    return samples(app).get((name, tuple(sorted({"cluster": "cftest", **labels}.items()))))


def test_every_documented_metric_is_exposed_with_cluster(app: Flask, world: World) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    send(app, cleanup_alert())
    run(app)
    names = {name for name, _ in samples(app)}
    for doc in METRICS:
        assert doc.name in names, doc.name
    assert all(dict(labels).get("cluster") == "cftest" for _, labels in samples(app))


def test_closed_label_sets_start_at_zero(app: Flask) -> None:
    for action in ACTION_NAMES:
        for result in RESULTS:
            assert value(app, "cfha_remediation_jobs_total", action=action, result=result) == 0
        for precondition in guard.PRECONDITIONS:
            labels = {"action": action, "precondition": precondition}
            assert value(app, "cfha_remediation_refusals_total", **labels) == 0
        assert value(app, "cfha_remediation_job_in_progress", action=action) == 0
        # unknown is not 0: no success yet means no series
        assert value(app, "cfha_remediation_last_success_timestamp_seconds", action=action) is None
    assert value(app, "cfha_remediation_kill_switch_engaged") == 0
    assert value(app, "cfha_remediation_queue_depth") == 0
    assert value(app, "cfha_remediation_info", node="hub2", version="0.1.0", dry_run="false") == 1


def test_counts_follow_the_journal(app: Flask, world: World) -> None:
    send(app, cleanup_alert())  # nothing to do: refused
    assert value(app, "cfha_remediation_queue_depth") == 1
    run(app)
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    send(app, cleanup_alert())
    run(app)
    action = "resource_cleanup"
    assert value(app, "cfha_remediation_jobs_total", action=action, result="refused") == 1
    assert value(app, "cfha_remediation_jobs_total", action=action, result="succeeded") == 1
    labels = {"action": action, "precondition": "nothing_to_do"}
    assert value(app, "cfha_remediation_refusals_total", **labels) == 1
    assert value(app, "cfha_remediation_last_success_timestamp_seconds", action=action) == (
        world.clock.time()
    )
    assert value(app, "cfha_remediation_alerts_total", decision="accepted") == 2


def test_healthz(app: Flask) -> None:
    # Without the token: what a health check needs, nothing about the node or its safety state.
    anonymous = app.test_client().get("/healthz")
    assert anonymous.status_code == 200 and body(anonymous) == {"status": "ok"}
    response = app.test_client().get("/healthz", headers=auth())
    assert response.status_code == 200
    assert body(response) | {"problems": []} == {
        "status": "ok",
        "problems": [],
        "node": "hub2",
        "kill_switch": False,
        "dry_run": False,
        "auth": "bearer",
    }


def test_plan_shows_every_check_and_the_plan_and_changes_nothing(app: Flask, world: World) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    audit_before = core(app).journal.audit_log()
    alerts = payload(
        resync_alert(), ban_alert(), resync_alert(node="hub1"), cleanup_alert(node="x;y")
    )
    response = app.test_client().post("/api/plan", json=alerts, headers=auth())
    assert response.status_code == 200
    resync, ban, other, bad = body(response)["alerts"]
    assert resync["decision"] == "act"
    names = [c["name"] for c in resync["checks"]]
    assert names[:4] == ["kill_switch", "circuit_open", "cooldown", "attempt_budget"]
    assert {"quorate", "single_primary", "target_not_primary", "disk_room", "cluster_lock"} <= set(
        names
    )
    assert all(c["ok"] for c in resync["checks"])
    steps = [s["name"] for s in resync["plan"]["steps"]]
    assert steps[0] == "hold" and steps[-1] == "verify"
    assert resync["plan"]["steps"][0]["destructive"] is True
    assert ban["decision"] == "refuse" and ban["refused_by"] == "nothing_to_do"
    assert other == other | {"decision": "ignore", "reason": "not_my_node"}
    assert bad["decision"] == "refuse" and bad["refused_by"] == "label_invalid"
    # Nothing changed: no job, no audit entry, no command, no lock.
    assert core(app).journal.jobs() == [] and core(app).journal.audit_log() == audit_before
    assert world.calls == [] and not world.lock.held


def test_jobs_api(app: Flask, world: World) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    job_id = send(app, cleanup_alert())["accepted"][0]
    run(app)
    client = app.test_client()
    listed = body(client.get("/api/jobs?limit=5", headers=auth()))["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    detail = body(client.get(f"/api/jobs/{job_id}", headers=auth()))
    assert detail["plan"]["steps"][0]["argv"] == list(cleanup_argv("hub2"))
    assert detail["steps"][0]["exit_code"] == 0 and "duration" in detail["steps"][0]
    assert detail["before"] and detail["after"]
    assert client.get("/api/jobs/nope", headers=auth()).status_code == 404
    assert body(client.get("/api/audit", headers=auth()))["audit"]
