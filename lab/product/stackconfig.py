"""The product's configuration on the lab: pure builders, no side effects.

Used by `lab.product.stack` (the demo and the end-to-end tests bring the product up the same way):

- `exporter_config(node, other, dsn, port)`: cfha-exporter on a hub, as a deployment sets it.
- `remediator_config(...)` and `lab_policy()`: cfha-remediator on a hub. The lab policy is the
  shipped default policy with its *waits* shortened to lab time (cooldowns, the minimum age of a
  failure before a cleanup, of a constraint before it is cleared); every safety check is
  unchanged. Two guard settings differ from the shipped defaults because of what the lab is:
  it runs without fencing (`require_fencing: false`, as the CFEngine guide's test setup does),
  and `failover_freeze_seconds: 0` so that the old primary is re-synced right after a failover
  instead of 15 minutes later. The demo prints both.
- `scrape_configs(...)`: the jobs `cfha` and `cfha-remediator` the rules expect
  (alerts/README.md), `honor_labels`, target labels `cluster` and `node`.
- `alertmanager_config(...)`: alerts/alertmanager.example.yml for the lab (see the function).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.config import NOTIFICATION_SCRIPTS
from lab.product import amconfig
from remediator.policy import load_policy

CLUSTER = "cfcluster"
EXPORTER_JOB = "cfha"
REMEDIATOR_JOB = "cfha-remediator"
REMEDIATOR_RECEIVER = "cfha-remediator"
# The example's inhibit rule whose source is this alert closes the remediation route while
# fencing is off; a cluster without fencing by design deletes it (alerts/README.md).
FENCING_GATE = "CfHaFencingDisabled"
LAB_GROUP_WAIT = "1s"
LAB_GROUP_INTERVAL = "1s"


DIAGNOSIS_WAIT_SECONDS = 0.3
"""The lab scrapes every second with a 1 s timeout: a scrape waits this long for the diagnosis
(production: 1 s of a 10 s timeout); a slower read is published by the next scrape."""


def exporter_config(node: str, other: str, dsn: str, port: int) -> dict[str, Any]:
    """cfha-exporter on a lab hub (CFEngine's paths are the defaults; the lab has them)."""
    return {
        "cluster": CLUSTER,
        "node": node,
        "web": {"listen_address": f"127.0.0.1:{port}"},
        "collectors": {
            "postgres": {"conninfo": dsn, "expected_standbys": [other]},
            # /opt is the host's in a lab node: the scripts live under the node's /var/cfengine
            "mission_portal": {"notification_scripts": str(NOTIFICATION_SCRIPTS)},
            # one agent run of the lab's cf-agent stand-in (lab time runs 30 times faster)
            "verdict": {"inventory_settle_seconds": 10},
            "diagnosis": {"wait_seconds": DIAGNOSIS_WAIT_SECONDS},
        },
    }


def lab_policy() -> dict[str, Any]:
    """The default policy with its waits shortened to lab time; every safety check unchanged."""
    data: dict[str, Any] = load_policy(None).model_dump(mode="json")
    for rule in data["rules"]:
        rule["cooldown_seconds"] = 0
        params = rule["parameters"]
        if rule["action"] == "resource_cleanup":
            params["min_failure_age_seconds"] = 0
        if rule["action"] == "clear_cli_constraints":
            params["min_age_seconds"] = 0
        if rule["action"] == "resync_standby":
            params["verify_timeout_seconds"] = 180
            params["basebackup_timeout_seconds"] = 300
            params["rewind_timeout_seconds"] = 120
    return data


def remediator_config(
    *,
    node: str,
    port: int,
    journal: Path,
    kill_switch_file: Path,
    policy_file: Path,
    token_file: Path,
    dry_run: bool,
) -> dict[str, Any]:
    """cfha-remediator on a lab hub (see the module docstring for the two guard settings)."""
    return {
        "cluster": CLUSTER,
        "node": node,
        "dry_run": dry_run,
        "journal": str(journal),
        "kill_switch_file": str(kill_switch_file),
        "policy_file": str(policy_file),
        # lab time: a refused request that comes again (a gate opened) is decided again at once
        "redecide_after_seconds": 0,
        "web": {"listen_address": f"127.0.0.1:{port}", "token_file": str(token_file)},
        "guard": {
            "require_fencing": False,
            "failover_freeze_seconds": 0,
            "lock_wait_seconds": 120,
            "poll_interval_seconds": 1,
        },
    }


def scrape_configs(
    exporters: Mapping[str, str], remediators: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Prometheus jobs for the exporters and remediators: node name -> `host:port`."""

    def job(name: str, targets: Mapping[str, str]) -> dict[str, Any]:
        return {
            "job_name": name,
            "honor_labels": True,
            "static_configs": [
                {"targets": [address], "labels": {"cluster": CLUSTER, "node": node}}
                for node, address in sorted(targets.items())
            ],
        }

    jobs = [job(EXPORTER_JOB, exporters)]
    if remediators:
        jobs.append(job(REMEDIATOR_JOB, remediators))
    return jobs


def alertmanager_config(
    example: dict[str, Any],
    sink_url: str,
    remediator_urls: Mapping[str, str],
    token_file: Path,
) -> dict[str, Any]:
    """The example routing on the lab.

    Routes, matchers and the other inhibit rules stay as shipped. Changed:
    - every human receiver (pager, ticket, heartbeat) posts to the sink at
      `<sink_url>/<receiver>`, so the demo and the tests see what reached a human;
    - the remediator receiver posts to every hub's remediator (`remediator_urls`: node ->
      `http://127.0.0.1:<port>/webhook`, bearer token from `token_file`) and to the sink;
    - group timers of 1 s (the lab evaluates every second);
    - the fencing gate is deleted: the lab runs without fencing by design, with
      `guard.require_fencing: false` in the remediators (alerts/README.md).
    """
    lab = amconfig.for_loopback(
        amconfig.without_inhibit_source(example, FENCING_GATE),
        sink_url,
        token_file,
        wait=LAB_GROUP_WAIT,
        interval=LAB_GROUP_INTERVAL,
    )
    for receiver in lab.get("receivers") or []:
        if receiver["name"] != REMEDIATOR_RECEIVER:
            continue
        [observer] = receiver["webhook_configs"]
        hooks = [observer]
        for node in sorted(remediator_urls):
            hook = copy.deepcopy(observer)
            hook["url"] = remediator_urls[node]
            hook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
            }
            hooks.append(hook)
        receiver["webhook_configs"] = hooks
    return lab
