"""The status page beside Mission Portal's own view, in headless Chromium.

Pacemaker is read with the real tools from a saved CIB (CIB_file): hub1 primary, hub2's agent
status HS:alone with its data DISCONNECT, which cfha calls DEGRADED (not streaming) while Mission
Portal, by ha.cfg's mapping, shows OK with hub2 passive. ha.cfg and ha_info.json are real files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from exporter.collectors.cfengine import CfengineCollector, CfengineConfig
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig
from exporter.collectors.readiness import ReadinessCollector, ReadinessConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.scrape import Collector, DerivedCollector, ScheduledCollector, Scraper
from lab.offline.cibstates import PCMK_TZ, CibStates, run_tool
from lab.offline.hubdata import IP_OF, write_workdir
from tests.support import browser
from tests.support.exporter_page import serving
from tests.support.runners import CibFileRunner


def hs_alone(cib_states: CibStates, target: Path) -> Path:
    """The healthy CIB with hub2's standby cut off: HS:alone, DISCONNECT (what the agent writes
    when its standby sees no primary)."""
    shutil.copyfile(cib_states.healthy(), target)
    for name, value, lifetime in (
        ("cfpgsql-status", "HS:alone", "reboot"),
        ("cfpgsql-data-status", "DISCONNECT", "forever"),
    ):
        run_tool(
            [
                "crm_attribute",
                "--node",
                "hub2",
                "--name",
                name,
                f"--update={value}",
                "--lifetime",
                lifetime,
            ],
            cib=target,
        )
    return target


@pytest.fixture
def page(cib_states: CibStates, tmp_path: Path) -> Iterator[tuple[str, Client]]:
    cib = hs_alone(cib_states, tmp_path / "hs-alone.xml")
    work = write_workdir(tmp_path / "cfengine", master_ip=IP_OF["hub1"])
    local = frozenset({IP_OF["hub1"]})
    collectors: list[Collector] = [
        PacemakerCollector(PacemakerConfig(time_zone=PCMK_TZ), "hub1", CibFileRunner(cib)),
        CfengineCollector(CfengineConfig(workdir=work), "hub1", local_addresses=lambda: local),
    ]
    derived: list[DerivedCollector] = [
        PgsqlAgentCollector(
            PgsqlAgentConfig(lock_path=str(tmp_path / "PGSQL.lock")), "hub1", "cfpgsql"
        ),
        ReadinessCollector(ReadinessConfig(), "hub1"),
        VerdictCollector(VerdictConfig(), "hub1"),
    ]
    scraper = Scraper(
        [ScheduledCollector(c, 10.0) for c in collectors], derived, node="hub1", cluster="cfcluster"
    )
    with serving(scraper) as (app, url):
        yield url, Client(app)


def test_both_verdicts_side_by_side(page: tuple[str, Client]) -> None:
    url, client = page
    doc = client.get("/api/status").get_json()
    assert doc["status"] == "degraded"
    assert "replication_not_streaming" in {r["code"] for r in doc["reasons"]}
    portal = doc["mission_portal"]
    assert portal["summary"] == "OK, hub1 active, hub2 passive"
    assert portal["agrees"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'cfha_mission_portal_degraded{cluster="cfcluster",node="hub1"} 0.0' in metrics
    assert 'cfha_ha_degraded{cluster="cfcluster",node="hub1"} 1.0' in metrics
    if browser.chromium_path() is None:
        pytest.skip("chromium (Debian package chromium) is not installed")
    dom = browser.dump_dom(url)
    assert '<span class="badge" id="badge">⚠ DEGRADED</span>' in dom
    assert 'id="mission-portal" data-status="ok"' in dom
    assert "Mission Portal would show: <b>OK</b>, hub1 active, hub2 passive." in dom
    assert "cfha is stricter: Mission Portal counts HS:alone as passive" in dom
    assert 'data-code="replication_not_streaming"' in dom
    browser.screenshot(url, "status-mission-portal-desktop", browser.DESKTOP)
    browser.screenshot(url, "status-mission-portal-phone", browser.PHONE)
