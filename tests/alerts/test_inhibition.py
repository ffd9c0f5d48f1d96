"""The inhibit rules and routes of alerts/alertmanager.example.yml in a real Alertmanager: alerts
posted to its API the way Prometheus sends them (both copies of a remediable alert), deliveries
recorded by a sink. The example as shipped, and without the fencing gate (the variant for
clusters without fencing by design). The point: a gate mutes the remediation request, never the
humans' copy of the same alert."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lab.product import amconfig
from lab.product.promrules import REQUEST_ROUTE, ROUTE_LABEL
from lab.product.promstack import (
    Alertmanager,
    Notification,
    PromStack,
    missing_binaries,
    wait_until,
)
from tests.alerts.test_alertmanager import (
    CAUSE_GATE,
    CAUSE_PAGES,
    CONFIG,
    GATES,
    HUMANS,
    LABELS,
    ROUTES,
    expected_receivers,
)

# (cluster, alertname, route): one alert in Alertmanager; route "" is the humans' copy
Key = tuple[str, str, str]
REQUEST = REQUEST_ROUTE
TOKEN = "test-token-0123456789abcdef"


def alert(name: str, route: str, cluster: str, **labels: str) -> dict[str, Any]:
    now = time.time()
    return {
        "labels": {"alertname": name, "cluster": cluster, **LABELS[(name, route)], **labels},
        "annotations": {"summary": name},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
    }


def copies(name: str, cluster: str, **labels: str) -> list[dict[str, Any]]:
    """Every alert Prometheus sends for one condition: both copies of a remediable one."""
    return [alert(name, route, cluster, **labels) for route in ROUTES[name]]


SCENARIOS: list[dict[str, Any]] = [
    # cluster, alerts (name, extra labels; all copies are posted), the muted (name, route)
    {
        "cluster": "maint",
        "alerts": [
            ("CfHaMaintenanceMode", {}),
            ("CfHaFailCountAtThreshold", {"node": "hub2", "resource": "cfpgsql"}),
        ],
        "muted": {("CfHaFailCountAtThreshold", REQUEST)},
    },
    {
        "cluster": "open",
        "alerts": [("CfHaFailCountAtThreshold", {"node": "hub2", "resource": "cfpgsql"})],
        "muted": set(),
    },
    {
        "cluster": "quorum",
        "alerts": [
            ("CfHaQuorumLost", {}),
            ("CfHaPgDown", {"node": "hub1"}),
            ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
            ("CfHaWatchdog", {}),
        ],
        "muted": {
            ("CfHaPgDown", HUMANS),
            ("CfHaPgStandbyNotStreaming", HUMANS),
            ("CfHaPgStandbyNotStreaming", REQUEST),
        },
    },
    {
        "cluster": "offline",
        "alerts": [
            ("CfHaNodeOffline", {"node": "hub2"}),
            ("CfHaPgDown", {"node": "hub2"}),
            ("CfHaPgsqlLockStale", {"node": "hub2"}),
            ("CfHaExporterDown", {"node": "hub2", "instance": "hub2:9732"}),
            (
                "CfHaPageFeedLost",
                {"node": "hub2", "instance": "hub2:9732", "service": "cfha-exporter"},
            ),
            ("CfHaCorosyncLinkFaulty", {"link": "0"}),
            ("CfHaNodeStandby", {"node": "hub1"}),
        ],
        "muted": {
            ("CfHaPgDown", HUMANS),
            ("CfHaPgsqlLockStale", HUMANS),
            ("CfHaPgsqlLockStale", REQUEST),
            ("CfHaExporterDown", HUMANS),
            ("CfHaPageFeedLost", HUMANS),
            ("CfHaCorosyncLinkFaulty", HUMANS),
        },
    },
    {
        "cluster": "split",
        "alerts": [
            ("CfHaTwoWritableDatabases", {}),
            ("CfHaPrimaryMismatch", {"source": "postgres"}),
            ("CfHaPgsqlLockStale", {"node": "hub2"}),
            ("CfHaCfHubOnPassive", {"node": "hub2"}),
            ("CfHaMissionPortalDisagrees", {}),
        ],
        "muted": {
            ("CfHaPrimaryMismatch", HUMANS),
            ("CfHaPgsqlLockStale", REQUEST),
            ("CfHaCfHubOnPassive", HUMANS),
            ("CfHaMissionPortalDisagrees", HUMANS),
        },
    },
    {
        "cluster": "fencing",
        "alerts": [("CfHaFencingDisabled", {}), ("CfHaPgsqlLockStale", {"node": "hub1"})],
        "muted": {("CfHaPgsqlLockStale", REQUEST)},
    },
    {
        "cluster": "unclean",
        "alerts": [
            ("CfHaNodeUnclean", {"node": "hub1"}),
            (
                "CfHaLeftoverCliConstraint",
                {
                    "constraint": "cli-ban-mscfpgsql-on-hub2",
                    "resource": "mscfpgsql",
                    "node": "hub2",
                    "kind": "cli-ban",
                },
            ),
        ],
        "muted": {("CfHaLeftoverCliConstraint", REQUEST)},
    },
    # diagnose before cure: no curable cause, no re-sync request; a rejected standby pages as
    # such, not as "not streaming"; a curable cause lets the request through
    {
        "cluster": "uncurable",
        "alerts": [
            (CAUSE_GATE, {"node": "hub2"}),
            ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
        ],
        "muted": {("CfHaPgStandbyNotStreaming", REQUEST)},
    },
    {
        "cluster": "rejected",
        "alerts": [
            (CAUSE_GATE, {"node": "hub2"}),
            ("CfHaPgReplicationAuthRejected", {"node": "hub2"}),
            ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
        ],
        "muted": {("CfHaPgStandbyNotStreaming", HUMANS), ("CfHaPgStandbyNotStreaming", REQUEST)},
    },
    {
        "cluster": "otherstandby",  # the gate of hub1 says nothing about hub2
        "alerts": [
            (CAUSE_GATE, {"node": "hub1"}),
            ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
        ],
        "muted": set(),
    },
    {
        "cluster": "nodemaint",
        "alerts": [
            ("CfHaNodeMaintenance", {"node": "hub1"}),
            ("CfHaPgStandbyNotStreaming", {"node": "hub2"}),
        ],
        "muted": {("CfHaPgStandbyNotStreaming", REQUEST)},
    },
]


def every_alert() -> set[Key]:
    return {
        (s["cluster"], n, route) for s in SCENARIOS for n, _ in s["alerts"] for route in ROUTES[n]
    }


def muted_alerts() -> set[Key]:
    return {(s["cluster"], n, route) for s in SCENARIOS for n, route in s["muted"]}


def test_the_scenarios_cover_every_gate_with_both_copies() -> None:
    """Each gate appears with a remediable alert whose request it mutes and whose humans' copy
    it leaves alone: the point of the two copies."""
    for gate in GATES:
        (scenario,) = [s for s in SCENARIOS if gate in {n for n, _ in s["alerts"]}]
        remediable = [n for n, _ in scenario["alerts"] if REQUEST in ROUTES[n]]
        assert remediable, gate
        for name in remediable:
            assert (name, REQUEST) in scenario["muted"], gate
            assert (name, HUMANS) not in scenario["muted"], gate


# Gates reach Alertmanager before the alerts they mute, as the rules' `for` durations make them
# do in production (alerts/README.md): Alertmanager flushes a new group at once when its alert
# started more than group_wait ago (Prometheus' startsAt is when the rule became pending), so a
# gate and its target arriving in the same instant would race.
FIRST = {"CfHaQuorumLost", "CfHaNodeOffline", *GATES, CAUSE_GATE, *CAUSE_PAGES}


def post_and_wait(am: Alertmanager, alerts: list[dict[str, Any]]) -> None:
    am.post_alerts(alerts)
    keys = {key_of(a["labels"]) for a in alerts}
    wait_until(lambda: keys <= set(statuses(am)), 10, "the alerts in Alertmanager")


def key_of(labels: dict[str, str]) -> Key:
    return (labels["cluster"], labels["alertname"], labels.get(ROUTE_LABEL, HUMANS))


def statuses(am: Alertmanager) -> dict[Key, dict[str, Any]]:
    return {key_of(a["labels"]): a["status"] for a in am.alerts()}


def delivered(notifications: list[Notification]) -> set[tuple[str, str, str, str]]:
    """(receiver path, cluster, alertname, route) of every firing alert delivered."""
    return {
        (n.path.strip("/"), *key_of(a["labels"]))
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
        for first in (True, False):
            batch = [
                a
                for s in SCENARIOS
                for n, extra in s["alerts"]
                if (n in FIRST) == first
                for a in copies(n, s["cluster"], **extra)
            ]
            for am in ams.values():
                post_and_wait(am, batch)
        yield stack, ams


def test_a_real_alertmanager_mutes_what_the_inhibit_rules_say(stack: Any) -> None:
    _stack, ams = stack
    am = ams["shipped"]
    want = muted_alerts()
    every = every_alert()

    def settled() -> dict[Key, dict[str, Any]] | None:
        now = statuses(am)
        muted = {key for key, st in now.items() if st["inhibitedBy"]}
        return now if set(now) == every and muted == want else None

    final = wait_until(settled, 30, "the inhibitions to settle")
    for key in every - want:
        assert final[key]["state"] == "active", key


def test_muted_alerts_reach_no_receiver_and_the_rest_reach_theirs(stack: Any) -> None:
    """In particular: while a gate holds, the humans still get the remediable alert."""
    sink_stack, _ams = stack
    sink = sink_stack.sink
    expected = set()
    for cluster, name, route in every_alert() - muted_alerts():
        for receiver in expected_receivers(LABELS[(name, route)] | {"alertname": name}).split(","):
            if receiver != "null":
                expected.add((f"shipped/{receiver}", cluster, name, route))
    assert ("shipped/cfha-ticket", "fencing", "CfHaPgsqlLockStale", HUMANS) in expected
    sink.wait_for(
        lambda got: expected <= delivered(got), 30, "every unmuted alert at its receivers"
    )
    time.sleep(3)  # three more group intervals: nothing muted may arrive late
    shipped = {d for d in delivered(sink.received()) if d[0].startswith("shipped/")}
    assert shipped == expected


def test_the_remediator_gets_only_requests_with_the_bearer_token(stack: Any) -> None:
    sink = stack[0].sink
    hooks = sink.wait_for(
        lambda got: any(n.path == "/shipped/cfha-remediator" for n in got), 30, "a remediator POST"
    )
    for n in hooks:
        if n.path.endswith("/cfha-remediator"):
            assert n.authorization == f"Bearer {TOKEN}"
            assert n.body["version"] == "4"
            assert len(n.alerts) == 1, "group_by '...': one alert per notification"
            assert n.alerts[0]["labels"][ROUTE_LABEL] == REQUEST_ROUTE
        else:
            assert all(ROUTE_LABEL not in a["labels"] for a in n.alerts), n.path


def test_a_silenced_gate_still_closes_the_remediation_route(stack: Any) -> None:
    sink_stack, ams = stack
    am = ams["shipped"]
    am.add_silence({"alertname": "CfHaMaintenanceMode", "cluster": "silenced"})
    post_and_wait(am, copies("CfHaMaintenanceMode", "silenced"))
    post_and_wait(
        am, copies("CfHaFailCountAtThreshold", "silenced", node="hub2", resource="cfpgsql")
    )

    def settled() -> dict[Key, dict[str, Any]] | None:
        now = statuses(am)
        gate = now.get(("silenced", "CfHaMaintenanceMode", HUMANS))
        request = now.get(("silenced", "CfHaFailCountAtThreshold", REQUEST))
        if gate and request and gate["silencedBy"] and request["inhibitedBy"]:
            return now
        return None

    final = wait_until(settled, 30, "the silenced gate to inhibit")
    assert final[("silenced", "CfHaFailCountAtThreshold", HUMANS)]["state"] == "active"
    human = ("shipped/cfha-ticket", "silenced", "CfHaFailCountAtThreshold", HUMANS)
    sink_stack.sink.wait_for(lambda got: human in delivered(got), 30, "the humans' copy")
    time.sleep(3)
    assert {d for d in delivered(sink_stack.sink.received()) if d[1] == "silenced"} == {human}


def test_without_the_fencing_gate_the_remediator_gets_the_request(stack: Any) -> None:
    """The variant for clusters that run without fencing on purpose (alerts/README.md)."""
    sink = stack[0].sink
    wanted = {
        ("nofencing/cfha-remediator", "fencing", "CfHaPgsqlLockStale", REQUEST),
        ("nofencing/cfha-remediator", "open", "CfHaFailCountAtThreshold", REQUEST),
        # another standby's cause gate does not hold this one's request
        ("nofencing/cfha-remediator", "otherstandby", "CfHaPgStandbyNotStreaming", REQUEST),
        ("nofencing/cfha-ticket", "fencing", "CfHaPgsqlLockStale", HUMANS),
        ("nofencing/cfha-ticket", "fencing", "CfHaFencingDisabled", HUMANS),
    }
    sink.wait_for(lambda got: wanted <= delivered(got), 30, "the unmuted lock alert")
    time.sleep(3)
    # every other gate still holds in the variant
    requests = {d for d in delivered(sink.received()) if d[0] == "nofencing/cfha-remediator"}
    assert requests == {d for d in wanted if d[0] == "nofencing/cfha-remediator"}
