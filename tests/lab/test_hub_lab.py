"""The HA verdict and the status page on the live two-hub lab: healthy is OK on both hubs, and
`stop-standby` is DEGRADED with the replication reason at the first scrape after it.

An exporter runs inside each hub (its own network, mount and UTS namespaces, so it reads that
hub's PostgreSQL socket, /var/cfengine and pacemaker exactly as on a real hub) and is reached
through the lab's loopback forwards. The lab has no cf-hub: the test plays its collection of
the two hubs' own reports, which is what "state as of" shows.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter.collectors.verdict_reasons import CODES
from lab.cluster import Lab
from tests.support import browser
from tests.support.metrics_text import sample_value

pytestmark = pytest.mark.lab

EXPORTER_PORT = 19732  # inside each hub's network namespace


@dataclass(frozen=True)
class HubExporter:
    node: str
    pid: int
    url: str  # http://127.0.0.1:<forwarded port>/

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=20) as response:
            body: bytes = response.read()
            return body

    def scrape(self) -> str:
        """One Prometheus scrape: the verdict it publishes is the one the page shows."""
        return self.get("metrics").decode()

    def status(self) -> dict[str, Any]:
        data = json.loads(self.get("api/status"))
        assert isinstance(data, dict)
        return data


def exporter_config(lab: Lab, node: str) -> str:
    spec = lab.node(node)
    return textwrap.dedent(
        f"""\
        cluster: cfcluster
        node: {node}
        web:
          listen_address: "127.0.0.1:{EXPORTER_PORT}"
        collectors:
          postgres:
            conninfo: "{spec.pg_dsn("cfdb")}"
            expected_standbys: [{lab.other(node)}]
        """
    )


def wait_until_serving(exporter: HubExporter, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            exporter.get("healthz")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def exporters(healthy_lab: Lab, tmp_path: Path) -> Iterator[dict[str, HubExporter]]:
    lab = healthy_lab
    started: dict[str, HubExporter] = {}
    try:
        for node in lab.node_names:
            config = tmp_path / f"{node}.yml"
            config.write_text(exporter_config(lab, node))
            argv = [sys.executable, "-m", "exporter", "--config.file", str(config),
                    "--log.level", "warn"]  # fmt: skip
            pid = lab.spawn(node, argv, log_path=tmp_path / f"exporter-{node}.log")
            started[node] = HubExporter(node, pid, "")  # stopped in `finally` even if not reached
            port = lab.forward(node, EXPORTER_PORT)
            started[node] = HubExporter(node, pid, f"http://127.0.0.1:{port}/")
            wait_until_serving(started[node])
        yield started
    finally:
        for exporter in started.values():
            lab.stop_spawned(exporter.pid)
        lab.restore_healthy()


def play_cf_hub(lab: Lab) -> None:
    """cf-hub on the active hub collects both hubs' own reports every 5 minutes."""
    keys = [lab.node(n).hostkey for n in lab.node_names]
    lab.psql(lab.primary(), "UPDATE __hosts SET lastreporttimestamp = now() "
             "WHERE hostkey = ANY(%s)", (keys,))  # fmt: skip


def wait_replayed(lab: Lab, timeout: float = 30.0) -> None:
    standby = lab.standby()
    deadline = time.monotonic() + timeout
    while True:
        rows = lab.psql(
            standby, "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()", db="cfdb"
        )
        if rows == [(True,)] or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def reasons(text: str, node: str) -> set[str]:
    found = set()
    for line in text.splitlines():
        if line.startswith("cfha_ha_degraded_reason{") and line.endswith(" 1.0"):
            labels = line[line.index("{") + 1 : line.index("}")]
            fields = dict(part.split("=", 1) for part in labels.split(","))
            assert fields["node"] == f'"{node}"'
            found.add(fields["reason"].strip('"'))
    return found


def test_healthy_lab_is_ok_on_both_hubs_then_stop_standby_degrades(
    healthy_lab: Lab, exporters: dict[str, HubExporter]
) -> None:
    lab = healthy_lab
    primary, standby = lab.primary(), lab.standby()
    play_cf_hub(lab)
    wait_replayed(lab)
    for node, exporter in exporters.items():
        text = exporter.scrape()
        assert reasons(text, node) == set(), f"{node}: {exporter.status()['reasons']}"
        assert sample_value(text, "cfha_ha_degraded", node=node) == 0
        doc = exporter.status()
        assert doc["status"] == "ok" and doc["node"] == node
        # Every collector runs on a real hub: every reason is checked, none is merely unknown.
        assert doc["unchecked"] == [] and doc["checked"] == len(CODES)
        roles = {h["node"]: h["role"] for h in doc["hubs"]}
        assert roles == {primary: "active", standby: "passive"}
        assert all(h["state_stale"] is False for h in doc["hubs"])
    shots = browser.chromium_path() is not None
    if shots:
        url = exporters[primary].url
        assert "✓ OK" in browser.dump_dom(url)
        browser.screenshot(url, "lab-healthy-desktop", browser.DESKTOP)
        browser.screenshot(url, "lab-healthy-phone", browser.PHONE)

    lab.inject("stop-standby")
    # Within one scrape: the first scrape after the failure already says why.
    text = exporters[primary].scrape()
    assert sample_value(text, "cfha_ha_degraded", node=primary) == 1
    assert "replication_not_streaming" in reasons(text, primary)
    text = exporters[standby].scrape()
    assert sample_value(text, "cfha_ha_degraded", node=standby) == 1
    assert "replication_not_streaming" in reasons(text, standby)
    doc = exporters[primary].status()
    assert doc["status"] == "degraded"
    held = {r["code"]: r for r in doc["reasons"]}
    assert f"standby {standby} is disconnected" in held["replication_not_streaming"]["details"]
    if shots:
        url = exporters[primary].url
        dom = browser.dump_dom(url)
        assert "⚠ DEGRADED" in dom and 'data-code="replication_not_streaming"' in dom
        browser.screenshot(url, "lab-degraded-desktop", browser.DESKTOP)
        browser.screenshot(url, "lab-degraded-phone", browser.PHONE)
        browser.screenshot(exporters[standby].url, "lab-degraded-standby-desktop", browser.DESKTOP)
