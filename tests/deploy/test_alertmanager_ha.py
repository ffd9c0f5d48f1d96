"""Alertmanager in HA mode delivers the same alert more than once; the remediator acts once.

Two real Alertmanagers form a cluster on loopback (gossip on `--cluster.listen-address`, each the
other's `--cluster.peer`), both receive the same alert (as a Prometheus sends every alert to
every Alertmanager), and both deliver it to one real `cfha-remediator serve`, routed and
authenticated (bearer token, TLS) by the shipped deploy/config/alertmanager.yml and
deploy/config/remediator.yml. `--cluster.peer-timeout` is made
tiny so that the second peer does not wait for the first one's notification log to reach it:
the race that gossip delays, failed notifications and retries produce in production
(alertmanager#3865, #4108), made deterministic. The remediator's journal must hold exactly one job.
"""

from __future__ import annotations

import json
import shutil
import ssl
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.loopback import free_port
from tests.deploy.units import DEPLOY
from tests.support.daemons import Daemon, get_json, wait_for
from tests.support.tlsfiles import TlsFiles, make_tls_files

ALERTMANAGER = shutil.which("prometheus-alertmanager")
pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None, reason="prometheus-alertmanager (Debian package) is not installed"
)
TOKEN = "a-bearer-token-of-more-than-16-bytes"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Remediator:
    daemon: Daemon
    url: str
    context: ssl.SSLContext

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
            return json.load(response)


@pytest.fixture
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def remediator(tmp_path: Path, tls: TlsFiles) -> Iterator[Remediator]:
    """deploy/config/remediator.yml on loopback: only its paths and address are changed."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(0o600)
    port = free_port()
    config = yaml.safe_load((DEPLOY / "config/remediator.yml").read_text())
    assert config["dry_run"] is True  # decide, plan and journal; never touch a cluster
    config.update(
        journal=str(tmp_path / "remediator.db"),
        kill_switch_file=str(tmp_path / "remediator.paused"),
    )
    config["web"].update(
        listen_address=f"127.0.0.1:{port}",
        token_file=str(tmp_path / "token"),
        tls={"certfile": str(tls.server_cert), "keyfile": str(tls.server_key)},
    )
    (tmp_path / "remediator.yml").write_text(yaml.safe_dump(config))
    argv = [str(VENV_BIN / "cfha-remediator"), f"--config.file={tmp_path / 'remediator.yml'}"]
    argv.append("serve")
    daemon = Daemon("cfha-remediator", argv, tmp_path / "remediator.log").start()
    url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    try:
        wait_for(lambda: healthy(f"{url}/healthz", context), f"the remediator\n{daemon.output()}")
        yield Remediator(daemon, url, context)
    finally:
        daemon.stop()


def healthy(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def alertmanager_config(directory: Path, webhook_url: str, ca_file: Path) -> Path:
    """deploy/config/alertmanager.yml, pointed at this test's remediator, on a faster clock.

    Changed: hub1's webhook URL, the token and CA files' paths, hub2's webhook dropped (one
    remediator here), the other receivers emptied (no traffic off loopback), group_wait and
    group_interval of the remediation route shortened (1 s instead of 30 s / 2 min). Everything
    else — routing, grouping, send_resolved, bearer token, TLS — is the shipped file.
    """
    config = yaml.safe_load((DEPLOY / "config/alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    webhook = receivers["cfha-remediator"]["webhook_configs"][0]
    receivers["cfha-remediator"]["webhook_configs"] = [webhook]
    webhook["url"] = webhook_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(directory / "token")
    webhook["http_config"]["tls_config"]["ca_file"] = str(ca_file)
    config["receivers"] = [
        r if name == "cfha-remediator" else {"name": name} for name, r in receivers.items()
    ]
    for route in config["route"].get("routes", []):
        if route.get("receiver") == "cfha-remediator":
            route.update(group_wait="1s", group_interval="1s")
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_peer(
    directory: Path, name: str, config: Path, gossip: int, peer: int
) -> tuple[Daemon, str]:
    assert ALERTMANAGER is not None
    port = free_port()
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={directory / name}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--cluster.listen-address=127.0.0.1:{gossip}",
        f"--cluster.peer=127.0.0.1:{peer}",
        "--cluster.peer-timeout=1ms",
        "--cluster.settle-timeout=2s",
    ]
    return Daemon(name, argv, directory / f"{name}.log").start(), f"http://127.0.0.1:{port}"


def cluster_size(url: str) -> int:
    return len(get_json(f"{url}/api/v2/status")["cluster"]["peers"])


def post_alert(url: str, alert: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def webhook_notifications(url: str, metric: str = "alertmanager_notifications_total") -> float:
    """Webhook notifications this Alertmanager sent (or, with the failed metric, lost)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(f'{metric}{{integration="webhook"'):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_clustered_alertmanagers_deliver_twice_and_one_job_exists(
    remediator: Remediator, tmp_path: Path, tls: TlsFiles
) -> None:
    config = alertmanager_config(tmp_path, f"{remediator.url}/webhook", tls.ca_cert)
    gossip_a, gossip_b = free_port(), free_port()
    peers = [
        start_peer(tmp_path, "am-a", config, gossip_a, gossip_b),
        start_peer(tmp_path, "am-b", config, gossip_b, gossip_a),
    ]
    try:
        urls = [url for _, url in peers]
        wait_for(  # gossiping with each other: each lists both members
            lambda: all(cluster_size(u) == 2 for u in urls),
            f"the Alertmanager cluster\n{peers[0][0].output()}\n{peers[1][0].output()}",
        )
        starts_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        alert = {
            "labels": {
                "alertname": "CfHaFailCountAtThreshold",
                "cluster": "cfcluster",
                "node": "hub1",
                "resource": "cfpgsql",
                "severity": "info",
                "remediation": "resource_cleanup",
                "cfha_route": "remediator",  # the request copy (alerts/README.md)
            },
            "annotations": {"summary": "cfpgsql reached its migration threshold on hub1"},
            "startsAt": starts_at,
        }
        for url in urls:  # what Prometheus does: every alert to every Alertmanager
            post_alert(url, alert)

        deliveries = wait_for(
            lambda: (n := sum(webhook_notifications(u) for u in urls)) >= 2 and n,
            "both Alertmanagers to deliver the alert",
        )
        jobs = remediator.api("/api/jobs")["jobs"]
        assert len(jobs) == 1, jobs
        events = [a["event"] for a in remediator.api("/api/audit?limit=100")["audit"]]
        assert events.count("accepted") == 1, events
        assert events.count("duplicate") == deliveries - 1, events

        # Resolved, as Prometheus reports it to both: both deliver it again, still one job.
        resolved = {**alert, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for url in urls:
            post_alert(url, resolved)
        wait_for(
            lambda: sum(webhook_notifications(u) for u in urls) >= deliveries + 2,
            "both Alertmanagers to deliver the resolution",
        )
        assert len(remediator.api("/api/jobs")["jobs"]) == 1
        failed = "alertmanager_notifications_failed_total"
        assert sum(webhook_notifications(u, failed) for u in urls) == 0
        events = [a["event"] for a in remediator.api("/api/audit?limit=100")["audit"]]
        assert events.count("resolved") >= 2 and events.count("accepted") == 1, events
    finally:
        for daemon, _ in peers:
            daemon.stop()
