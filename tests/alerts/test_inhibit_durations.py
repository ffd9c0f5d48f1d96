"""An alert that mutes others must outlive them: Alertmanager inhibits only while the source
fires, so a cause that resolves before its consequences lets them reach a human after the
recovery (alerts/README.md, "Flapping"). Read from the shipped rules, routing and catalogue."""

from __future__ import annotations

import pytest

from lab.product.promrules import parse_duration
from tests.alerts.test_alertmanager import CONFIG, HUMANS, LABELS, matches
from tests.alerts.test_rules import HUMAN_RULES, catalogue

SCOPES = {name: row["scope"].split(", ") for name, row in catalogue().items()}


def alert_labels(name: str) -> dict[str, str]:
    """The labels of an alert of the humans' copy of `name`: its rule's, and a value for each
    label of its scope (the catalogue's), which comes from the expression."""
    return {label: "x" for label in SCOPES[name]} | LABELS[(name, HUMANS)] | {"alertname": name}


def keeps_firing(duration: str) -> float:
    return parse_duration(duration) if duration else 0.0


def human_inhibitions() -> list[dict[str, list[str]]]:
    """Inhibit rules that mute alerts for humans (the gates, which mute remediation requests,
    open on purpose when their cause ends: the held requests then go through)."""
    return [
        rule
        for rule in CONFIG["inhibit_rules"]
        if 'cfha_route="remediator"' not in rule["target_matchers"]
    ]


@pytest.mark.parametrize("rule", human_inhibitions(), ids=lambda r: " ".join(r["source_matchers"]))
def test_the_source_of_an_inhibition_outlives_its_targets(rule: dict[str, list[str]]) -> None:
    def matching(matchers: list[str]) -> list[str]:
        return [r.name for r in HUMAN_RULES if matches(matchers, alert_labels(r.name))]

    by_name = {r.name: r for r in HUMAN_RULES}
    sources, targets = matching(rule["source_matchers"]), matching(rule["target_matchers"])
    assert sources and targets, rule
    longest = max(targets, key=lambda t: keeps_firing(by_name[t].keep_firing_for))
    for source in sources:
        assert keeps_firing(by_name[source].keep_firing_for) > keeps_firing(
            by_name[longest].keep_firing_for
        ), f"{source} must keep firing longer than {longest}, which it mutes"


def test_per_node_targets_need_a_node() -> None:
    per_node = ['alertname!~"CfHaNodeOffline|CfHaNodeUnclean"', 'node=~".+"']
    assert matches(per_node, alert_labels("CfHaPgDown"))
    assert not matches(per_node, alert_labels("CfHaTwoWritableDatabases"))
    assert not matches(per_node, alert_labels("CfHaNodeOffline"))
