"""alerts/alertmanager.example.yml: amtool's checks, the route of every alert, and what the
inhibit rules may mute (test_inhibition.py runs them in a real Alertmanager).

A remediable alert comes as two alerts of one name (alerts/README.md): the humans' copy goes to
the humans by severity and only the explanations (quorum lost, node offline or UNCLEAN) mute it;
the remediation request (cfha_route="remediator") goes to the remediators only, and the gates
mute it as well."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.product import amconfig
from lab.product.promrules import REQUEST_ROUTE, ROUTE_LABEL
from tests.alerts.test_rules import ALERT_RULES

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}
EXAMPLE = amconfig.EXAMPLE
CONFIG = amconfig.load_example()
LABELS = {(r.name, r.route): r.labels for r in ALERT_RULES}  # (alertname, route) -> labels
ROUTES = {name: sorted(route for n, route in LABELS if n == name) for name, _ in LABELS}
GATES = (
    "CfHaMaintenanceMode",
    "CfHaTwoWritableDatabases",
    "CfHaNodeMaintenance",
    "CfHaNodeUnclean",
    "CfHaFencingDisabled",
)
HUMANS = ""  # the route of the humans' copy
CAUSE_GATE = "CfHaPgStandbyNotCurable"
"""The gate of one standby: its re-sync request leaves only for a cause a re-sync cures."""
CAUSE_PAGES = ("CfHaPgReplicationAuthRejected", "CfHaPgPrimaryUnreachable")


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
    """A request to the remediators only, the watchdog to the heartbeat, the rest by severity."""
    if labels.get("alertname") == "CfHaWatchdog":
        return "cfha-heartbeat"
    if labels.get(ROUTE_LABEL) == REQUEST_ROUTE:
        return "cfha-remediator"
    return {"critical": "cfha-pager", "warning": "cfha-ticket", "info": "null"}.get(
        labels.get("severity", ""), "cfha-ticket"
    )


ROUTE_CASES = [
    {"alertname": rule.name, "cluster": "cfcluster", "node": "hub2", **rule.labels}
    for rule in ALERT_RULES
] + [{"alertname": "SomethingElse", "cluster": "cfcluster"}]


def route_case_id(labels: dict[str, str]) -> str:
    return labels["alertname"] + ("/request" if ROUTE_LABEL in labels else "")


@pytest.mark.parametrize("labels", ROUTE_CASES, ids=route_case_id)
def test_every_alert_routes_by_severity_or_as_a_request(labels: dict[str, str]) -> None:
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
    """The rule above derives its expectation; here the cases are spelled out. The humans' copy
    of a remediable alert never reaches the remediator, a request never reaches a human."""
    request = ("remediation=resync_standby", "cfha_route=remediator")
    cases = {
        ("severity=critical",): "cfha-pager",
        ("severity=warning",): "cfha-ticket",
        ("severity=critical", "remediation=resync_standby"): "cfha-pager",
        ("severity=warning", "remediation=resource_cleanup"): "cfha-ticket",
        ("severity=info", *request): "cfha-remediator",
        ("severity=critical", *request): "cfha-remediator",
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
    assert route["matchers"] == [f'{ROUTE_LABEL}="{REQUEST_ROUTE}"']
    assert not route.get("continue", False), "a request is for the remediators only"
    assert route["group_by"] == ["..."]


MATCHER = re.compile(r'(?P<label>\w+)(?P<op>=~|!~|!=|=)"?(?P<value>[^"]*)"?')


def matches(matchers: list[str], labels: dict[str, str]) -> bool:
    """Alertmanager's matcher semantics (regexes anchored, a missing label is "")."""
    for text in matchers:
        m = MATCHER.fullmatch(text)
        assert m is not None, text
        value, want = labels.get(m["label"], ""), m["value"]
        ok = {
            "=": value == want,
            "!=": value != want,
            "=~": re.fullmatch(want, value) is not None,
            "!~": re.fullmatch(want, value) is None,
        }[m["op"]]
        if not ok:
            return False
    return True


def test_the_gates_mute_only_remediation_requests() -> None:
    """Inhibition is global: a rule sourced by a gate that matched a humans' copy would hide a
    remediable condition from the humans for as long as the gate holds (fencing disabled: for
    good). So a gate mutes every request of its cluster and no humans' copy, except on an
    UNCLEAN node itself (equal: node), whose alerts it explains."""
    requests = [r.labels | {"alertname": r.name} for r in ALERT_RULES if r.route]
    remediable = [
        r.labels | {"alertname": r.name}
        for r in ALERT_RULES
        if "remediation" in r.labels and not r.route
    ]
    for gate in GATES:
        rules = [
            rule
            for rule in CONFIG["inhibit_rules"]
            if matches(rule["source_matchers"], LABELS[(gate, HUMANS)] | {"alertname": gate})
        ]
        cluster_wide = [rule for rule in rules if rule["equal"] == ["cluster"]]
        for labels in requests:
            assert any(matches(r["target_matchers"], labels) for r in cluster_wide), gate
        for rule in rules:
            if "node" in rule["equal"]:
                continue
            for labels in remediable:
                assert not matches(rule["target_matchers"], labels), (gate, rule)


def test_inhibit_rules_name_existing_alerts() -> None:
    names = {r.name for r in ALERT_RULES}
    for rule in CONFIG["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            parsed = re.fullmatch(r'alertname(=~|!~|!=|=)"([A-Za-z|]+)"', matcher)
            if matcher.startswith("alertname"):
                assert parsed is not None, matcher
                for name in parsed.group(2).split("|"):
                    assert name in names, name


def test_the_cause_gate_mutes_only_its_standbys_resync_request() -> None:
    """Diagnose before cure (alerts/README.md): the gate of one standby mutes the re-sync
    request of that standby and nothing else, never a humans' copy."""
    gate = LABELS[(CAUSE_GATE, HUMANS)] | {"alertname": CAUSE_GATE}
    rules = [r for r in CONFIG["inhibit_rules"] if matches(r["source_matchers"], gate)]
    assert [r["equal"] for r in rules] == [["cluster", "node"]]
    for rule in ALERT_RULES:
        labels = rule.labels | {"alertname": rule.name}
        muted = matches(rules[0]["target_matchers"], labels)
        assert muted == (rule.name == "CfHaPgStandbyNotStreaming" and bool(rule.route)), rule.key


def test_a_cause_that_pages_mutes_the_generic_page_of_its_standby() -> None:
    for name in CAUSE_PAGES:
        source = LABELS[(name, HUMANS)] | {"alertname": name}
        assert source["severity"] == "critical" and "remediation" not in source
        rules = [r for r in CONFIG["inhibit_rules"] if matches(r["source_matchers"], source)]
        per_node = [r for r in rules if r["equal"] == ["cluster", "node"]]
        assert len(per_node) == 1, name
        for rule in ALERT_RULES:
            labels = rule.labels | {"alertname": rule.name}
            muted = matches(per_node[0]["target_matchers"], labels)
            assert muted == (rule.name == "CfHaPgStandbyNotStreaming"), rule.key
