"""Policy and config validation: unknown keys rejected, every error reported with its path."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.config import ConfigError, config_from_mapping
from remediator.models import parse_payload
from remediator.policy import load_policy, policy_from_mapping

from .conftest import alert, payload

# (alert, its `remediation` label): the request copies the rules in alerts/ send
REMEDIABLE = (
    ("CfHaFailCountAtThreshold", "resource_cleanup"),
    ("CfHaLeftoverCliConstraint", "clear_cli_constraints"),
    ("CfHaPgStandbyNotStreaming", "resync_standby"),
    ("CfHaPgsqlLockStale", "resync_standby"),
)


def errors_of(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        policy_from_mapping(data, "test")
    return caught.value.errors


def test_default_policy_enables_only_the_safe_set() -> None:
    policy = load_policy(None)
    assert sorted(r.action for r in policy.rules) == [
        "clear_cli_constraints",
        "resource_cleanup",
        "resync_standby",
    ]
    assert all(not r.dry_run for r in policy.rules)
    by_alert = {
        name: policy.match(parse_payload(payload(alert(name, remediation))).alerts[0])
        for name, remediation in REMEDIABLE
    }
    assert {k: v.action if v else None for k, v in by_alert.items()} == {
        "CfHaFailCountAtThreshold": "resource_cleanup",
        "CfHaLeftoverCliConstraint": "clear_cli_constraints",
        "CfHaPgStandbyNotStreaming": "resync_standby",
        "CfHaPgsqlLockStale": "resync_standby",
    }
    # The label alone is not enough, and a known alert with another label matches nothing.
    other = parse_payload(payload(alert("SomethingElse", "resync_standby"))).alerts[0]
    assert policy.match(other) is None
    mislabelled = parse_payload(payload(alert("CfHaPgsqlLockStale", "resource_cleanup"))).alerts[0]
    assert policy.match(mislabelled) is None
    # The humans' copy of a remediable alert (no cfha_route; no gate mutes it) never acts, even
    # if a misrouted Alertmanager sends it here: only the gated request copy does.
    for name, remediation in REMEDIABLE:
        human = alert(name, remediation)
        del human["labels"]["cfha_route"]
        assert policy.match(parse_payload(payload(human)).alerts[0]) is None
        other_route = alert(name, remediation, cfha_route="humans")
        assert policy.match(parse_payload(payload(other_route)).alerts[0]) is None


def test_every_error_at_once_with_its_path() -> None:
    errors = errors_of(
        {
            "rules": [
                {
                    "name": "a",
                    "match": {"labels": {"x": "y"}},
                    "action": "resource_cleanup",
                    "cooldown": 5,
                },
                {"name": "b", "match": {"labels": {"x": "y"}}, "action": "reboot_hub"},
                {
                    "name": "c",
                    "match": {"labels": {"x": "y"}},
                    "action": "resync_standby",
                    "parameters": {"rewind": False, "basebackup": False},
                },
                {
                    "name": "d",
                    "match": {},
                    "action": "clear_cli_constraints",
                    "parameters": {"kinds": ["ban", "location"], "min_age": 1},
                },
            ]
        }
    )
    text = "\n".join(errors)
    assert "rules.0.resource_cleanup.cooldown: Extra inputs are not permitted" in text
    assert "rules.1: Input tag 'reboot_hub'" in text
    assert "rules.2.resync_standby.parameters: Value error, enable rewind, basebackup" in text
    assert "rules.3.clear_cli_constraints.match: Value error, a rule must match" in text
    assert "rules.3.clear_cli_constraints.parameters.kinds.1" in text
    assert "rules.3.clear_cli_constraints.parameters.min_age: Extra inputs" in text


def test_duplicate_rule_names() -> None:
    rule = {"name": "a", "match": {"alertnames": ["A"]}, "action": "resource_cleanup"}
    assert any("duplicate rule names: a" in e for e in errors_of({"rules": [rule, rule]}))


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(
            {
                "cluster": "c d",
                "web": {"listen_address": "nowhere", "tls": {"certfile": "x"}},
                "postgres": {"user": "a;b"},
                "gaurd": {},
            }
        )
    text = "\n".join(caught.value.errors)
    for fragment in (
        "cluster:",
        "web.listen_address:",
        "web.tls.keyfile: Field required",
        "postgres.user:",
        "gaurd: Extra inputs are not permitted",
    ):
        assert fragment in text


def test_starts_at_is_normalised_for_dedupe() -> None:
    a = parse_payload(payload(alert("A", None, starts_at="2027-01-15T10:00:00+02:00"))).alerts[0]
    b = parse_payload(payload(alert("A", None, starts_at="2027-01-15T08:00:00.000000Z"))).alerts[0]
    assert a.starts_at_key == b.starts_at_key == "2027-01-15T08:00:00.000000Z"
