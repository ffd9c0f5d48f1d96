"""What the webhook accepts (issue 17, items 11, 12 and 18): labels that are pacemaker ids in
full, alerts of this cluster only, no 5xx for any date, one bad alert never sinks its group, and a
bounded queue that refuses out loud."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import AppFactory, auth, ban_alert, cleanup_alert, core, payload, resync_alert
from .fakeworld import World
from .test_metrics_and_plan import value
from .test_worker import fail_standby, run


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an exception is the 500 a caller would get
    return app.test_client()


def post(client: FlaskClient, *alerts: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/webhook", json=payload(*alerts), headers=auth())
    data = response.get_json(silent=True)
    return response.status_code, data if isinstance(data, dict) else {"raw": response.data}


# -- item 11: labels -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels",
    [{"node": "hub2\n"}, {"resource": "cfpgsql\n"}, {"constraint": "cli-ban-mscfpgsql-on-hub2\n"}],
    ids=["node", "resource", "constraint"],
)
def test_a_trailing_newline_is_not_a_pacemaker_id(
    client: FlaskClient, app: Flask, labels: dict[str, str]
) -> None:
    status, answer = post(client, cleanup_alert(**labels))
    assert status == 202
    [refused] = answer["refused"]  # was: accepted (`$` matches before a final newline)
    assert refused["refused_by"] == "label_invalid"
    assert core(app).worker.run_pending() == 0


def test_a_fingerprint_with_a_trailing_newline_is_refused(client: FlaskClient, app: Flask) -> None:
    status, answer = post(client, cleanup_alert(fingerprint="00000000000000ab\n"))
    assert status == 400, answer
    assert "fingerprint" in str(answer["details"])
    assert core(app).journal.jobs() == []


@pytest.mark.parametrize("cluster", ["othercluster", "", None], ids=["other", "empty", "missing"])
def test_the_cluster_label_must_name_this_cluster(
    client: FlaskClient, app: Flask, world: World, cluster: str | None
) -> None:
    fail_standby(world)
    alert = cleanup_alert(cluster=cluster or "")
    if cluster is None:
        del alert["labels"]["cluster"]
    status, answer = post(client, alert)
    assert status == 202
    [refused] = answer["refused"]  # was: accepted, and the cleanup ran
    assert refused["refused_by"] == "wrong_cluster"
    assert "cftest" in refused["detail"]
    job = core(app).journal.job(refused["job_id"])
    assert job is not None and job["state"] == "refused"
    assert core(app).worker.run_pending() == 0 and world.calls == []
    assert post(client, alert)[1]["duplicates"] == 1  # its labels never change
    assert value(app, "cfha_remediation_refusals_total", action="resource_cleanup",
                 precondition="wrong_cluster") == 1  # fmt: skip


def test_an_alert_of_this_cluster_is_taken(client: FlaskClient) -> None:
    status, answer = post(client, cleanup_alert(cluster="cftest"))
    assert status == 202 and len(answer["accepted"]) == 1


# -- item 12: no input gives a 5xx ---------------------------------------------------------------
EXTREMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:59:59.999999+23:59",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:30:00-00:31",
]


@pytest.mark.parametrize("starts_at", EXTREMES)
def test_extreme_start_times_are_400_for_that_alert(
    client: FlaskClient, app: Flask, starts_at: str
) -> None:
    status, answer = post(client, cleanup_alert(starts_at=starts_at))
    assert status == 400, answer  # was: 500 (OverflowError converting to UTC)
    assert "startsAt" in str(answer["details"])
    status, answer = post(client, {**cleanup_alert(), "endsAt": starts_at, "status": "resolved"})
    assert status == 400, answer
    assert core(app).journal.jobs() == []


@pytest.mark.parametrize("where", ["alertname", "label-key", "annotation"])
def test_strings_that_are_not_unicode_are_400(client: FlaskClient, app: Flask, where: str) -> None:
    """JSON may escape a lone surrogate (\\ud800); no UTF-8 text holds one, SQLite included."""
    alert = cleanup_alert()
    if where == "alertname":
        alert["labels"]["alertname"] = "\ud800"
    elif where == "label-key":
        alert["labels"]["\udfff"] = "x"
    else:
        alert["annotations"] = {"summary": "a\ud83dz"}
    status, answer = post(client, alert, cleanup_alert())
    assert status == 400, answer  # was: 500 (UnicodeEncodeError writing the audit record)
    assert "surrogate" in answer["error"]
    assert core(app).journal.jobs() == []


def test_the_edges_of_time_that_fit_are_taken(client: FlaskClient) -> None:
    for starts_at in ("0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00", "9999-12-31T23:59:59Z"):
        status, answer = post(client, cleanup_alert(starts_at=starts_at))
        assert status == 202 and len(answer["accepted"]) == 1, answer


def test_one_bad_alert_never_rolls_back_the_rest(client: FlaskClient, app: Flask) -> None:
    good = cleanup_alert(fingerprint="000000000000000a")
    bad = cleanup_alert(fingerprint="000000000000000b", starts_at=EXTREMES[0])
    worse = {**resync_alert(), "status": "pending", "fingerprint": "not a fingerprint"}
    status, answer = post(client, good, bad, resync_alert(), worse)
    assert status == 202, answer  # was: 500, and the whole group rolled back
    assert len(answer["accepted"]) == 2
    invalid = {i["index"]: i for i in answer["invalid"]}
    assert sorted(invalid) == [1, 3]
    assert invalid[1]["fingerprint"] == "000000000000000b"
    assert any("startsAt" in e for e in invalid[1]["errors"])
    assert invalid[3]["fingerprint"] is None
    assert {e.split(":")[0] for e in invalid[3]["errors"]} == {
        "alerts.3.status",
        "alerts.3.fingerprint",
    }
    events = [a["event"] for a in reversed(core(app).journal.audit_log())]
    assert events == ["accepted", "invalid", "accepted", "invalid"]
    assert value(app, "cfha_remediation_alerts_total", decision="invalid") == 2


def test_a_group_of_only_bad_alerts_is_400(client: FlaskClient, app: Flask) -> None:
    bad = cleanup_alert(starts_at=EXTREMES[2])
    status, answer = post(client, bad, {**bad, "fingerprint": "x y"})
    assert status == 400
    assert len(answer["details"]) >= 2
    assert core(app).journal.jobs() == [] and core(app).journal.audit_log() == []


# -- item 18: the queue has a bound --------------------------------------------------------------
def test_past_the_bound_new_jobs_are_refused_out_loud(make_app: AppFactory, world: World) -> None:
    app = make_app("hub2", max_queued_jobs=2, redecide_after_seconds=60)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    alerts = [ban_alert(constraint=f"cli-ban-r{i}-on-hub2") for i in range(4)]
    status, answer = post(client, *alerts[:3])
    assert status == 202
    assert len(answer["accepted"]) == 2  # was: 3 (no bound)
    [refused] = answer["refused"]
    assert refused["refused_by"] == "queue_full" and "2 jobs" in refused["detail"]
    status, answer = post(client, alerts[3])
    assert [r["refused_by"] for r in answer["refused"]] == ["queue_full"]
    labels = {"action": "clear_cli_constraints", "precondition": "queue_full"}
    assert value(app, "cfha_remediation_refusals_total", **labels) == 2
    assert value(app, "cfha_remediation_queue_depth") == 2
    run(app)  # the queue drains
    world.clock.advance(60)
    status, answer = post(client, alerts[2])  # Alertmanager's repeat is decided again
    assert len(answer["accepted"]) == 1, answer
