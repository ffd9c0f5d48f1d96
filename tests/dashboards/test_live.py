"""Every panel's queries on a real Prometheus that scrapes the live lab: cfha-exporter and
cfha-remediator inside both hubs (with the lab's cf-hub stand-in), the alert rules loaded. The
lab goes healthy -> degraded (`stop-standby` and a ban with a lifetime) -> remediated (a real
cleanup by the remediator, and a refusal), and in each state every query runs with the
dashboard variables substituted. Each panel must return data in the states
tests/dashboards/expected.py lists for it, and every cfha metric the dashboards use must appear
in what Prometheus scraped.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from lab.cluster import Lab
from lab.config import NODE_NAMES
from lab.product.promstack import Prometheus, PromStack, missing_binaries
from lab.product.waiting import StackError, wait_until
from remediator.policy import load_policy
from tests.conftest import REPO
from tests.dashboards import boards as data
from tests.dashboards.expected import BY_QUERY, DEGRADED, EXPECTED, HEALTHY, REMEDIATED
from tests.support.promql import metric_names

pytestmark = pytest.mark.lab

CLUSTER = "cfcluster"
EXPORTER_PORT = 19742  # inside each hub's own network namespace
REMEDIATOR_PORT = 19745
SCRAPE_INTERVAL = "3s"
# Grafana's $__rate_interval is at least four scrape intervals.
LIVE_BUILTINS = {"$__rate_interval": "30s", "$__range": "1h", "$__interval": "3s"}
TOKEN = "dashboards-live-test-token-0123456789"
SLOT = "cfha_dashboards_abandoned"  # the degraded state's slot on the primary
TARGETS = data.targets()


@dataclass
class Observed:
    """Per query: the states in which it returned data; and every metric name scraped."""

    with_data: dict[str, set[str]] = field(default_factory=dict)
    empty: dict[str, set[str]] = field(default_factory=dict)
    scraped: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Remediator:
    node: str
    url: str
    kill_switch: Path

    def request(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def post_alert(self, labels: dict[str, str]) -> dict[str, Any]:
        """One Alertmanager v4 notification with one firing alert, as the route sends it."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        alert = {
            "status": "firing",
            "labels": {"cluster": CLUSTER, **labels},
            "annotations": {"summary": "dashboards live test"},
            "startsAt": now,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1/graph",
            "fingerprint": uuid.uuid4().hex[:16],
        }
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "cfha-remediator",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093",
            "alerts": [alert],
        }
        answer: dict[str, Any] = self.request("POST", "/webhook", body)
        return answer

    def wait_job(self, job_id: str, timeout: float = 180) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = self.request("GET", f"/api/jobs/{job_id}")
            return None if job["state"] in ("queued", "running") else job

        result: dict[str, Any] = wait_until(finished, timeout, f"job {job_id} on {self.node}", 1)
        return result


def exporter_config(lab: Lab, node: str) -> dict[str, Any]:
    return {
        "cluster": CLUSTER,
        "node": node,
        "web": {"listen_address": f"127.0.0.1:{EXPORTER_PORT}"},
        "collectors": {
            "postgres": {
                "conninfo": lab.node(node).pg_dsn("cfdb"),
                "expected_standbys": [lab.other(node)],
            }
        },
    }


def remediator_config(folder: Path, node: str, policy: Path, token: Path) -> dict[str, Any]:
    return {
        "cluster": CLUSTER,
        "node": node,
        "journal": str(folder / "journal.db"),
        "kill_switch_file": str(folder / "paused"),
        "policy_file": str(policy),
        "web": {"listen_address": f"127.0.0.1:{REMEDIATOR_PORT}", "token_file": str(token)},
        # The lab runs without fencing (as the CFEngine guide's test setup does).
        "guard": {
            "require_fencing": False,
            "failover_freeze_seconds": 0,
            "poll_interval_seconds": 1,
        },
    }


def lab_policy() -> dict[str, Any]:
    """The shipped policy with its waits at test speed; every safety check unchanged."""
    policy: dict[str, Any] = load_policy(None).model_dump(mode="json")
    for rule in policy["rules"]:
        rule["cooldown_seconds"] = 0
        if rule["action"] == "resource_cleanup":
            rule["parameters"]["min_failure_age_seconds"] = 0
    return policy


# Shown when a state is not reached: what the hubs' verdicts say instead.
REASONS_HELD = f'cfha_ha_degraded_reason{{cluster="{CLUSTER}"}} == 1'


def reach(prom: Prometheus, expr: str, timeout: float, what: str) -> None:
    """Poll until `expr` returns something; on timeout, fail with the verdicts' reasons."""
    try:
        wait_until(lambda: prom.query(expr), timeout, what, 1)
    except StackError as exc:
        held = sorted(
            f"{r['metric'].get('node')}: {r['metric'].get('reason')}"
            for r in prom.query(REASONS_HELD)
        )
        raise AssertionError(f"{exc}\nreasons held: {held}") from None


def observe(prom: Prometheus, state: str, seen: Observed) -> None:
    """Run every query once; remember which returned data, and every metric scraped so far."""
    for target in TARGETS:
        expr = data.substitute(target.expr, CLUSTER, LIVE_BUILTINS)
        found = seen.with_data if prom.query(expr) else seen.empty
        found.setdefault(target.key, set()).add(state)
    names = prom.query('group by (__name__) ({job=~"cfha|cfha-remediator"})')
    seen.scraped.update(r["metric"]["__name__"] for r in names)
    alerts = prom.query("group by (__name__) (ALERTS)")
    seen.scraped.update(r["metric"]["__name__"] for r in alerts)


def start_processes(
    lab: Lab, folder: Path, pids: list[int]
) -> tuple[dict[str, str], dict[str, Remediator]]:
    token = folder / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    policy = folder / "policy.yml"
    policy.write_text(yaml.safe_dump(lab_policy()))
    exporters, remediators = {}, {}
    for node in lab.node_names:
        base = folder / node
        base.mkdir()
        (base / "exporter.yml").write_text(yaml.safe_dump(exporter_config(lab, node)))
        (base / "remediator.yml").write_text(
            yaml.safe_dump(remediator_config(base, node, policy, token))
        )
        env = {"PYTHONPATH": str(REPO)}  # the tree under test
        programs = {
            "exporter": ["exporter", "--config.file", str(base / "exporter.yml")],
            "remediator": ["remediator", "--config.file", str(base / "remediator.yml"), "serve"],
            # the lab's cf-hub: keeps cfdb's reports fresh on the active hub
            "cf-hub": ["lab.cfhub", "--dsn", lab.node(node).pg_dsn(), "--interval", "5"],
        }
        for name, args in programs.items():
            argv = [sys.executable, "-m", *args]
            pids.append(lab.spawn(node, argv, env=env, log_path=base / f"{name}.log"))
        exporters[node] = f"127.0.0.1:{lab.forward(node, EXPORTER_PORT)}"
        url = f"http://127.0.0.1:{lab.forward(node, REMEDIATOR_PORT)}"
        remediators[node] = Remediator(node, url, base / "paused")
    return exporters, remediators


def scrape_configs(
    exporters: dict[str, str], remediators: dict[str, Remediator]
) -> list[dict[str, Any]]:
    """The scrape contract of alerts/README.md: jobs cfha and cfha-remediator, honor_labels,
    each target labelled with its cluster and node."""

    def job(name: str, addresses: dict[str, str]) -> dict[str, Any]:
        return {
            "job_name": name,
            "honor_labels": True,
            "static_configs": [
                {"targets": [address], "labels": {"cluster": CLUSTER, "node": node}}
                for node, address in addresses.items()
            ],
        }

    return [
        job("cfha", exporters),
        job("cfha-remediator", {n: r.url.removeprefix("http://") for n, r in remediators.items()}),
    ]


@pytest.fixture(scope="module")
def observed(lab_cluster: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    lab = lab_cluster
    folder = tmp_path_factory.mktemp("dashboards-live")
    seen = Observed()
    pids: list[int] = []
    stack = PromStack(folder / "prom")
    (folder / "prom").mkdir()
    try:
        started = time.monotonic()
        lab.restore_healthy()
        exporters, remediators = start_processes(lab, folder, pids)
        prom = stack.prometheus(
            scrape_configs=scrape_configs(exporters, remediators),
            rule_files=sorted((REPO / "alerts" / "rules").glob("*.yml")),
            interval=SCRAPE_INTERVAL,
        )
        prom.wait_targets_up(timeout=90)
        seen.timings["start"] = time.monotonic() - started

        # healthy: both verdicts OK, a few scrapes of history for increase() and changes()
        mark = time.monotonic()
        verdicts_ok = f'count(cfha_ha_degraded{{cluster="{CLUSTER}"}} == 0) == 2'
        reach(prom, verdicts_ok, 120, "both hubs' verdicts OK")
        reach(prom, "min(count_over_time(cfha_remediation_info[1h])) >= 4", 60, "four scrapes")
        observe(prom, HEALTHY, seen)
        seen.timings[HEALTHY] = time.monotonic() - mark

        # degraded: stop-standby, a ban with a lifetime, and a slot nobody uses (a CFEngine
        # pair has no slots: only an abandoned one shows on the re-clone panel)
        mark = time.monotonic()
        standby = lab.inject("stop-standby").node
        primary = lab.primary()
        lab.psql(primary, "SELECT pg_create_physical_replication_slot(%s, true)", (SLOT,))
        lab.run(
            lab.primary(),
            ["crm_resource", "--ban", "--resource", "cfvirtip", "--node", standby,
             "--lifetime", "PT1H"],
            check=True,
        )  # fmt: skip
        reach(
            prom,
            'max(cfha_ha_degraded_reason{reason="replication_not_streaming"}) == 1 '
            "and on () max(cfha_pacemaker_failed_actions) > 0 "
            "and on () count(cfha_pacemaker_location_constraint_expiry_timestamp_seconds) "
            # the slot too: the degraded state was once judged a scrape before it was seen
            f'and on () count(cfha_pg_slot_retained_wal_bytes{{slot="{SLOT}"}})',
            90,
            "the degraded state in Prometheus",
        )
        observe(prom, DEGRADED, seen)
        seen.timings[DEGRADED] = time.monotonic() - mark

        # remediated: the standby's remediator cleans cfpgsql up, then has nothing left to do
        mark = time.monotonic()
        cleanup = {
            "alertname": "CfHaFailCountAtThreshold",
            "remediation": "resource_cleanup",
            "cfha_route": "remediator",  # the request copy (alerts/README.md)
            "severity": "info",
            "node": standby,
            "resource": "cfpgsql",
        }
        answers = {n: r.post_alert(cleanup) for n, r in remediators.items()}
        [job_id] = answers[standby]["accepted"]
        job = remediators[standby].wait_job(job_id)
        assert job["state"] == "succeeded", json.dumps(job, indent=1)[-3000:]
        [again] = remediators[standby].post_alert(cleanup)["accepted"]
        job = remediators[standby].wait_job(again)
        assert (job["state"], job["refused_by"]) == ("refused", "nothing_to_do"), job
        reach(
            prom,
            "count(cfha_remediation_last_success_timestamp_seconds) "
            'and on () sum(cfha_remediation_refusals_total{precondition="nothing_to_do"}) > 0',
            60,
            "the remediator's job and refusal in Prometheus",
        )
        observe(prom, REMEDIATED, seen)
        seen.timings[REMEDIATED] = time.monotonic() - mark
        yield seen
    finally:
        mark = time.monotonic()
        stack.close()
        for pid in pids:
            lab.stop_spawned(pid, timeout=40)
        drop_slot(lab)
        seen.timings["stop"] = time.monotonic() - mark
        mark = time.monotonic()
        lab.restore_healthy()
        seen.timings["restore"] = time.monotonic() - mark
        report(seen)


def drop_slot(lab: Lab) -> None:
    """The abandoned slot goes wherever it is (after a failover too): it would keep WAL forever."""
    for node in NODE_NAMES:
        with contextlib.suppress(psycopg.Error):  # a node that is down has none to drop
            lab.psql(
                node,
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = %s",
                (SLOT,),
            )


def report(seen: Observed) -> None:
    """What each query returned in each state, and the timings (shown with `pytest -s`)."""
    print("\nstates with data, per query:")
    for target in TARGETS:
        states = [
            s for s in (HEALTHY, DEGRADED, REMEDIATED) if s in seen.with_data.get(target.key, ())
        ]
        print(f"  {target.key}: {', '.join(states) or '-'}")
    print("timings (s):", {k: round(v, 1) for k, v in seen.timings.items()})


@pytest.mark.parametrize("panel", sorted(EXPECTED), ids=lambda key: f"{key[0]}/{key[1]}")
def test_panel_has_data_where_expected(observed: Observed, panel: tuple[str, str]) -> None:
    targets = [t for t in TARGETS if (t.board, t.panel) == panel]
    assert targets
    missing = {
        t.key: sorted(
            BY_QUERY.get((t.board, t.panel, t.ref_id), EXPECTED[panel])
            - observed.with_data.get(t.key, set())
        )
        for t in targets
    }
    missing = {key: states for key, states in missing.items() if states}
    assert not missing, f"no data in: {missing}"


def test_every_metric_used_was_scraped(observed: Observed) -> None:
    used = {name for t in TARGETS for name in metric_names(t.expr)}
    assert used - observed.scraped == set()
