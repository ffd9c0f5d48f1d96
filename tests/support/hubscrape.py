"""The exporter as on a hub, on an offline PostgreSQL pair and CFEngine work directory."""

from __future__ import annotations

from pathlib import Path

from exporter.collectors.cfengine import HA_INFO, CfengineCollector, CfengineConfig
from exporter.collectors.hub import HubCollector, HubConfig
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.scrape import Collector, ScheduledCollector, Scraper
from lab.offline.hubdata import IP_OF
from lab.offline.pgpair import PgPair


def hub_scraper(pair: PgPair, work: Path, node: str = "hub1", verdict: bool = True) -> Scraper:
    """The exporter as on a hub, less pacemaker and corosync: postgres, hub and cfengine
    collectors on `node`'s server of the pair (hub1 the primary, hub2 the standby), the verdict."""
    server = pair.primary if node == "hub1" else pair.standby
    local = frozenset({IP_OF[node]})
    collectors: list[Collector] = [
        PostgresCollector(
            PostgresConfig(conninfo=server.conninfo(), expected_standbys=["hub1", "hub2"]), node
        ),
        HubCollector(
            HubConfig(conninfo=server.conninfo(dbname="cfdb"), ha_info_path=work / HA_INFO),
            node,
            local_addresses=lambda: local,
        ),
        CfengineCollector(CfengineConfig(workdir=work), node, local_addresses=lambda: local),
    ]
    derived = [VerdictCollector(VerdictConfig(), node)] if verdict else []
    return Scraper(
        [ScheduledCollector(c, 10.0) for c in collectors], derived, node=node, cluster="cfcluster"
    )
