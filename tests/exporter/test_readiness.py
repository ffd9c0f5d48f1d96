"""Failover readiness: the rules of `readiness_model` on hand-made facts, and the collectors
(`cfengine`, `keys`, `mission_portal`, `daemons`, `hub`, `disk`, then `readiness` and the verdict)
on a real work directory and a real PostgreSQL pair with a seeded cfdb."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine_keys import KeyDirectory, TrustKeys
from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.cfengine_files import HUB_KEY_BYTES, HaCfg, HaHub
from exporter.collectors.cfengine import CfengineCollector, CfengineConfig
from exporter.collectors.daemons import DaemonsCollector, DaemonsConfig
from exporter.collectors.disk import DiskCollector, DiskConfig
from exporter.collectors.hub import HubCollector, HubConfig
from exporter.collectors.keys import KeysCollector, KeysConfig
from exporter.collectors.mission_portal import MissionPortalCollector, MissionPortalConfigSettings
from exporter.collectors.readiness import ReadinessCollector, ReadinessConfig
from exporter.collectors.readiness_model import (
    ClientKeyCounter,
    ReadinessFacts,
    hub_keys,
    mission_portal_view,
)
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.collectors.verdict_model import Verdict
from exporter.scrape import Collector, DerivedCollector, ScheduledCollector, Scraper
from lab import cfdb
from lab.offline import clusterstates as states
from lab.offline.hubdata import HUBS, IP_OF, create_cfdb, write_workdir
from lab.offline.pgpair import PgPair
from tests.exporter.verdict_facts import IP, SHA, files, hub_facts, member
from tests.support.metrics_text import sample_value, scrape_text
from tests.support.unprivileged import as_nobody, open_directory


def trust(clients: frozenset[str], hub_sizes: dict[str, int]) -> TrustKeys:
    return TrustKeys(
        ppkeys=KeyDirectory("ppkeys", True, clients),
        ppkeys_hubs=KeyDirectory("ppkeys_hubs", True, frozenset(hub_sizes), hub_sizes),
    )


# -- the rules ---------------------------------------------------------------------------------
def test_hub_keys_by_presence_and_size() -> None:
    keys = trust(frozenset(), {f"SHA={SHA['hub1']}": HUB_KEY_BYTES, f"SHA={SHA['hub2']}": 427})
    found = hub_keys(files(), keys)
    assert [(k.hub_ip, k.state) for k in found or ()] == [
        (IP["hub1"], "ok"),
        (IP["hub2"], "wrong_size"),
    ]
    assert [k.state for k in hub_keys(files(), trust(frozenset(), {})) or ()] == ["missing"] * 2
    assert hub_keys(files(ha_info_json="invalid"), keys) is None


def test_client_keys_missing_and_the_answer_kept_while_nothing_changed() -> None:
    hubs = (HaHub(IP["hub1"], SHA["hub1"], None, True),)
    hub_key = f"SHA={SHA['hub1']}"
    clients = frozenset({f"SHA={n:064x}" for n in range(5)})
    cfdb_hosts = clients | {hub_key, f"SHA={99:064x}"}
    hub = dataclasses.replace(hub_facts(), hostkeys=cfdb_hosts)
    keys = trust(clients | {hub_key}, {})
    counter = ClientKeyCounter()
    first = counter.count(hubs, keys, hub)
    assert first is not None and (first.trusted, first.missing) == (5, 1)
    assert counter.count(hubs, keys, hub) is first  # the same sets: no set arithmetic again
    down = counter.count(hubs, keys, HubFacts(up=False))
    assert down is not None and down.missing is None  # cfdb unknown: missing unknown, not 0
    assert counter.count(None, keys, hub) is None


def pacemaker(agents: dict[str, tuple[str | None, str | None]]) -> PacemakerState:
    return states.pacemaker("hub1", agents=agents)


def test_mission_portals_view() -> None:
    hub = hub_facts(member("hub1"), member("hub2", 60))
    healthy = pacemaker({"hub1": ("PRI", "LATEST"), "hub2": ("HS:async", "STREAMING|ASYNC")})
    view = mission_portal_view(files(), healthy, hub)
    assert view is not None and not view.degraded
    assert view.summary == "OK, hub1 active, hub2 passive"
    # HS:alone is passive to Mission Portal: still OK, where cfha says not streaming.
    alone = pacemaker({"hub1": ("PRI", "LATEST"), "hub2": ("HS:alone", "DISCONNECT")})
    assert mission_portal_view(files(), alone, hub).summary == "OK, hub1 active, hub2 passive"  # type: ignore[union-attr]
    stopped = pacemaker({"hub1": ("PRI", "LATEST"), "hub2": ("STOP", "DISCONNECT")})
    assert mission_portal_view(files(), stopped, hub).summary == (  # type: ignore[union-attr]
        "DEGRADED, hub1 active, hub2 unknown"
    )
    # A hub whose own report is beyond the horizon is unknown there ("state as of").
    stale = hub_facts(member("hub1"), member("hub2", 1000))
    assert mission_portal_view(files(), healthy, stale).summary == (  # type: ignore[union-attr]
        "DEGRADED, hub1 active, hub2 unknown"
    )
    strict = dataclasses.replace(files(), ha_cfg=HaCfg("PRI", ("HS:async",), "x"))
    assert mission_portal_view(strict, alone, hub).degraded  # type: ignore[union-attr]
    assert mission_portal_view(dataclasses.replace(files(), ha_cfg=None), healthy, hub) is None
    assert mission_portal_view(files(), None, hub) is None


# -- the collectors together -------------------------------------------------------------------
def hub_workdir(base: Path, plan: cfdb.SeedPlan, node: str, leave_out: int) -> Path:
    """hub2's work directory: the HA files, cf-serverd's pid file, Mission Portal's files, and
    the keys of every live cfdb host but `leave_out`, hub2's own hub key missing."""
    write_workdir(base, master_ip=IP_OF["hub1"])
    (base / "state/pg/data").mkdir(parents=True)
    live = [
        row[0] for row in plan.hosts if row[6] is None and row[0] not in {h.hostkey for h in HUBS}
    ]
    ppkeys = base / "ppkeys"
    ppkeys.mkdir()
    for hostkey in live[leave_out:]:
        (ppkeys / f"root-{hostkey}.pub").write_text("k")
    (base / "ppkeys_hubs").mkdir()
    (base / "ppkeys_hubs" / f"root-{HUBS[0].hostkey}.pub").write_bytes(b"k" * HUB_KEY_BYTES)
    return base


def scraper(pair: PgPair, work: Path, node: str = "hub2") -> Scraper:
    server = pair.standby if node == "hub2" else pair.primary
    local = frozenset({IP_OF[node]})
    database = (server.conninfo(dbname="cfdb"), None)
    collectors: list[Collector] = [
        CfengineCollector(CfengineConfig(workdir=work), node, local_addresses=lambda: local),
        KeysCollector(KeysConfig(workdir=work), node),
        MissionPortalCollector(
            MissionPortalConfigSettings(workdir=work, notification_scripts=work / "scripts"), node
        ),
        DaemonsCollector(DaemonsConfig(pid_directory=work), node),
        HubCollector(
            HubConfig(ha_info_path=work / "inputs/cfe_internal/enterprise/ha/ha_info.json"),
            node,
            local_addresses=lambda: local,
            database=database,
        ),
        DiskCollector(
            DiskConfig(data_directory=work / "state/pg/data", workdir=work), node, database=database
        ),
    ]
    derived: list[DerivedCollector] = [
        ReadinessCollector(ReadinessConfig(), node),
        VerdictCollector(VerdictConfig(), node),
    ]
    return Scraper(
        [ScheduledCollector(c, 10.0) for c in collectors], derived, node=node, cluster="cfcluster"
    )


@pytest.fixture(scope="module")
def seeded(pg_pair: PgPair) -> tuple[PgPair, cfdb.SeedPlan]:
    _, plan = create_cfdb(pg_pair, "cfdb", 60, rng_seed=3)
    return pg_pair, plan


def test_keys_missing_on_the_passive_hub(
    seeded: tuple[PgPair, cfdb.SeedPlan], tmp_path: Path
) -> None:
    pair, plan = seeded
    s = scraper(pair, hub_workdir(tmp_path, plan, "hub2", leave_out=3))
    scrape = s.scrape()
    s.close()
    text = scrape_text(scrape)
    facts = scrape.facts("readiness", ReadinessFacts)
    assert facts is not None and facts.client_keys is not None
    assert facts.client_keys.missing == 3
    assert sample_value(text, "cfha_cfengine_client_keys_missing", node="hub2") == 3
    assert sample_value(text, "cfha_cfengine_key_files", node="hub2", directory="ppkeys") == (
        facts.client_keys.trusted
    )
    assert (
        sample_value(text, "cfha_cfengine_hub_key_state", hub_ip=IP_OF["hub2"], state="missing")
        == 1
    )
    assert sample_value(text, "cfha_cfengine_hub_key_state", hub_ip=IP_OF["hub1"], state="ok") == 1
    verdict = scrape.facts("verdict", Verdict)
    assert verdict is not None
    keys = verdict.finding("hub_keys_missing")
    assert keys.status == "holds"
    assert "3 of cfdb's hosts have no key in hub2's ppkeys" in keys.details
    assert f"{IP_OF['hub2']}'s key is missing in ppkeys_hubs" in keys.details
    # No pacemaker here: Mission Portal's view is not computed, and says so by its absence.
    assert sample_value(text, "cfha_mission_portal_degraded", node="hub2") is None
    assert (sample_value(text, "cfha_disk_filesystem_free_bytes", filesystem="pgdata") or 0) > 0
    assert (sample_value(text, "cfha_disk_data_bytes", part="databases") or 0) > 0


def test_unreadable_sources_fail_their_collector_not_the_scrape(
    seeded: tuple[PgPair, cfdb.SeedPlan],
) -> None:
    pair, plan = seeded
    with open_directory() as base:
        work = hub_workdir(base / "cfengine", plan, "hub2", leave_out=0)
        base.joinpath("cfengine").chmod(0o755)
        (work / "ppkeys").chmod(0o700)
        (work / "cf-serverd.pid").write_text("1\n")
        (work / "cf-serverd.pid").chmod(0o600)
        config = work / "httpd/htdocs/application/config"
        config.mkdir(parents=True)
        (config / "config.php").write_text("<?php secret")
        (config / "config.php").chmod(0o600)
        for parent in (config, config.parent, config.parent.parent, config.parent.parent.parent):
            parent.chmod(0o755)
        results = as_nobody(lambda: _failures(pair, work))
    assert results == {
        "daemons": "permission",
        "keys": "permission",
        "mission_portal": "permission",
    }


def _failures(pair: PgPair, work: Path) -> dict[str, str]:
    s = scraper(pair, work)
    scrape = s.scrape()
    s.close()
    text = scrape_text(scrape)
    assert (
        sample_value(
            text, "cfha_cfengine_key_directory_state", directory="ppkeys", state="unreadable"
        )
        == 1
    )
    assert (
        sample_value(
            text, "cfha_mission_portal_config_state", file="config.php", state="unreadable"
        )
        == 1
    )
    return {r.name: r.reason or "" for r in scrape.failed if r.name not in ("cfengine", "hub")}
