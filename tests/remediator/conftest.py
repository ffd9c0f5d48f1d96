"""Fixtures for the remediator tests: a fake two-hub world, configs, apps, payloads."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from remediator.app import close_app, create_app
from remediator.config import RemediatorConfig, config_from_mapping
from remediator.service import Remediator

from .fakeworld import World

TOKEN = "s3cret-token-for-tests-0123456789"
_fingerprints = itertools.count(1)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def make_config(tmp_path: Path, node: str, token_file: Path, **overrides: Any) -> RemediatorConfig:
    data: dict[str, Any] = {
        "cluster": "cftest",
        "node": node,
        "journal": str(tmp_path / node / "journal.db"),
        "kill_switch_file": str(tmp_path / node / "paused"),
        "web": {"token_file": str(token_file)},
        "guard": {"lock_wait_seconds": 10, "poll_interval_seconds": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return config_from_mapping(data)


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path, world: World, token_file: Path) -> Iterator[AppFactory]:
    apps: list[Flask] = []

    def factory(node: str = "hub2", **overrides: Any) -> Flask:
        kwargs = {k: overrides.pop(k) for k in ("policy", "insecure_no_auth") if k in overrides}
        config = make_config(tmp_path, node, token_file, **overrides)
        app = create_app(config, world.services(node), start_worker=False, **kwargs)
        app.testing = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app("hub2")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def alert(
    alertname: str,
    remediation: str | None,
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: str = "2027-01-15T08:00:00.000Z",
    **labels: str,
) -> dict[str, Any]:
    """An alert as Alertmanager delivers it. With `remediation`: the request copy of a remediable
    alert (cfha_route="remediator", alerts/README.md), unless `labels` says otherwise."""
    all_labels = {"alertname": alertname, "cluster": "cftest"}
    if remediation:
        all_labels |= {"remediation": remediation, "cfha_route": "remediator"}
    all_labels |= labels
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "test"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": fingerprint or f"{next(_fingerprints):016x}",
    }


def payload(*alerts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="x"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": r"cfha\-remediator",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": list(alerts),
    }
    body.update(extra)
    return body


def cleanup_alert(node: str = "hub2", resource: str = "cfpgsql", **kw: Any) -> dict[str, Any]:
    return alert("CfHaFailCountAtThreshold", "resource_cleanup", node=node, resource=resource, **kw)


def resync_alert(node: str = "hub2", **kw: Any) -> dict[str, Any]:
    return alert("CfHaPgStandbyNotStreaming", "resync_standby", node=node, **kw)


def ban_alert(constraint: str = "cli-ban-mscfpgsql-on-hub2", **kw: Any) -> dict[str, Any]:
    return alert("CfHaLeftoverCliConstraint", "clear_cli_constraints", constraint=constraint, **kw)


def body(response: Any) -> dict[str, Any]:
    """A test-client response's JSON object."""
    data = response.get_json()
    assert isinstance(data, dict), data
    return data


def core(app: Flask) -> Remediator:
    found = app.extensions["cfha_remediator"]
    assert isinstance(found, Remediator)
    return found


def job_of(app: Flask, job_id: str) -> dict[str, Any]:
    job = core(app).journal.job(job_id)
    assert job is not None, job_id
    return job


def circuit_of(app: Flask, action: str, target: str) -> dict[str, Any]:
    circuit = core(app).journal.circuit(action, target)
    assert circuit is not None
    return circuit
