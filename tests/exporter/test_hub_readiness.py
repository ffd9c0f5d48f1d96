"""The hub reader's parts for failover readiness, on a real PostgreSQL pair: Mission Portal's
horizon from cfsettings, each hub's HA inventory in cfdb, and the live hosts' keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusterstate.cfdb import HubFacts
from exporter.collectors.hub import HubCollector, HubConfig
from exporter.scrape import ScheduledCollector, Scraper
from lab.cfdb_plan import ha_info_text
from lab.offline.hubdata import HUBS, IP_OF, create_cfdb
from lab.offline.pgpair import PgPair
from servicekit.metrics import MetricWriter
from tests.support.metrics_text import sample_value, scrape_text

DB = "cfdb_ready"


@pytest.fixture(scope="module")
def pair(pg_pair: PgPair) -> PgPair:
    create_cfdb(pg_pair, DB, 40, rng_seed=11)
    pg_pair.psql(pg_pair.primary, "CREATE DATABASE cfsettings")
    pg_pair.psql(
        pg_pair.primary,
        "CREATE TABLE settings (key text PRIMARY KEY, value jsonb)",
        "GRANT SELECT ON settings TO PUBLIC",
        dbname="cfsettings",
    )
    inventory = {
        HUBS[0].hostkey: {
            "HA node state": "active",
            "HA node state extended": "PRI",
            "HA master IP": "10.250.99.100",
        },
        HUBS[1].hostkey: {"HA node state": "passive", "HA node state extended": "HS:alone"},
    }
    pg_pair.psql(
        pg_pair.primary,
        *(
            # the seed's HA master IP replaced: hub2 reports none
            f'UPDATE __inventory SET "values" = ("values" - \'HA master IP\') '
            f"|| '{json.dumps(v)}'::jsonb "
            f"WHERE hostkey = '{k}'"
            for k, v in inventory.items()
        ),
        dbname=DB,
    )
    pg_pair.wait_replayed()
    return pg_pair


def set_horizon(pair: PgPair, value: str | None) -> None:
    pair.psql(pair.primary, "DELETE FROM settings", dbname="cfsettings")
    if value is not None:
        pair.psql(
            pair.primary,
            f"INSERT INTO settings VALUES ('blueHostHorizon', '{value}'::jsonb)",
            dbname="cfsettings",
        )
    pair.wait_replayed()


def scrape(pair: PgPair, tmp_path: Path, node: str = "hub2", **config: Any) -> tuple[HubFacts, str]:
    ha_info = tmp_path / "ha_info.json"
    ha_info.write_text(ha_info_text(HUBS))
    server = pair.standby if node == "hub2" else pair.primary
    settings = HubConfig(conninfo=server.conninfo(dbname=DB), ha_info_path=ha_info, **config)
    collector = HubCollector(settings, node, local_addresses=lambda: frozenset({IP_OF[node]}))
    scraper = Scraper([ScheduledCollector(collector, 10.0)], node=node, cluster="cfcluster")
    result = scraper.scrape()
    scraper.close()
    facts = result.facts("hub", HubFacts)
    assert facts is not None and result.results["hub"].ok, result.results["hub"].message
    return facts, scrape_text(result)


@pytest.mark.parametrize(
    ("stored", "expected", "source"),
    [
        ("2400", 2400, "mission_portal"),
        ('"1800"', 1800, "mission_portal"),  # a JSON string holding the seconds
        ('"soon"', 900, "configured"),  # garbage: the configured value, never a failed scrape
        ("-5", 900, "configured"),
        (None, 900, "configured"),  # not set in Mission Portal
    ],
)
def test_horizon_from_mission_portal_else_configured(
    pair: PgPair, tmp_path: Path, stored: str | None, expected: int, source: str
) -> None:
    set_horizon(pair, stored)
    facts, text = scrape(pair, tmp_path)
    assert (facts.horizon_seconds, facts.horizon_source) == (expected, source)
    assert sample_value(text, "cfha_hub_horizon_seconds", node="hub2") == expected
    assert sample_value(text, "cfha_hub_horizon_source", node="hub2", state=source) == 1


def test_without_cfsettings_the_configured_horizon(pair: PgPair, tmp_path: Path) -> None:
    facts, _ = scrape(pair, tmp_path, settings_database="no_such_db", horizon_seconds=1200)
    assert (facts.horizon_seconds, facts.horizon_source) == (1200, "configured")
    facts, _ = scrape(pair, tmp_path, settings_database=None, horizon_seconds=600)
    assert (facts.horizon_seconds, facts.horizon_source) == (600, "configured")


def test_each_hubs_ha_inventory_by_attribute_name(pair: PgPair, tmp_path: Path) -> None:
    facts, text = scrape(pair, tmp_path)
    hub1, hub2 = facts.member("hub1"), facts.member("hub2")
    assert hub1 is not None and hub1.inventory is not None
    assert (hub1.inventory.state, hub1.inventory.state_extended, hub1.inventory.master_ip) == (
        "active",
        "PRI",
        "10.250.99.100",
    )
    assert hub2 is not None and hub2.inventory is not None
    assert (hub2.inventory.state_extended, hub2.inventory.master_ip) == ("HS:alone", None)
    assert sample_value(text, "cfha_hub_member_ha_state", node="hub1", state="active") == 1
    assert (
        sample_value(text, "cfha_hub_member_ha_state_extended", node="hub2", state="HS:alone") == 1
    )
    assert (
        sample_value(text, "cfha_hub_member_ha_master_ip_info", node="hub1", ip="10.250.99.100")
        == 1
    )
    assert sample_value(text, "cfha_hub_member_ha_master_ip_info", node="hub2") is None


def test_live_host_keys_follow_the_hosts(pair: PgPair, tmp_path: Path) -> None:
    facts, text = scrape(pair, tmp_path, node="hub1")
    assert facts.hostkeys is not None and facts.hosts is not None
    assert len(facts.hostkeys) == facts.hosts.live
    assert {h.hostkey for h in HUBS} <= facts.hostkeys
    assert sample_value(text, "cfha_hub_hostkeys_read", node="hub1") == facts.hosts.live


def test_host_keys_are_read_again_when_the_hosts_change(pair: PgPair, tmp_path: Path) -> None:
    ha_info = tmp_path / "ha_info.json"
    ha_info.write_text(ha_info_text(HUBS))
    settings = HubConfig(conninfo=pair.primary.conninfo(dbname=DB), ha_info_path=ha_info)
    collector = HubCollector(settings, "hub1", local_addresses=lambda: frozenset({IP_OF["hub1"]}))
    try:
        first = collector.collect(MetricWriter()).hostkeys
        again = collector.collect(MetricWriter()).hostkeys
        assert first is not None and again is first  # kept: the same object, no re-read
        new = "SHA=" + "ab" * 32
        pair.psql(
            pair.primary,
            f"INSERT INTO __hosts (hostkey, lastreporttimestamp) VALUES ('{new}', now())",
            dbname=DB,
        )
        after = collector.collect(MetricWriter()).hostkeys
        assert after is not None and after == first | {new}
    finally:
        pair.psql(pair.primary, f"DELETE FROM __hosts WHERE hostkey = 'SHA={'ab' * 32}'", dbname=DB)
        collector.close()
