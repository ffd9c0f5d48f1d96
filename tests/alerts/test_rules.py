"""The alert rules: promtool's checks and unit tests, and the catalogue's own rules.

Every alert needs: a `CfHa` name, `severity`, `summary` (a static sentence), `description`
(templated), `runbook_url` (the external-label base and its own name), a comment above it in
the rule file (how duplicates are avoided, why its `for`), a runbook, a row in the README
catalogue that matches the rule, and a firing and a non-firing promtool case whose labels
include its scope.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.promql import selectors
from tests.support.promrules import (
    AlertCase,
    Rule,
    cases_of,
    coverage_gaps,
    load_rules,
    load_unit_tests,
    parse_duration,
    rules_of,
)

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
CASES = load_unit_tests(TESTS_DIR)


def promtool() -> str:
    path = shutil.which("promtool", path=ENV["PATH"])
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/ensure-debs)")
    return path


def test_there_are_rules_and_cases() -> None:
    assert len(ALERT_RULES) >= 30
    assert len(CASES) >= 2 * len(ALERT_RULES)


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
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        if rule.kind == "alert":
            assert re.fullmatch(r"CfHa[A-Z][A-Za-z]+", rule.name), rule.name
        else:
            assert re.fullmatch(r"cfha:[a-z_]+:[a-z_]+", rule.name), rule.name


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.name)
def test_alert_labels_and_annotations(rule: Rule) -> None:
    assert rule.labels.get("severity") in SEVERITIES
    assert set(rule.labels) <= {"severity", "remediation"}, "scope labels come from the expr"
    if "remediation" in rule.labels:
        assert rule.labels["remediation"] in ACTIONS
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


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.name)
def test_alert_has_a_runbook(rule: Rule) -> None:
    runbook = RUNBOOKS / f"{rule.name}.md"
    assert runbook.is_file(), f"missing {runbook.relative_to(REPO)}"
    text = runbook.read_text()
    assert text.startswith(f"# {rule.name}\n")
    for section in RUNBOOK_SECTIONS:
        assert f"\n{section}\n" in text, f"{runbook.name} lacks {section!r}"


def test_no_runbook_without_an_alert() -> None:
    assert {p.stem for p in RUNBOOKS.glob("*.md")} == {r.name for r in ALERT_RULES}


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


# -- the README catalogue --------------------------------------------------------------------


def catalogue() -> dict[str, dict[str, str]]:
    rows = {}
    for line in (ALERTS / "README.md").read_text().splitlines():
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
    rows = catalogue()
    assert set(rows) == {r.name for r in ALERT_RULES}
    for rule in ALERT_RULES:
        row = rows[rule.name]
        assert row["severity"] == rule.labels["severity"], rule.name
        assert parse_duration(row["for"]) == parse_duration(rule.for_ or "0s"), rule.name
        assert row["why"], rule.name
        assert row["remediation"] == rule.labels.get("remediation", NONE), rule.name


def firing_cases(name: str) -> list[AlertCase]:
    return [c for c in CASES if c.alertname == name and c.firing]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.name)
def test_firing_cases_carry_the_scope_labels(rule: Rule) -> None:
    scope = {s.strip() for s in catalogue()[rule.name]["scope"].split(",")}
    assert "cluster" in scope
    for case in firing_cases(rule.name):
        for alert in case.exp_alerts:
            labels = set(alert.get("exp_labels") or {})
            assert scope | set(rule.labels) <= labels, (case.test, case.eval_time)


def test_remediation_labels_agree_with_the_remediator_policy() -> None:
    """Each action the default policy accepts by alert name is the label those alerts carry."""
    policy_path = REPO / "remediator" / "default_policy.yml"
    if not policy_path.is_file():
        pytest.skip("remediator/default_policy.yml is not in this tree yet")
    policy = yaml.safe_load(policy_path.read_text())
    labelled = {r.name: r.labels.get("remediation") for r in ALERT_RULES}
    for rule in policy["rules"]:
        wanted = rule["match"].get("labels", {}).get("remediation")
        for name in rule["match"].get("alertnames", []):
            assert labelled.get(name) == wanted == rule["action"], name
    accepted = {n for r in policy["rules"] for n in r["match"].get("alertnames", [])}
    assert {n for n, action in labelled.items() if action} == accepted


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
