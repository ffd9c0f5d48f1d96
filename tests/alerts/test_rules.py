"""The alert rules: promtool's checks and unit tests, and the catalogue's own rules.

Every alert needs: a `CfHa` name, `severity`, `summary` (a static sentence), `description`
(templated), `runbook_url` (the external-label base and its own name), a comment above it in
the rule file (how duplicates are avoided, why its `for`), a runbook, a row in the README
catalogue that matches the rule, and a firing and a non-firing promtool case whose labels
include its scope.

A remediable alert is two rules of the same name (alerts/README.md): the alert for the humans
(`remediation` names the action) and the remediation request (the same plus
`cfha_route="remediator"`, severity info), with the same condition. Only the request may match
the remediator's policy; each copy has its own firing and non-firing cases.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.product.promrules import (
    REQUEST_ROUTE,
    ROUTE_LABEL,
    AlertCase,
    Rule,
    cases_of,
    coverage_gaps,
    load_rules,
    load_unit_tests,
    parse_duration,
    rules_of,
)
from remediator.models import Alert
from remediator.policy import load_policy
from tests.conftest import REPO
from tests.support.promql import selectors

ALERTS = REPO / "alerts"
RULES_DIR = ALERTS / "rules"
TESTS_DIR = ALERTS / "tests"
RUNBOOKS = ALERTS / "runbooks"
SEVERITIES = {"critical", "warning", "info"}
ACTIONS = {"resource_cleanup", "clear_cli_constraints", "resync_standby"}
RUNBOOK_SECTIONS = ("## Meaning", "## Confirm by hand", "## What to do", "## Remediator")
NONE = "\N{EN DASH}"  # the README's "none"
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}

RULES = load_rules(RULES_DIR)
ALERT_RULES = [r for r in RULES if r.kind == "alert"]
HUMAN_RULES = [r for r in ALERT_RULES if not r.route]  # one per alert name
REQUESTS = [r for r in ALERT_RULES if r.route]
CASES = load_unit_tests(TESTS_DIR)


def promtool() -> str:
    path = shutil.which("promtool", path=ENV["PATH"])
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/ensure-debs)")
    return path


def test_there_are_rules_and_cases() -> None:
    assert len(HUMAN_RULES) >= 30
    assert len(REQUESTS) == 4
    assert len(CASES) >= 2 * len(HUMAN_RULES)


def test_promtool_check_rules_lint_all_is_clean() -> None:
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    result = subprocess.run(
        [promtool(), "check", "rules", "--lint=all", "--lint-fatal", *files],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    files = sorted(str(p) for p in TESTS_DIR.glob("*.yml"))
    result = subprocess.run(
        [promtool(), "test", "rules", *files],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_each_rule_file_has_a_test_file() -> None:
    rule_files = {p.stem for p in RULES_DIR.glob("*.yml")}
    test_files = {p.stem.removesuffix("_test") for p in TESTS_DIR.glob("*.yml")}
    assert rule_files == test_files


def test_alert_and_record_names_are_unique_and_well_formed() -> None:
    keys = [r.key for r in RULES]  # an alert name twice: only the request copy of an alert
    assert len(keys) == len(set(keys))
    for rule in RULES:
        if rule.kind == "alert":
            assert re.fullmatch(r"CfHa[A-Z][A-Za-z]+", rule.name), rule.name
        else:
            assert re.fullmatch(r"cfha:[a-z_]+:[a-z_]+", rule.name), rule.name


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.key)
def test_alert_labels_and_annotations(rule: Rule) -> None:
    assert rule.labels.get("severity") in SEVERITIES
    allowed = {"severity", "remediation", ROUTE_LABEL}
    assert set(rule.labels) <= allowed, "scope labels come from the expr"
    if "remediation" in rule.labels:
        assert rule.labels["remediation"] in ACTIONS
    if rule.route:
        assert rule.route == REQUEST_ROUTE and "remediation" in rule.labels
        assert rule.labels["severity"] == "info", "a request is no message for a human"
    elif "remediation" in rule.labels:
        assert rule.labels["severity"] != "info", "a remediable condition reaches a human"
    assert set(rule.annotations) == {"summary", "description", "runbook_url"}
    summary = rule.annotations["summary"]
    assert summary.endswith(".") and "{{" not in summary, "summary: a static sentence"
    assert "$labels.cluster" in rule.annotations["description"]
    assert rule.annotations["runbook_url"] == (
        "{{ with $externalLabels.cfha_runbook_base }}{{ . }}{{ else }}alerts/runbooks{{ end }}"
        f"/{rule.name}.md"
    )
    for key in ("for_", "keep_firing_for"):
        value = getattr(rule, key)
        if value:
            parse_duration(value)


@pytest.mark.parametrize("rule", HUMAN_RULES, ids=lambda r: r.name)
def test_alert_has_a_runbook(rule: Rule) -> None:
    runbook = RUNBOOKS / f"{rule.name}.md"
    assert runbook.is_file(), f"missing {runbook.relative_to(REPO)}"
    text = runbook.read_text()
    assert text.startswith(f"# {rule.name}\n")
    for section in RUNBOOK_SECTIONS:
        assert f"\n{section}\n" in text, f"{runbook.name} lacks {section!r}"


def test_no_runbook_without_an_alert() -> None:
    assert {p.stem for p in RUNBOOKS.glob("*.md")} == {r.name for r in ALERT_RULES}


def test_each_remediable_alert_has_one_request_copy_right_below_it() -> None:
    """The humans' copy and the request fire together: the same condition, `for`, annotations
    and action, in the same group, the request the next rule of the file."""
    position = {r.key: n for n, r in enumerate(RULES)}
    remediable = [r for r in HUMAN_RULES if "remediation" in r.labels]
    assert {r.name for r in REQUESTS} == {r.name for r in remediable}
    for human in remediable:
        (request,) = [r for r in REQUESTS if r.name == human.name]
        assert position[request.key] == position[human.key] + 1, human.name
        same = ("file", "group", "expr", "for_", "keep_firing_for", "annotations")
        for field in same:
            assert getattr(request, field) == getattr(human, field), (human.name, field)
        assert request.labels == human.labels | {"severity": "info", ROUTE_LABEL: REQUEST_ROUTE}


def test_every_alert_is_explained_by_a_comment_in_its_file() -> None:
    for path in RULES_DIR.glob("*.yml"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("- alert:"):
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1}"


# -- a firing and a non-firing case per alert ------------------------------------------------


def test_every_alert_has_a_firing_and_a_non_firing_case() -> None:
    assert coverage_gaps(RULES, CASES) == {}


def test_cases_only_name_existing_alerts() -> None:
    assert {c.alertname for c in CASES} <= {r.name for r in ALERT_RULES}


def test_the_coverage_check_reports_an_alert_without_cases() -> None:
    """The check above can fail: an alert with only a firing case, one with none."""
    rules = rules_of(
        {
            "groups": [
                {
                    "name": "g",
                    "rules": [
                        {"alert": "CfHaOnlyFiring", "expr": "vector(1)"},
                        {"alert": "CfHaNoCase", "expr": "vector(1)"},
                        {"record": "cfha:x:max", "expr": "vector(1)"},
                    ],
                }
            ]
        },
        "synthetic.yml",
    )
    cases = cases_of(
        {
            "tests": [
                {
                    "alert_rule_test": [
                        {
                            "alertname": "CfHaOnlyFiring",
                            "eval_time": "1m",
                            "exp_alerts": [{"exp_labels": {}}],
                        }
                    ]
                }
            ]
        },
        "synthetic_test.yml",
    )
    assert coverage_gaps(rules, cases) == {
        "CfHaOnlyFiring": ["not firing"],
        "CfHaNoCase": ["firing", "not firing"],
    }


def test_the_coverage_check_wants_each_copy_of_a_remediable_alert_expected() -> None:
    """A case that expects only the humans' copy does not cover the request copy."""
    labels = {"severity": "warning", "remediation": "resync_standby"}
    request = labels | {"severity": "info", ROUTE_LABEL: REQUEST_ROUTE}
    rules = rules_of(
        {
            "groups": [
                {
                    "name": "g",
                    "rules": [
                        {"alert": "CfHaPair", "expr": "vector(1)", "labels": labels},
                        {"alert": "CfHaPair", "expr": "vector(1)", "labels": request},
                    ],
                }
            ]
        },
        "synthetic.yml",
    )
    human_only = {
        "alertname": "CfHaPair",
        "eval_time": "1m",
        "exp_alerts": [{"exp_labels": labels}],
    }
    none = {"alertname": "CfHaPair", "eval_time": "0m", "exp_alerts": []}
    cases = cases_of({"tests": [{"alert_rule_test": [human_only, none]}]}, "synthetic_test.yml")
    assert coverage_gaps(rules, cases) == {
        f'CfHaPair{{{ROUTE_LABEL}="{REQUEST_ROUTE}"}}': ["firing"]
    }


# -- the README catalogue --------------------------------------------------------------------


def catalogue() -> dict[str, dict[str, str]]:
    """The rows of the README's "Catalogue" section (other sections have tables too)."""
    text = (ALERTS / "README.md").read_text()
    section = text.split("\n## Catalogue\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `CfHa"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].strip("`")
        rows[name] = {
            "severity": cells[1],
            "for": cells[2],
            "why": cells[3],
            "remediation": cells[4],
            "scope": cells[5],
            "inhibits": cells[6],
        }
    return rows


def test_readme_catalogue_matches_the_rules() -> None:
    """One row per alert name, for the humans' copy (the request copy is implied)."""
    rows = catalogue()
    assert set(rows) == {r.name for r in HUMAN_RULES}
    for rule in HUMAN_RULES:
        row = rows[rule.name]
        assert row["severity"] == rule.labels["severity"], rule.name
        assert parse_duration(row["for"]) == parse_duration(rule.for_ or "0s"), rule.name
        assert row["why"], rule.name
        assert row["remediation"] == rule.labels.get("remediation", NONE), rule.name


def firing_cases(rule: Rule) -> list[AlertCase]:
    return [c for c in CASES if c.alertname == rule.name and c.expects(rule.route)]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.key)
def test_firing_cases_carry_the_scope_labels(rule: Rule) -> None:
    scope = {s.strip() for s in catalogue()[rule.name]["scope"].split(",")}
    assert "cluster" in scope
    for case in firing_cases(rule):
        for alert in case.exp_alerts:
            labels = alert.get("exp_labels") or {}
            if labels.get(ROUTE_LABEL, "") == rule.route:
                assert scope | set(rule.labels) <= set(labels), (case.test, case.eval_time)


def test_firing_cases_of_a_remediable_alert_expect_both_copies_alike() -> None:
    """promtool compares whole lists, so this holds anyway; here it is stated."""
    names = {r.name for r in REQUESTS}
    for case in CASES:
        if case.alertname not in names or not case.firing:
            continue
        humans = [a["exp_labels"] for a in case.exp_alerts if ROUTE_LABEL not in a["exp_labels"]]
        requests = [a["exp_labels"] for a in case.exp_alerts if ROUTE_LABEL in a["exp_labels"]]
        as_request = [h | {"severity": "info", ROUTE_LABEL: REQUEST_ROUTE} for h in humans]
        assert requests == as_request, (case.test, case.eval_time)


def as_delivered(rule: Rule) -> Alert:
    """The alert of `rule` as Alertmanager would deliver it to the remediator."""
    labels = {"alertname": rule.name, "cluster": "cfcluster", "node": "hub2", **rule.labels}
    return Alert.model_validate(
        {
            "status": "firing",
            "labels": labels,
            "startsAt": "2027-01-15T08:00:00Z",
            "fingerprint": "1",
        }
    )


def test_remediation_labels_agree_with_the_remediator_policy() -> None:
    """The remediator's default policy acts on each request copy with the action its
    `remediation` label names, and on nothing else: not on the humans' copy of the same alert
    (which the gates do not mute), not on any other alert."""
    policy = load_policy(None)
    for rule in ALERT_RULES:
        matched = policy.match(as_delivered(rule))
        action = matched.action if matched else None
        assert action == (rule.labels["remediation"] if rule.route else None), rule.key
    accepted = {name for r in policy.rules for name in r.match.alertnames}
    assert accepted == {r.name for r in REQUESTS}, "the policy names no alert the rules lack"


def test_rule_files_parse_as_yaml_with_only_known_keys() -> None:
    allowed = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
    for path in RULES_DIR.glob("*.yml"):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            assert set(group) <= {"name", "rules", "interval"}
            for rule in group["rules"]:
                assert set(rule) <= allowed, (path.name, rule)


def test_runbooks_link_only_to_existing_files() -> None:
    for path in RUNBOOKS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
            if "://" in target:
                continue
            assert (path.parent / target).resolve().exists(), (path.name, target)


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_the_shipped_prometheus_config_follows_the_scrape_contract() -> None:
    """deploy/config/prometheus.yml scrapes by the job names and labels the rules rely on."""
    path = REPO / "deploy" / "config" / "prometheus.yml"
    if not path.is_file():
        pytest.skip("deploy/config/prometheus.yml is not in this tree yet")
    config = yaml.safe_load(path.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ("cfha", "cfha-remediator"):
        assert name in jobs, name
        assert jobs[name].get("honor_labels") is True, name
        for static in jobs[name]["static_configs"]:
            assert {"cluster", "node"} <= set(static.get("labels", {})), (name, static)
    used_jobs = {
        m.value
        for rule in RULES
        for sel in selectors(rule.expr)
        for m in sel.matchers
        if m.label == "job"
    }
    assert used_jobs <= set(jobs)
