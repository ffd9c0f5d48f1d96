"""alerts/alertmanager.example.yml: amtool's checks, the route of every alert, and inhibition
tested by a real Alertmanager (alerts posted to its API, deliveries recorded by a sink)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.test_rules import ALERT_RULES
from tests.support import amconfig
from tests.support.promstack import (
    Alertmanager,
    Notification,
    PromStack,
    missing_binaries,
    wait_until,
)

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}
EXAMPLE = amconfig.EXAMPLE
CONFIG = amconfig.load_example()
LABELS = {r.name: r.labels for r in ALERT_RULES}
TOKEN = "test-token-0123456789abcdef"


def amtool() -> str:
    path = shutil.which("amtool", path=ENV["PATH"])
    if path is None:
        pytest.skip("amtool is not installed (Debian package prometheus-alertmanager)")
    return path


def run_amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool(), *args], capture_output=True, text=True, timeout=30, env=ENV, check=False
    )


def test_amtool_check_config() -> None:
    result = run_amtool("check-config", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_loopback_rendering_is_a_valid_config_too(tmp_path: Path) -> None:
    rendered = amconfig.for_loopback(CONFIG, "http://127.0.0.1:1/", tmp_path / "token")
    path = amconfig.dump(rendered, tmp_path / "am.yml")
    result = run_amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert rendered["inhibit_rules"] == CONFIG["inhibit_rules"]


def expected_receivers(labels: dict[str, str]) -> str:
    if labels.get("alertname") == "CfHaWatchdog":
        return "cfha-heartbeat"
    human = {"critical": "cfha-pager", "warning": "cfha-ticket", "info": "null"}.get(
        labels.get("severity", ""), "cfha-ticket"
    )
    return f"cfha-remediator,{human}" if labels.get("remediation") else human


ROUTE_CASES = [
    {"alertname": rule.name, "cluster": "cfcluster", "node": "hub2", **rule.labels}
    for rule in ALERT_RULES
] + [{"alertname": "SomethingElse", "cluster": "cfcluster"}]


@pytest.mark.parametrize("labels", ROUTE_CASES, ids=lambda labels: labels["alertname"])
def test_every_alert_routes_by_severity_and_remediation(labels: dict[str, str]) -> None:
    result = run_amtool(
        "config",
        "routes",
        "test",
        f"--config.file={EXAMPLE}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected_receivers(labels)


def test_representative_routes_by_name() -> None:
    """The rule above derives its expectation; here the four cases are spelled out."""
    cases = {
        ("severity=critical",): "cfha-pager",
        ("severity=warning",): "cfha-ticket",
        ("severity=warning", "remediation=resync_standby"): "cfha-remediator,cfha-ticket",
        ("severity=info",): "null",
    }
    for labels, receivers in cases.items():
        result = run_amtool(
            "config",
            "routes",
            "test",
            f"--config.file={EXAMPLE}",
            f"--verify.receivers={receivers}",
            *labels,
        )
        assert result.returncode == 0, (labels, result.stdout, result.stderr)


def test_remediator_receiver_is_authenticated_and_sends_resolved() -> None:
    (receiver,) = [r for r in CONFIG["receivers"] if r["name"] == "cfha-remediator"]
    assert len(receiver["webhook_configs"]) == 2, "both hubs' remediators"
    for hook in receiver["webhook_configs"]:
        assert hook["send_resolved"] is True
        assert 0 < hook["max_alerts"] <= 50
        assert "timeout" not in hook, "Alertmanager 0.25 rejects webhook timeout"
        authorization = hook["http_config"]["authorization"]
        assert authorization["type"] == "Bearer" and authorization["credentials_file"]
    (route,) = [r for r in CONFIG["route"]["routes"] if r["receiver"] == "cfha-remediator"]
    assert route["continue"] is True and route["group_by"] == ["..."]


def test_inhibit_rules_name_existing_alerts() -> None:
    names = {r.name for r in ALERT_RULES}
    for rule in CONFIG["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            parsed = re.fullmatch(r'alertname(=~|!~|!=|=)"([A-Za-z|]+)"', matcher)
            if matcher.startswith("alertname"):
                assert parsed is not None, matcher
                for name in parsed.group(2).split("|"):
                    assert name in names, name


# -- inhibition, by a real Alertmanager ------------------------------------------------------


def alert(name: str, cluster: str, **labels: str) -> dict[str, Any]:
    now = time.time()
    return {
        "labels": {"alertname": name, "cluster": cluster, **LABELS[name], **labels},
        "annotations": {"summary": name},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
    }


SCENARIOS: list[dict[str, Any]] = [
    # cluster, alerts (name, extra labels), the muted ones
    {
        "cluster": "maint",
        "alerts": [
            ("CfHaMaintenanceMode", {}),
            ("CfHaFailCountAtThreshold", {"node": "hub2", "resource": "cfpgsql"}),
        ],
        "muted": {"CfHaFailCountAtThreshold"},
    },
    {
        "cluster": "open",
        "alerts": [("CfHaFailCountAtThreshold", {"node": "hub2", "resource": "cfpgsql"})],
        "muted": set(),
    },
    {
        "cluster": "quorum",
        "alerts": [("CfHaQuorumLost", {}), ("CfHaPgDown", {"node": "hub1"}), ("CfHaWatchdog", {})],
        "muted": {"CfHaPgDown"},
    },
    {
        "cluster": "offline",
        "alerts": [
            ("CfHaNodeOffline", {"node": "hub2"}),
            ("CfHaPgDown", {"node": "hub2"}),
            ("CfHaExporterDown", {"node": "hub2", "instance": "hub2:9732"}),
            ("CfHaCorosyncLinkFaulty", {"link": "0"}),
            ("CfHaNodeStandby", {"node": "hub1"}),
        ],
        "muted": {"CfHaPgDown", "CfHaExporterDown", "CfHaCorosyncLinkFaulty"},
    },
    {
        "cluster": "split",
        "alerts": [
            ("CfHaTwoWritableDatabases", {}),
            ("CfHaPrimaryMismatch", {"source": "postgres"}),
            ("CfHaPgsqlLockStale", {"node": "hub2"}),
        ],
        "muted": {"CfHaPrimaryMismatch", "CfHaPgsqlLockStale"},
    },
    {
        "cluster": "fencing",
        "alerts": [("CfHaFencingDisabled", {}), ("CfHaPgsqlLockStale", {"node": "hub1"})],
        "muted": {"CfHaPgsqlLockStale"},
    },
]


# Gates reach Alertmanager before the alerts they mute, as the rules' `for` durations make them
# do in production (alerts/README.md): Alertmanager flushes a new group at once when its alert
# started more than group_wait ago (Prometheus' startsAt is when the rule became pending), so a
# gate and its target arriving in the same instant would race.
PHASE = {
    "CfHaQuorumLost": 0,
    "CfHaNodeOffline": 0,
    "CfHaNodeUnclean": 0,
    "CfHaMaintenanceMode": 0,
    "CfHaTwoWritableDatabases": 0,
    "CfHaNodeMaintenance": 0,
    "CfHaFencingDisabled": 0,
}
LAST_PHASE = 1


def post_and_wait(am: Alertmanager, alerts: list[dict[str, Any]]) -> None:
    am.post_alerts(alerts)
    keys = {(a["labels"]["cluster"], a["labels"]["alertname"]) for a in alerts}
    wait_until(lambda: keys <= set(statuses(am)), 10, "the alerts in Alertmanager")


def statuses(am: Alertmanager) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["labels"]["cluster"], a["labels"]["alertname"]): a["status"] for a in am.alerts()}


def delivered(notifications: list[Notification]) -> set[tuple[str, str, str]]:
    """(receiver path, cluster, alertname) of every firing alert delivered."""
    return {
        (n.path.strip("/"), a["labels"]["cluster"], a["labels"]["alertname"])
        for n in notifications
        for a in n.alerts
        if a["status"] == "firing"
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    workdir = tmp_path_factory.mktemp("amstack")
    token = workdir / "token"
    token.write_text(TOKEN)
    with PromStack(workdir) as stack:
        shipped = amconfig.for_loopback(CONFIG, stack.sink.url("shipped"), token)
        without_fencing = amconfig.for_loopback(
            amconfig.without_inhibit_source(CONFIG, "CfHaFencingDisabled"),
            stack.sink.url("nofencing"),
            token,
        )
        ams = {
            "shipped": stack.alertmanager(shipped, name="am-shipped"),
            "nofencing": stack.alertmanager(without_fencing, name="am-nofencing"),
        }
        for phase in sorted(set(PHASE.values()) | {LAST_PHASE}):
            batch = [
                alert(n, s["cluster"], **extra)
                for s in SCENARIOS
                for n, extra in s["alerts"]
                if PHASE.get(n, LAST_PHASE) == phase
            ]
            for am in ams.values():
                post_and_wait(am, batch)
        yield stack, ams


def test_a_real_alertmanager_mutes_what_the_inhibit_rules_say(stack: Any) -> None:
    _stack, ams = stack
    am = ams["shipped"]
    want = {(s["cluster"], name) for s in SCENARIOS for name in s["muted"]}
    every = {(s["cluster"], name) for s in SCENARIOS for name, _ in s["alerts"]}

    def settled() -> dict[tuple[str, str], dict[str, Any]] | None:
        now = statuses(am)
        muted = {key for key, st in now.items() if st["inhibitedBy"]}
        return now if set(now) == every and muted == want else None

    final = wait_until(settled, 30, "the inhibitions to settle")
    for key in every - want:
        assert final[key]["state"] == "active", key


def test_muted_alerts_reach_no_receiver_and_the_rest_reach_theirs(stack: Any) -> None:
    sink_stack, _ams = stack
    sink = sink_stack.sink
    expected = set()
    for scenario in SCENARIOS:
        for name, _ in scenario["alerts"]:
            if name in scenario["muted"]:
                continue
            for receiver in expected_receivers(LABELS[name] | {"alertname": name}).split(","):
                if receiver != "null":
                    expected.add((f"shipped/{receiver}", scenario["cluster"], name))
    sink.wait_for(
        lambda got: expected <= delivered(got), 30, "every unmuted alert at its receivers"
    )
    time.sleep(3)  # three more group intervals: nothing muted may arrive late
    shipped = {d for d in delivered(sink.received()) if d[0].startswith("shipped/")}
    assert shipped == expected


def test_the_remediator_gets_the_bearer_token(stack: Any) -> None:
    sink = stack[0].sink
    hooks = sink.wait_for(
        lambda got: any(n.path == "/shipped/cfha-remediator" for n in got), 30, "a remediator POST"
    )
    for n in hooks:
        if n.path.endswith("/cfha-remediator"):
            assert n.authorization == f"Bearer {TOKEN}"
            assert n.body["version"] == "4"
            assert len(n.alerts) == 1, "group_by '...': one alert per notification"


def test_a_silenced_gate_still_closes_the_remediation_route(stack: Any) -> None:
    sink_stack, ams = stack
    am = ams["shipped"]
    am.add_silence({"alertname": "CfHaMaintenanceMode", "cluster": "silenced"})
    post_and_wait(am, [alert("CfHaMaintenanceMode", "silenced")])
    post_and_wait(
        am, [alert("CfHaFailCountAtThreshold", "silenced", node="hub2", resource="cfpgsql")]
    )

    def settled() -> dict[tuple[str, str], dict[str, Any]] | None:
        now = statuses(am)
        gate = now.get(("silenced", "CfHaMaintenanceMode"))
        target = now.get(("silenced", "CfHaFailCountAtThreshold"))
        if gate and target and gate["silencedBy"] and target["inhibitedBy"]:
            return now
        return None

    wait_until(settled, 30, "the silenced gate to inhibit")
    time.sleep(3)
    assert not {d for d in delivered(sink_stack.sink.received()) if d[1] == "silenced"}


def test_without_the_fencing_gate_the_remediator_gets_the_request(stack: Any) -> None:
    """The variant for clusters that run without fencing on purpose (alerts/README.md)."""
    sink = stack[0].sink
    wanted = {
        ("nofencing/cfha-remediator", "fencing", "CfHaPgsqlLockStale"),
        ("nofencing/cfha-ticket", "fencing", "CfHaPgsqlLockStale"),
        ("nofencing/cfha-ticket", "fencing", "CfHaFencingDisabled"),
    }
    sink.wait_for(lambda got: wanted <= delivered(got), 30, "the unmuted lock alert")
    # every other gate still holds in the variant
    assert ("nofencing/cfha-remediator", "maint", "CfHaFailCountAtThreshold") not in delivered(
        sink.received()
    )
