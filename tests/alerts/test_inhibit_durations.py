"""An alert that mutes others must outlive them: Alertmanager inhibits only while the source
fires, so a cause that resolves before its consequences lets them reach a human after the
recovery (alerts/README.md, "Flapping"). Read from the shipped rules, routing and catalogue."""

from __future__ import annotations

import re

import pytest

from lab.promrules import parse_duration
from tests.alerts.test_alertmanager import CONFIG
from tests.alerts.test_rules import HUMAN_RULES, catalogue

MATCHER = re.compile(r'^(?P<label>\w+)(?P<op>=~|!~|!=|=)"(?P<value>.*)"$')
SCOPES = {name: set(row["scope"].split(", ")) for name, row in catalogue().items()}


def selects(matchers: list[str], name: str, scope: set[str]) -> bool:
    """Whether an inhibit rule's matchers may select alert `name`, whose alerts carry the labels
    `scope`: alertname matchers are evaluated; `label=~".+"` requires the label."""
    for matcher in matchers:
        found = MATCHER.match(matcher)
        assert found, f"unreadable matcher {matcher!r}"
        label, op, value = found["label"], found["op"], found["value"]
        if label == "alertname":
            hit = re.fullmatch(value, name) is not None if "~" in op else value == name
            if hit != (op in ("=", "=~")):
                return False
        elif (op, value) == ("=~", ".+") and label not in scope:
            return False
    return True


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
        return [r.name for r in HUMAN_RULES if selects(matchers, r.name, SCOPES[r.name])]

    by_name = {r.name: r for r in HUMAN_RULES}
    sources, targets = matching(rule["source_matchers"]), matching(rule["target_matchers"])
    assert sources and targets, rule
    longest = max(targets, key=lambda t: keeps_firing(by_name[t].keep_firing_for))
    for source in sources:
        assert keeps_firing(by_name[source].keep_firing_for) > keeps_firing(
            by_name[longest].keep_firing_for
        ), f"{source} must keep firing longer than {longest}, which it mutes"


def test_matching() -> None:
    node = {"cluster", "node"}
    assert selects(['alertname=~"A|B"'], "B", node)
    assert not selects(['alertname!~"A|B"', 'node=~".+"'], "A", node)
    assert selects(['alertname!~"A|B"', 'node=~".+"'], "C", node)
    assert not selects(['alertname!~"A|B"', 'node=~".+"'], "C", {"cluster"})
    assert not selects(['alertname="A"'], "AB", node)
