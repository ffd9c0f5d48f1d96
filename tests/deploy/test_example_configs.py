"""The example configurations under deploy/config load in the real tools that read them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.units import DEPLOY, REPO

CONFIG = DEPLOY / "config"
RULES = REPO / "alerts/rules"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def prometheus_layout(directory: Path) -> Path:
    """/etc/prometheus as deploy/config/prometheus.yml's header describes it."""
    shutil.copy(CONFIG / "prometheus.yml", directory / "prometheus.yml")
    (directory / "cfha").mkdir()
    (directory / "cfha/ca.crt").touch()
    (directory / "cfha/exporter.password").touch()
    shutil.copytree(RULES, directory / "cfha-alerts")
    return directory / "prometheus.yml"


@pytest.mark.parametrize("example", ["prometheus.yml", "prometheus-global.yml"])
def test_promtool_accepts_the_prometheus_examples(tmp_path: Path, example: str) -> None:
    config = prometheus_layout(tmp_path)
    if example != "prometheus.yml":
        config = tmp_path / example
        shutil.copy(CONFIG / example, config)
    done = subprocess.run(
        [tool("promtool"), "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    if example == "prometheus.yml":  # every rule file of alerts/ was found and checked
        for rule_file in RULES.glob("*.yml"):
            assert f"cfha-alerts/{rule_file.name}" in done.stdout + done.stderr, rule_file.name


def test_every_example_is_valid_yaml() -> None:
    examples = sorted(CONFIG.rglob("*.yml"))
    assert examples
    for example in examples:
        assert yaml.safe_load(example.read_text()) is not None, example


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("amtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_amtool_accepts_the_alertmanager_example() -> None:
    # deploy/config/alertmanager.yml is alerts/alertmanager.example.yml (a link): one file.
    done = amtool("check-config", str(CONFIG / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        # A remediable condition is two alerts (alerts/README.md): the humans' copy by severity,
        # and the request copy (cfha_route=remediator) to the remediators only.
        (
            ["alertname=CfHaFailCountAtThreshold", "severity=warning",
             "remediation=resource_cleanup"],
            "cfha-ticket",
        ),
        (
            ["alertname=CfHaFailCountAtThreshold", "severity=info",
             "remediation=resource_cleanup", "cfha_route=remediator"],
            "cfha-remediator",
        ),
        (
            ["alertname=CfHaPgStandbyNotStreaming", "severity=critical",
             "remediation=resync_standby"],
            "cfha-pager",
        ),
        (
            ["alertname=CfHaPgStandbyNotStreaming", "severity=info",
             "remediation=resync_standby", "cfha_route=remediator"],
            "cfha-remediator",
        ),
        (["alertname=CfHaPgReplicationLagBytes", "severity=warning"], "cfha-ticket"),
    ],
)  # fmt: skip
def test_remediation_alerts_reach_the_remediators_and_people(
    labels: list[str], receivers: str
) -> None:
    done = amtool(
        "config", "routes", "test", f"--config.file={CONFIG / 'alertmanager.yml'}", *labels
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receivers


def test_the_grafana_pointer_points_at_real_provisioning_files() -> None:
    """deploy/config/grafana/README.md names dashboards/ files and a datasource uid: they exist."""
    readme = (CONFIG / "grafana/README.md").read_text()
    provisioning = REPO / "dashboards/provisioning"
    for kind in ("datasources", "dashboards"):
        assert f"dashboards/provisioning/{kind}/cfha.yml" in readme
        assert (provisioning / kind / "cfha.yml").is_file(), kind
    (datasource,) = yaml.safe_load((provisioning / "datasources/cfha.yml").read_text())[
        "datasources"
    ]
    assert f"`{datasource['uid']}`" in readme
    assert list((REPO / "dashboards").glob("*.json"))
