"""One reading of the cluster, on the live lab: inside each hub, what `cfha-exporter --once`
publishes and what `cfha-remediator snapshot` (the read every decision takes) holds agree on
every fact both use, healthy and in the scenarios that change those facts. The hubs run under a
TZ that names a zone file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster import Lab

from .test_one_reading import Facts, published_facts

pytestmark = pytest.mark.lab
HUBS = ("hub1", "hub2")
TZ_FILE = "/usr/share/zoneinfo/Europe/Berlin"
NODE_FLAGS = ("online", "standby", "unclean", "pending", "maintenance")


@pytest.fixture
def lab(healthy_lab: Lab) -> Lab:
    return healthy_lab


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both services' configurations per hub (the hubs see the host's /tmp)."""
    folder = tmp_path_factory.mktemp("one-reading")
    for node in HUBS:
        exporter = {
            "cluster": "cfcluster",
            "node": node,
            "collectors": {
                "postgres": {"conninfo": "host=/var/cfengine/state/pg user=postgres dbname=cfdb"}
            },
        }
        remediator = {
            "cluster": "cfcluster",
            "node": node,
            "journal": str(folder / f"{node}.db"),
            "kill_switch_file": str(folder / f"{node}.paused"),
            "postgres": {"user": "postgres"},
        }
        (folder / f"{node}-exporter.yml").write_text(yaml.safe_dump(exporter))
        (folder / f"{node}-remediator.yml").write_text(yaml.safe_dump(remediator))
    return folder


def both_readings(lab: Lab, node: str, configs: Path) -> tuple[Facts, Facts]:
    env = ["env", f"TZ={TZ_FILE}"]
    exported = lab.run(
        node,
        [*env, sys.executable, "-m", "exporter", "--config.file",
         str(configs / f"{node}-exporter.yml"), "--once"],
        timeout=60,
    )  # fmt: skip
    snapshot = lab.run(
        node,
        [*env, sys.executable, "-m", "remediator", "--config.file",
         str(configs / f"{node}-remediator.yml"), "snapshot"],
        timeout=60,
    )  # fmt: skip
    assert snapshot.returncode == 0, snapshot.stderr
    return published_facts(exported.stdout), summary_facts(json.loads(snapshot.stdout))


def summary_facts(summary: dict[str, Any]) -> Facts:
    """The facts of `cfha-remediator snapshot` (`ClusterState.summary()`)."""
    return Facts(
        promoted=frozenset(summary["promoted"] or ()),
        nodes={
            name: frozenset(flag for flag in NODE_FLAGS if flags[flag])
            for name, flags in summary["nodes"].items()
        },
        quorate=summary["quorate"],
        constraints=summary["constraints"],
        agent_status={k: v for k, v in summary["agent_status"].items() if v},
        last_change=summary["last_change"],
        failure_times={
            (f["resource"], f["node"] or "", f["task"] or ""): f["at"] for f in summary["failures"]
        },
        last_promotion=summary["last_promotion"],
    )


@pytest.mark.parametrize("scenario", [None, "ban", "node-standby", "fail-monitor", "kill-primary"])
def test_both_services_read_the_live_cluster_alike(
    lab: Lab, configs: Path, scenario: str | None
) -> None:
    if scenario is not None:
        lab.inject(scenario)
    for node in HUBS:
        published, held = both_readings(lab, node, configs)
        assert held == published, node
        assert published.promoted and published.quorate is True
