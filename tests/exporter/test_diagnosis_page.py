"""The diagnosis as the exporter publishes it (metrics, /api/status, the page in Chromium), on a
real primary and standby whose primary rejects the standby for real (pg_hba.conf).

FAKE, and why: pacemaker cannot run outside the lab, so a stand-in collector returns the
pacemaker facts a CFEngine pair would have (hub1 promoted; the pgsql resource's parameters
pointing at this pair). Everything else is real: the postgres collector reads the standby, the
diagnosis reads its log, pg_controldata and the handshake. The live lab shows the same with a real
pacemaker (tests/e2e).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from werkzeug.test import Client

from clusterstate.pacemaker_state import PacemakerState
from clusterstate.tools import SubprocessRunner
from exporter.collectors.diagnosis import DiagnosisCollector, DiagnosisConfig
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.scrape import ScheduledCollector, Scraper
from exporter.web.wsgi import WSGIApp
from lab.offline.clusterstates import pacemaker, pair_params
from lab.offline.pgpair import PgPair
from servicekit.metrics import MetricSpec, MetricWriter
from tests.support import browser, pgcapture
from tests.support.exporter_page import serving
from tests.support.metrics_text import sample_value, samples

DEADLINE = 30.0


class PacemakerStandIn:
    """The pacemaker collector's facts for this pair (see the module docstring)."""

    name: ClassVar[str] = "pacemaker"
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()

    def __init__(self, pair: PgPair) -> None:
        self.state = pacemaker("hub2", pgsql=pair_params(pair))

    def collect(self, out: MetricWriter) -> PacemakerState:
        return self.state


@pytest.fixture
def exporter(pg_pair: PgPair) -> Iterator[tuple[WSGIApp, str]]:
    pg_pair.psql(
        pg_pair.standby,
        "ALTER SYSTEM SET wal_retrieve_retry_interval = '1s'",
        "SELECT pg_reload_conf()",
    )
    scraper = Scraper(
        [
            ScheduledCollector(
                PostgresCollector(PostgresConfig(conninfo=pg_pair.standby.conninfo()), "hub2"), 10
            ),
            ScheduledCollector(PacemakerStandIn(pg_pair), 10),
        ],
        [
            DiagnosisCollector(DiagnosisConfig(), "hub2", SubprocessRunner()),
            VerdictCollector(VerdictConfig(), "hub2"),
        ],
        node="hub2",
        cluster="cfcluster",
    )
    with serving(scraper) as served:
        yield served


def scrape(app: WSGIApp) -> tuple[str, dict[str, Any]]:
    """A fresh scrape's exposition, and /api/status of that scrape."""
    text = Client(app).get("/metrics").get_data(as_text=True)
    doc = Client(app).get("/api/status").get_json()
    assert isinstance(doc, dict)
    return text, doc


def test_the_cause_in_metrics_api_and_page(exporter: tuple[WSGIApp, str], pg_pair: PgPair) -> None:
    app, url = exporter
    text, doc = scrape(app)
    assert doc["diagnosis"] is None
    assert {v for _, v in samples(text, "cfha_pg_standby_cause", node="hub2")} == {0.0}
    assert samples(text, "cfha_pg_standby_diagnosis_info") == []
    assert sample_value(text, "cfha_pg_replication_handshake_ok") is None

    with pgcapture.rejecting(pg_pair):
        deadline = time.monotonic() + DEADLINE
        while True:
            text, doc = scrape(app)
            found = doc["diagnosis"]
            if found is not None and found["source"] == "server_log":
                break
            assert time.monotonic() < deadline, f"not diagnosed from the log: {found}"
            time.sleep(0.5)
        assert found["cause"] == "auth_rejected"
        assert "pg_hba.conf rejects replication connection" in found["evidence"]
        assert found["runbook"] == "alerts/runbooks/causes/auth_rejected.md"
        assert found["handshake_ok"] is False
        assert sample_value(text, "cfha_pg_standby_cause", state="auth_rejected") == 1.0
        assert sample_value(text, "cfha_pg_standby_cause", state="wal_removed") == 0.0
        [(labels, _)] = samples(text, "cfha_pg_standby_diagnosis_info")
        assert labels["cause"] == "auth_rejected" and labels["source"] == "server_log"
        assert labels["evidence"] == found["evidence"]
        assert sample_value(text, "cfha_pg_replication_handshake_ok") == 0.0
        [reason] = [r for r in doc["reasons"] if r["code"] == "replication_not_streaming"]
        assert any(d.startswith("cause on hub2: auth_rejected") for d in reason["details"])
        if browser.chromium_path() is not None:
            dom = browser.dump_dom(url)
            assert 'id="diagnosis"' in dom and "<strong>auth_rejected</strong>" in dom
            assert "pg_hba.conf rejects replication connection" in dom
            browser.screenshot(url, "status-diagnosis-desktop", browser.DESKTOP)
    pg_pair.wait_streaming()
