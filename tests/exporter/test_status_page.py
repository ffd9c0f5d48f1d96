"""The status page and /api/status on a real PostgreSQL pair with a seeded cfdb, in Chromium.

The exporter here runs every collector that needs no pacemaker (postgres, hub, cfengine) and the
verdict, as on a hub; the live-lab version of these tests is in tests/lab/test_hub_lab.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from werkzeug.test import Client

from exporter.collectors.cfengine import CfengineCollector, CfengineConfig
from exporter.collectors.hub import HubCollector, HubConfig
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.collectors.verdict_reasons import CODES
from exporter.scrape import Collector, ScheduledCollector, Scraper
from exporter.web.app import create_app
from exporter.web.filters import ago, size, utc
from exporter.web.wsgi import WSGIApp
from lab.loopback import free_port
from lab.offline.hubdata import HUBS, create_cfdb, write_workdir
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from tests.support import browser
from tests.support.exporter_page import serving
from tests.support.hubscrape import hub_scraper
from tests.support.pgskip import newest_pg

STATUS_KEYS = {
    "schema", "cluster", "node", "version", "observed_at", "observed_age_seconds", "status",
    "checked", "reasons", "unchecked", "hubs", "mission_portal", "readiness", "replication",
    "diagnosis", "reports", "collectors", "links",
}  # fmt: skip


@dataclass
class Exporter:
    app: WSGIApp
    scraper: Scraper
    url: str


@pytest.fixture(scope="module")
def pg() -> PgInstall:
    """One major: the page renders facts that are the same on every major (test_pg_versions
    compares them), and a second Chromium run would cost seconds for nothing new."""
    return newest_pg()


@pytest.fixture(scope="module")
def hub_pair(pg_pair: PgPair, tmp_path_factory: pytest.TempPathFactory) -> tuple[PgPair, Path]:
    create_cfdb(pg_pair, "cfdb", 120, rng_seed=9)
    return pg_pair, write_workdir(tmp_path_factory.mktemp("cfengine"))


@pytest.fixture
def exporter(hub_pair: tuple[PgPair, Path]) -> Iterator[Exporter]:
    pair, work = hub_pair
    scraper = hub_scraper(pair, work)
    with serving(scraper) as (app, url):
        yield Exporter(app, scraper, url)


def api(exporter: Exporter) -> dict[str, Any]:
    response = Client(exporter.app).get("/api/status")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert isinstance(data, dict)
    return data


def test_api_status_healthy(exporter: Exporter) -> None:
    doc = api(exporter)
    assert set(doc) == STATUS_KEYS
    assert doc["schema"] == 1 and doc["node"] == "hub1" and doc["cluster"] == "cfcluster"
    assert doc["status"] == "ok" and doc["reasons"] == []
    assert doc["checked"] + len(doc["unchecked"]) == len(CODES)
    # Without pacemaker in this test, its reasons are listed as not checked, never as OK.
    assert "quorum_lost" in {u["code"] for u in doc["unchecked"]}
    hubs = {h["node"]: h for h in doc["hubs"]}
    assert hubs["hub1"]["role"] == "active" and hubs["hub1"]["local"]
    assert hubs["hub2"]["role"] == "passive" and not hubs["hub2"]["local"]
    for hub in HUBS:
        entry = hubs[hub.name]
        assert entry["ip"] == hub.ip and entry["state_stale"] is False
        assert entry["state_as_of"] is not None and 0 <= entry["state_age_seconds"] < 900
    assert doc["replication"]["role"] == "primary"
    assert [s["name"] for s in doc["replication"]["standbys"]] == ["hub2"]
    assert doc["reports"]["hosts"] > 0 and doc["reports"]["missing_schema"] == []
    assert [c["name"] for c in doc["collectors"]] == ["cfengine", "hub", "postgres", "verdict"]
    assert all(c["ok"] for c in doc["collectors"])
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN/Infinity anywhere


def test_page_views_reuse_the_last_scrape(exporter: Exporter) -> None:
    client = Client(exporter.app)
    first = client.get("/api/status").get_json()["observed_at"]
    assert client.get("/").status_code == 200
    assert client.get("/api/status").get_json()["observed_at"] == first
    Client(exporter.app).get("/metrics")  # Prometheus scrapes: the page shows that one
    assert client.get("/api/status").get_json()["observed_at"] > first


def test_page_in_chromium_healthy_then_degraded(
    exporter: Exporter, hub_pair: tuple[PgPair, Path]
) -> None:
    if browser.chromium_path() is None:
        pytest.skip("chromium (Debian package chromium) is not installed")
    pair, _ = hub_pair
    Client(exporter.app).get("/metrics")
    dom = browser.dump_dom(exporter.url)
    assert '<span class="badge" id="badge">✓ OK</span>' in dom
    assert 'data-node="hub1" data-role="active"' in dom
    assert 'data-node="hub2" data-role="passive"' in dom
    assert 'id="reasons"' not in dom
    browser.screenshot(exporter.url, "status-healthy-desktop", browser.DESKTOP)
    browser.screenshot(exporter.url, "status-healthy-phone", browser.PHONE)

    pair.stop_standby()
    try:
        Client(exporter.app).get("/metrics")  # the next scrape after the failure
        doc = api(exporter)
        assert doc["status"] == "degraded"
        assert "replication_not_streaming" in {r["code"] for r in doc["reasons"]}
        dom = browser.dump_dom(exporter.url)
        assert '<span class="badge" id="badge">⚠ DEGRADED</span>' in dom
        assert 'data-code="replication_not_streaming"' in dom
        assert "Database replication is not streaming" in dom
        assert "standby hub2 is disconnected" in dom
        browser.screenshot(exporter.url, "status-degraded-desktop", browser.DESKTOP)
        browser.screenshot(exporter.url, "status-degraded-phone", browser.PHONE)
    finally:
        pair.start_standby()
        pair.wait_replayed()


def test_page_without_any_observation_still_renders(tmp_path: Path) -> None:
    """Nothing reachable: 200, DEGRADED with reasons, never an error page."""
    dead = f"host=127.0.0.1 port={free_port()} user=x dbname=cfdb"
    collectors: list[Collector] = [
        PostgresCollector(PostgresConfig(conninfo=dead), "hub2"),
        HubCollector(HubConfig(conninfo=dead, ha_info_path=tmp_path / "none.json"), "hub2"),
        CfengineCollector(CfengineConfig(workdir=tmp_path / "none"), "hub2"),
    ]
    scraper = Scraper(
        [ScheduledCollector(c, 10.0) for c in collectors],
        [VerdictCollector(VerdictConfig(), "hub2")],
        node="hub2",
        cluster="cfcluster",
    )
    try:
        client = Client(create_app(scraper, CollectorRegistry()))
        page = client.get("/")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert (
            "DEGRADED" in text and "This hub&#39;s PostgreSQL does not accept connections" in text
        )
        doc = client.get("/api/status").get_json()
        codes = {r["code"] for r in doc["reasons"]}
        assert {"database_down", "collector_failed", "replication_not_streaming"} <= codes
        replication = doc["replication"]
        assert replication["up"] is False and replication["role"] is None
        assert replication["lag_seconds"] is None and replication["standbys"] == []
        assert doc["reports"] is None
        assert [h["role"] for h in doc["hubs"]] == ["unknown"]
    finally:
        scraper.close()


def test_without_the_verdict_the_status_is_unknown(hub_pair: tuple[PgPair, Path]) -> None:
    pair, work = hub_pair
    scraper = hub_scraper(pair, work, node="hub2", verdict=False)
    try:
        client = Client(create_app(scraper, CollectorRegistry()))
        assert client.get("/api/status").get_json()["status"] == "unknown"
        assert "? UNKNOWN" in client.get("/").get_data(as_text=True)
    finally:
        scraper.close()


def test_the_page_refreshes_itself_and_has_no_external_assets(exporter: Exporter) -> None:
    html = Client(exporter.app).get("/").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="15">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert "url(" not in html and "@import" not in html
    assert "<script" not in html and "<link" not in html and "<img" not in html


def test_formatting_filters() -> None:
    assert [ago(None), ago(5), ago(89), ago(90), ago(600), ago(7200), ago(3 * 86400)] == [
        "unknown", "5 s", "89 s", "2 min", "10 min", "2 h", "3 d",
    ]  # fmt: skip
    assert [size(None), size(0), size(2048), size(64 * 2**20), size(5 * 2**40)] == [
        "unknown", "0 B", "2.0 KiB", "64.0 MiB", "5120.0 GiB",
    ]  # fmt: skip
    assert [utc(None), utc(0), utc(1795559561.9)] == [
        "never", "1970-01-01 00:00:00 UTC", "2026-11-24 22:32:41 UTC",
    ]  # fmt: skip
