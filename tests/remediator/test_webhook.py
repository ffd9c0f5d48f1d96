"""POST /webhook through the Flask test client: auth, bad input, intake decisions, dedupe."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from remediator.app import create_app
from remediator.config import ConfigError

from .conftest import (
    TOKEN,
    AppFactory,
    alert,
    auth,
    ban_alert,
    body,
    cleanup_alert,
    make_config,
    payload,
    resync_alert,
)
from .fakeworld import World


def post(client: FlaskClient, body: object, headers: dict[str, str] | None = None) -> object:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/webhook",
        data=data,
        headers=headers if headers is not None else auth(),
        content_type="application/json",
    )


# -- authentication ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "basic-scheme", "longer", "empty"],
)
def test_bad_or_missing_token_is_401_and_nothing_is_queued(
    client: FlaskClient, app: Flask, headers: dict[str, str]
) -> None:
    response = client.post("/webhook", json=payload(cleanup_alert()), headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "missing or invalid bearer token"}
    assert app.extensions["cfha_remediator"].journal.jobs() == []


def test_token_is_compared_in_constant_time(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.post("/webhook", json=payload(), headers=auth()).status_code == 202
    assert client.post("/webhook", json=payload(), headers={}).status_code == 401
    assert seen == [(TOKEN.encode(), TOKEN.encode()), (b"", TOKEN.encode())]


def test_api_needs_the_token_too(client: FlaskClient) -> None:
    for method, path in [
        ("get", "/api/jobs"),
        ("post", "/api/plan"),
        ("post", "/api/killswitch"),
        ("delete", "/api/killswitch"),
        ("get", "/api/audit"),
    ]:
        assert getattr(client, method)(path).status_code == 401, path


def test_refuses_to_start_without_a_token(tmp_path: Path, world: World) -> None:
    base = tmp_path
    short = base / "short"
    short.write_text("tooshort")
    for token_file in (base / "missing", short):
        config = make_config(base, "hub2", token_file)
        with pytest.raises(ConfigError):
            create_app(config, world.services("hub2"), start_worker=False)
    config = make_config(base, "hub2", base / "missing", web={"token_file": None})
    with pytest.raises(ConfigError, match="insecure-no-auth"):
        create_app(config, world.services("hub2"), start_worker=False)


def test_insecure_no_auth_says_so_on_every_answer(make_app: AppFactory) -> None:
    client = make_app("hub2", insecure_no_auth=True).test_client()
    response = client.post("/webhook", json=payload(), headers={})
    assert response.status_code == 202
    assert response.headers["X-Cfha-Warning"] == "authentication disabled"
    assert body(client.get("/healthz"))["auth"] == "disabled"


# -- bad input: 400 with the reason, 413 when too large, never 5xx -------------------------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"[]", "(top level): expected a JSON object"),
        (b'"text"', "(top level): expected a JSON object"),
        (json.dumps({**payload(), "version": "3"}).encode(), "version"),
        (json.dumps({"version": "4", "status": "firing"}).encode(), "alerts: Field required"),
        (json.dumps(payload({**cleanup_alert(), "status": "pending"})).encode(), "alerts.0.status"),
        (json.dumps(payload({**cleanup_alert(), "fingerprint": "a b"})).encode(), "fingerprint"),
        (json.dumps(payload({**cleanup_alert(), "startsAt": "yesterday"})).encode(), "startsAt"),
        (
            json.dumps(payload({**cleanup_alert(), "startsAt": "2027-01-15T08:00:00"})).encode(),
            "time zone",
        ),
        (json.dumps(payload({**cleanup_alert(), "labels": {"node": 5}})).encode(), "labels.node"),
    ],
    ids=[
        "syntax",
        "not-utf8",
        "deep-nesting",
        "array",
        "string",
        "version",
        "no-alerts",
        "alert-status",
        "fingerprint",
        "starts-at",
        "naive-time",
        "label-type",
    ],
)
def test_malformed_payload_is_400_with_the_reason(
    client: FlaskClient, app: Flask, body: bytes, reason: str
) -> None:
    response = post(client, body)
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = json.dumps(response.json)  # type: ignore[attr-defined]
    assert reason in text
    assert app.extensions["cfha_remediator"].journal.jobs() == []


def test_too_large_is_413(make_app: AppFactory) -> None:
    client = make_app("hub2", web={"max_body_bytes": 2048}).test_client()
    big = payload(cleanup_alert(**{"x": "y" * 4000}))
    response = client.post("/webhook", json=big, headers=auth())
    assert response.status_code == 413
    assert "error" in body(response)


def test_unknown_fields_are_ignored(client: FlaskClient) -> None:
    body = payload({**cleanup_alert(), "newAlertField": {"a": 1}}, notificationReason="x")
    assert post(client, body).status_code == 202  # type: ignore[attr-defined]


def test_counts_answers_by_code(client: FlaskClient) -> None:
    post(client, payload())
    post(client, b"nope")
    post(client, payload(), headers={})
    text = client.get("/metrics").get_data(as_text=True)
    for code, count in (("202", 1), ("400", 1), ("401", 1)):
        line = (
            f'cfha_remediation_webhook_requests_total{{cluster="cftest",code="{code}"}} {count}.0'
        )
        assert line in text


# -- intake decisions ----------------------------------------------------------------------------
def test_each_alert_of_a_mixed_group_is_read_on_its_own(client: FlaskClient, app: Flask) -> None:
    queued = cleanup_alert(fingerprint="0000000000000aaa")
    response = post(client, payload(queued))
    job_id = response.json["accepted"][0]  # type: ignore[attr-defined]
    mixed = payload(
        {**queued, "status": "resolved", "endsAt": "2027-01-15T09:00:00Z"},
        resync_alert(),
        alert("SomethingElse", None),
        alert("CfHaPgStandbyNotStreaming", "resync_standby", node="hub1"),
    )
    result = post(client, mixed).json  # type: ignore[attr-defined]
    assert result["cancelled"] == [job_id]
    assert len(result["accepted"]) == 1
    assert sorted(i["reason"] for i in result["ignored"]) == ["no_rule", "not_my_node"]
    journal = app.extensions["cfha_remediator"].journal
    assert journal.job(job_id)["state"] == "cancelled"
    events = [a["event"] for a in reversed(journal.audit_log())]
    assert events == ["accepted", "resolved", "cancelled", "accepted", "ignored", "ignored"]


def test_duplicates_are_dropped_and_survive_a_restart(make_app: AppFactory) -> None:
    body = payload(ban_alert(fingerprint="00000000000000bb"))
    first = make_app("hub2").test_client()
    assert len(post(first, body).json["accepted"]) == 1  # type: ignore[attr-defined]
    assert post(first, body).json["duplicates"] == 1  # type: ignore[attr-defined]
    # A new app on the same journal: a restart.
    second = make_app("hub2")
    result = post(second.test_client(), body).json  # type: ignore[attr-defined]
    assert result["duplicates"] == 1 and result["accepted"] == []
    assert len(second.extensions["cfha_remediator"].journal.jobs()) == 1
    # A new firing episode of the same alert (new startsAt) is a new job.
    again = payload(ban_alert(fingerprint="00000000000000bb", starts_at="2027-01-16T08:00:00Z"))
    assert len(post(second.test_client(), again).json["accepted"]) == 1  # type: ignore[attr-defined]


def test_labels_that_are_not_pacemaker_ids_are_refused(client: FlaskClient, app: Flask) -> None:
    body = payload(cleanup_alert(node="hub2; rm -rf /"))
    result = post(client, body).json  # type: ignore[attr-defined]
    [refused] = result["refused"]
    assert refused["refused_by"] == "label_invalid" and "node" in refused["detail"]
    job = app.extensions["cfha_remediator"].journal.job(refused["job_id"])
    assert job["state"] == "refused" and job["refused_by"] == "label_invalid"
    assert app.extensions["cfha_remediator"].worker.run_pending() == 0
