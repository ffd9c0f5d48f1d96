"""Property-based fuzzing of /webhook: no 5xx, no command for invalid input, and label text
(shell metacharacters included) never reaches an argv, let alone a shell."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediator.app import close_app, create_app
from tests.remediator.snapshots import cleanup_argv

from .conftest import TOKEN, auth, core, make_config
from .fakeworld import SHELLS, World
from .snapshots import standby_failed

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METACHARACTERS = ";|&$`\\\"'<>(){}[]*?!~#\n\t =/"


@pytest.fixture(autouse=True)
def no_process_outside_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command must go through the (fake) CommandRunner; anything else fails the test."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started outside the runner: {args!r}")

    for name in ("Popen", "run", "call", "check_call", "check_output", "getoutput"):
        monkeypatch.setattr(subprocess, name, forbidden)
    for name in ("system", "popen", "execv", "execve", "execvp", "spawnv", "posix_spawn"):
        monkeypatch.setattr(os, name, forbidden)


@contextmanager
def remediator(node: str = "hub2", **overrides: Any) -> Iterator[tuple[Flask, World]]:
    world = World()
    world.set(standby_failed(world.snapshot(node), "hub2"))
    world.diverge("hub2")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        token_file = base / "token"
        token_file.write_text(TOKEN)
        token_file.chmod(0o600)  # the service refuses a token others may read
        config = make_config(base, node, token_file, web={"max_body_bytes": 65536}, **overrides)
        app = create_app(config, world.services(node), start_worker=False)
        try:
            yield app, world
        finally:
            close_app(app)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(body=st.binary(max_size=4096))
def test_random_bytes(body: bytes) -> None:
    with remediator() as (app, world):
        response = app.test_client().post("/webhook", data=body, headers=auth())
        assert response.status_code == 400
        assert core(app).journal.jobs() == [] and world.calls == []


@FUZZ
@given(data=json_values)
def test_random_json_documents(data: Any) -> None:
    with remediator() as (app, world):
        response = app.test_client().post("/webhook", json=data, headers=auth())
        assert response.status_code == 400
        core(app).worker.run_pending()
        assert world.calls == []


# Hostile values carry a marker that no legitimate argument contains, so "did label text reach
# an argv" is an exact question.
MARKER = "\u00a7"
hostile = st.one_of(
    st.text(alphabet=st.sampled_from(METACHARACTERS + "abhub12"), max_size=30),
    st.text(max_size=30),
).map(lambda text: MARKER + text)
label_values = st.one_of(
    st.sampled_from(["hub1", "hub2", "cfpgsql", "cfvirtip", "cli-ban-mscfpgsql-on-hub2"]), hostile
)
alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.fixed_dictionaries(
            {
                "alertname": st.sampled_from(
                    [
                        "CfHaFailCountAtThreshold",
                        "CfHaLeftoverCliConstraint",
                        "CfHaPgStandbyNotStreaming",
                        "CfHaPgsqlLockStale",
                    ]
                ),
                "remediation": st.sampled_from(
                    ["resource_cleanup", "clear_cli_constraints", "resync_standby", "rm -rf /"]
                ),
                "cfha_route": st.sampled_from(["remediator", "", "rm -rf /"]),
            },
            optional={
                "node": label_values,
                "resource": label_values,
                "constraint": label_values,
                "pgdata": label_values,
                "tmpdir": label_values,
            },
        ),
        "startsAt": st.sampled_from(["2027-01-15T08:00:00Z", "2027-01-15T09:00:00.123+02:00"]),
        "fingerprint": st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    },
    optional={
        "annotations": st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
        "endsAt": st.just("0001-01-01T00:00:00Z"),
        "extra": json_values,
    },
)


@FUZZ
@given(group=st.lists(alerts, min_size=1, max_size=5), mutate=st.booleans())
def test_labels_never_reach_a_command(group: list[dict[str, Any]], mutate: bool) -> None:
    body: dict[str, Any] = {"version": "4", "status": "firing", "alerts": group}
    if mutate:
        body["alerts"] = [{**a, "fingerprint": a["fingerprint"] + " ;"} for a in group]
    with remediator(guard={"failover_freeze_seconds": 0}) as (app, world):
        response = app.test_client().post("/webhook", json=body, headers=auth())
        assert response.status_code == (400 if mutate else 202), response.get_json()
        core(app).worker.run_pending()
        if mutate:
            assert core(app).journal.jobs() == [] and world.calls == []
        for call in world.calls:
            assert os.path.basename(call.argv[0]) not in SHELLS
            assert "-c" not in call.argv[:2]
            assert not any(MARKER in arg for arg in call.argv), call.argv
        for job in core(app).journal.jobs():
            if job["state"] == "refused" and job["refused_by"] == "label_invalid":
                assert not core(app).journal.steps(job["id"])


def test_a_valid_payload_from_the_strategy_can_act() -> None:
    """The property above is not vacuous: well-formed labels do lead to commands."""
    with remediator(guard={"failover_freeze_seconds": 0}) as (app, world):
        alert = {
            "status": "firing",
            "labels": {
                "alertname": "CfHaFailCountAtThreshold",
                "remediation": "resource_cleanup",
                "cfha_route": "remediator",
                "node": "hub2",
                "resource": "cfpgsql",
            },
            "startsAt": "2027-01-15T08:00:00Z",
            "fingerprint": "00000000000000ff",
        }
        body = json.dumps({"version": "4", "status": "firing", "alerts": [alert]})
        response = app.test_client().post(
            "/webhook", data=body, headers=auth(), content_type="application/json"
        )
        assert response.status_code == 202
        core(app).worker.run_pending()
        assert world.commands() == [cleanup_argv("hub2")]
