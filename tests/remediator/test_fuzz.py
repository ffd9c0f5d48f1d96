"""Property-based fuzzing of /webhook: no 5xx, no command for invalid input, and label text
(shell metacharacters included) never reaches an argv, let alone a shell.

`test_ten_thousand_payloads` is the audit's fuzz (issue 17): 10,000 generated payloads, from
random bytes to near-valid groups with one field wrong (dates at the edges of time, fingerprints
with a trailing newline, hostile labels, other clusters), against one remediator whose worker
runs after each request. Derandomized, so every run sends the same payloads.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediator.app import close_app, create_app
from remediator.policy import Policy, load_policy, policy_from_mapping
from tests.remediator.snapshots import cleanup_argv

from .conftest import TOKEN, auth, core, make_config
from .fakeworld import SHELLS, World
from .snapshots import standby_failed

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METACHARACTERS = ";|&$`\\\"'<>(){}[]*?!~#\n\t =/"
AUDIT_EXAMPLES = 10_000


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
def remediator(
    node: str = "hub2", *, memory: bool = False, policy: Policy | None = None, **overrides: Any
) -> Iterator[tuple[Flask, World]]:
    """`memory`: the journal on a memory file system where there is one (the fuzz exercises the
    web layer and the intake; fsync to a disk would only make it slow)."""
    world = World()
    world.set(standby_failed(world.snapshot(node), "hub2"))
    world.diverge("hub2")
    where = "/dev/shm" if memory and os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        base = Path(tmp)
        token_file = base / "token"
        token_file.write_text(TOKEN)
        token_file.chmod(0o600)  # the service refuses a token others may read
        config = make_config(base, node, token_file, web={"max_body_bytes": 65536}, **overrides)
        app = create_app(config, world.services(node), start_worker=False, policy=policy)
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
    st.sampled_from(["hub1", "hub2", "cfpgsql", "cfvirtip", "cli-ban-mscfpgsql-on-hub2"]),
    st.sampled_from(["hub2\n", "cfpgsql\n"]),
    hostile,
)
ALERTNAMES = [
    "CfHaFailCountAtThreshold",
    "CfHaLeftoverCliConstraint",
    "CfHaPgStandbyNotStreaming",
    "CfHaPgsqlLockStale",
]
alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.fixed_dictionaries(
            {
                "alertname": st.sampled_from(ALERTNAMES),
                "cluster": st.sampled_from(["cftest", "cftest", "other", "cftest\n"]),
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
        assert_commands_are_clean(app, world)


def assert_commands_are_clean(app: Flask, world: World) -> None:
    for call in world.calls:
        assert os.path.basename(call.argv[0]) not in SHELLS
        assert "-c" not in call.argv[:2]
        assert not any(MARKER in arg for arg in call.argv), call.argv
    for job in core(app).journal.jobs(limit=20):
        if job["state"] == "refused" and job["refused_by"] in ("label_invalid", "wrong_cluster"):
            assert not core(app).journal.steps(job["id"])


def test_a_valid_payload_from_the_strategy_can_act() -> None:
    """The property above is not vacuous: well-formed labels do lead to commands."""
    with remediator(guard={"failover_freeze_seconds": 0}) as (app, world):
        alert = {
            "status": "firing",
            "labels": {
                "alertname": "CfHaFailCountAtThreshold",
                "cluster": "cftest",
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


# -- the audit's fuzz: 10,000 payloads -----------------------------------------------------------
# Strategies that cost few draws each: ten thousand examples must stay well under a minute.
def rfc3339(seconds: int, offset_minutes: int) -> str:
    """A time as RFC 3339 text with an offset; a time whose local date leaves years 1-9999
    is written by hand, the way a broken sender would."""
    zone = timezone(timedelta(minutes=offset_minutes))
    try:
        return (EPOCH + timedelta(seconds=seconds)).astimezone(zone).isoformat()
    except OverflowError:
        return "0001-01-01T00:00:00+23:59" if seconds < 0 else "9999-12-31T23:59:59-23:59"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST, LAST = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)
usual_times = st.builds(rfc3339, st.integers(1767225600, 1830297600), offsets)  # 2026-2027
edge_times = st.builds(
    rfc3339,
    st.one_of(
        st.integers(FIRST, FIRST + 2 * 86400),
        st.integers(LAST - 2 * 86400, LAST),
        st.integers(FIRST, LAST),
    ),
    offsets,
)
small_json = st.recursive(  # cheap to draw: the audit's fuzz draws ten thousand times
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=4), children, max_size=2)
    ),
    max_leaves=4,
)
garbage = st.one_of(
    st.sampled_from(
        ["", "yesterday", "2027-01-15T08:00:00", "0001-01-01T00:00:00Z", "\n", "\udfff"]
    ),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    small_json,
)
REMEDIATIONS = {
    "resource_cleanup": ("CfHaFailCountAtThreshold", {"node": "hub2", "resource": "cfpgsql"}),
    "resync_standby": ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
    "clear_cli_constraints": (
        "CfHaLeftoverCliConstraint",
        {"constraint": "cli-ban-mscfpgsql-on-hub2"},
    ),
}


KINDS = [(r, status) for r in sorted(REMEDIATIONS) for status in ("firing", "firing", "resolved")]


@st.composite
def request_alerts(draw: st.DrawFn) -> dict[str, Any]:
    """A remediation request as Alertmanager sends it, for this cluster and its hubs."""
    remediation, status = draw(st.sampled_from(KINDS))
    alertname, hints = REMEDIATIONS[remediation]
    labels = {
        "alertname": alertname,
        "cluster": "cftest",
        "remediation": remediation,
        "cfha_route": "remediator",
        **hints,
    }
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "fuzz"},
        "startsAt": draw(usual_times),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{draw(st.integers(0, 2**64 - 1)):016x}",
    }


MUTATIONS: dict[str, Any] = {
    "startsAt": st.one_of(edge_times, garbage),
    "endsAt": st.one_of(edge_times, garbage),
    "fingerprint": st.one_of(
        st.just("00000000000000ab\n"), st.text(max_size=70), st.just("a" * 65), garbage
    ),
    "status": st.one_of(st.sampled_from(["pending", "FIRING", ""]), garbage),
    "labels": garbage,
    "label": st.tuples(
        st.sampled_from(["node", "resource", "constraint", "cluster", "alertname"]),
        st.one_of(label_values, st.sampled_from(["other", "", "hub2\n", "hub\ud800"]), small_json),
    ),
    "drop": st.sampled_from(["status", "labels", "startsAt", "fingerprint"]),
}


@st.composite
def weighted(draw: st.DrawFn, *choices: tuple[int, Any]) -> Any:
    """From one of the strategies, in proportion to its weight (one_of is uniform)."""
    n = draw(st.integers(min_value=0, max_value=sum(weight for weight, _ in choices) - 1))
    for weight, strategy in choices:
        if n < weight:
            return draw(strategy)
        n -= weight
    raise AssertionError(n)


@st.composite
def fuzzed_alerts(draw: st.DrawFn) -> Any:
    """A valid request, or one with one thing wrong, or anything at all."""
    kind = draw(st.integers(min_value=0, max_value=9))
    if kind == 0:
        return draw(small_json)
    alert = draw(request_alerts())
    if kind >= 5:
        what = draw(st.sampled_from(sorted(MUTATIONS)))
        change = draw(MUTATIONS[what])
        if what == "drop":
            del alert[change]
        elif what == "label":
            alert["labels"] = {**alert["labels"], change[0]: change[1]}
        else:
            alert[what] = change
    return alert


@st.composite
def envelopes(draw: st.DrawFn) -> str:
    """A group of one to three alerts; one in ten has its envelope damaged too."""
    body: dict[str, Any] = {
        "version": "4",
        "status": "firing",
        "alerts": draw(st.lists(fuzzed_alerts(), min_size=1, max_size=3)),
    }
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        field = draw(st.sampled_from(["version", "status", "alerts", "truncatedAlerts"]))
        body[field] = draw(garbage)
    return json.dumps(body)


bodies = weighted((16, envelopes()), (2, small_json.map(json.dumps)), (2, st.binary(max_size=512)))


def unlimited_policy() -> Policy:
    """The default rules without cooldowns, budgets or circuits: every valid alert may act."""
    data = load_policy(None).model_dump(mode="json")
    for rule in data["rules"]:
        rule |= {"cooldown_seconds": 0, "circuit_failures": 10**6}
        rule["attempts"] = {"max_attempts": 10**6, "window_seconds": 1}
    return policy_from_mapping(data, "fuzz")


def test_ten_thousand_payloads() -> None:
    """No 5xx, and no job or command from anything invalid: a 400 changes nothing, an invalid
    alert of a group gets no job, and commands only ever follow accepted jobs."""
    seen: Counter[str] = Counter()
    with remediator(
        memory=True,
        policy=unlimited_policy(),
        guard={"failover_freeze_seconds": 0},
        max_queued_jobs=10,
    ) as (app, world):
        client = app.test_client()
        journal = core(app).journal

        def jobs() -> int:
            return int(journal.execute("SELECT COUNT(*) AS n FROM jobs")[0]["n"])

        @settings(
            max_examples=AUDIT_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(body=bodies)
        def one(body: str | bytes) -> None:
            world.set(standby_failed(world.snapshot("hub2"), "hub2"))  # something to heal
            jobs_before, calls_before = jobs(), len(world.calls)
            response = client.post(
                "/webhook", data=body, headers=auth(), content_type="application/json"
            )
            seen[str(response.status_code)] += 1
            assert response.status_code in (202, 400, 413), response.data[:500]
            answer = response.get_json()
            created = jobs() - jobs_before
            core(app).worker.run_pending()
            if response.status_code != 202:
                assert created == 0 and len(world.calls) == calls_before
                return
            assert created == len(answer["accepted"]) + len(answer["refused"])
            if not answer["accepted"]:
                assert len(world.calls) == calls_before
            seen["accepted"] += len(answer["accepted"])
            seen["invalid alerts"] += len(answer["invalid"])
            seen["refused"] += len(answer["refused"])
            seen["commands"] += len(world.calls) - calls_before

        one()
        assert_commands_are_clean(app, world)
    assert seen["202"] + seen["400"] + seen["413"] == AUDIT_EXAMPLES, seen
    # Not vacuous: the payloads reach every path, acting ones included.
    assert min(seen["202"], seen["400"], seen["invalid alerts"], seen["commands"]) > 100, seen
    print(f"\nfuzz: {AUDIT_EXAMPLES} payloads, {dict(seen)}, 0 x 5xx")
