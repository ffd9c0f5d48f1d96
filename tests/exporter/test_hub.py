"""The hub-report collector against a real cfdb (lab.cfdb's seed) on a primary and its standby
(each tested PostgreSQL major)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from clusterstate.cfdb_schema import decode_schema
from clusterstate.pg import PgSession, PgSettings
from exporter.collectors.hub import HubCollector, HubConfig, HubFacts
from exporter.config import config_from_mapping
from exporter.registry import build_collectors
from exporter.scrape import CollectorError, ScheduledCollector, Scraper
from lab import cfdb
from lab.cfdb_plan import ha_info_text
from lab.loopback import free_port
from lab.offline.hubdata import HUBS, IP_OF, create_cfdb
from lab.offline.pgpair import PgPair, PgServer
from servicekit.metrics import MetricWriter
from tests.support.metrics_text import sample_value, scrape_text

HOSTS = 400


class CountingSession(PgSession):
    """A real session that counts round trips (to check the schema is cached)."""

    def __init__(self, settings: PgSettings) -> None:
        super().__init__(settings)
        self.queries = 0

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        self.queries += 1
        return super().query(sql, params)


@pytest.fixture(scope="module")
def seeded(pg_pair: PgPair) -> tuple[PgPair, cfdb.SeedCounts, cfdb.SeedPlan]:
    counts, plan = create_cfdb(pg_pair, "cfdb", HOSTS, rng_seed=5)
    return pg_pair, counts, plan


@pytest.fixture
def ha_info(tmp_path: Path) -> Path:
    path = tmp_path / "ha_info.json"
    path.write_text(ha_info_text(HUBS))
    return path


def make(server: PgServer, node: str, ha_info: Path | None, dbname: str = "cfdb",
         **config: Any) -> HubCollector:  # fmt: skip
    settings = HubConfig(conninfo=server.conninfo(dbname=dbname), ha_info_path=ha_info, **config)
    return HubCollector(settings, node, local_addresses=lambda: frozenset({IP_OF[node]}))


def scrape(collector: HubCollector) -> tuple[HubFacts | None, str, bool]:
    scraper = Scraper([ScheduledCollector(collector, 10.0)], node="x", cluster="cfcluster")
    result = scraper.scrape()
    scraper.close()
    collector.close()
    return result.facts("hub", HubFacts), scrape_text(result), result.results["hub"].ok


def expected_windowed(plan: cfdb.SeedPlan, as_of: float, window: int) -> dict[str, Any]:
    """Counts over the window, from the seed's own rows and the collector's time reference."""
    since_epoch = math.floor(as_of) - window
    consumed = sum(1 for r in plan.status if r[1] >= since_epoch and r[2] == "CONSUMED")
    failed = sum(1 for r in plan.status if r[1] >= since_epoch and r[2] == "FAILEDC")
    errors = dict.fromkeys(cfdb.CONNECTION_ERRORS, 0)
    for row in plan.errors:
        if row[1].timestamp() >= as_of - window:
            errors[row[2]] += 1
    return {"consumed": consumed, "failed": failed, "errors": errors}


def check_counts(facts: HubFacts, text: str, counts: cfdb.SeedCounts, plan: cfdb.SeedPlan) -> None:
    assert facts.hosts is not None and facts.agents is not None
    assert facts.hosts.live == counts.hosts_live
    assert facts.hosts.deleted == counts.hosts_deleted
    assert facts.hosts.within_horizon == counts.hosts_fresh
    assert facts.hosts.beyond_horizon == counts.hosts_stale
    assert facts.hosts.never_collected == counts.hosts_never_collected
    assert facts.agents == {"ok": counts.agent_ok, "fail": counts.agent_fail, "other": 0}
    assert facts.data_as_of is not None
    window = expected_windowed(plan, facts.data_as_of, facts.window_seconds)
    assert facts.collections == {"consumed": window["consumed"], "failed": window["failed"],
                                 "other": 0}  # fmt: skip
    assert facts.connection_errors == {**window["errors"], "other": 0}
    # The seed's failures all lie in its last 10 minutes: the whole error table is in the window.
    assert window["errors"] == counts.connection_errors
    newest = max(r[2] for r in plan.hosts if r[2] is not None and r[6] is None)
    assert facts.hosts.last_collection_time == newest.timestamp()
    node = "hub1" if not facts.in_recovery else "hub2"
    assert sample_value(text, "cfha_hub_up", node=node) == 1
    assert sample_value(text, "cfha_hub_hosts", node=node) == counts.hosts_live
    assert sample_value(text, "cfha_hub_hosts_deleted", node=node) == counts.hosts_deleted
    by = "cfha_hub_hosts_by_last_report"
    assert sample_value(text, by, last_report="within_horizon") == counts.hosts_fresh
    assert sample_value(text, by, last_report="beyond_horizon") == counts.hosts_stale
    assert sample_value(text, by, last_report="never") == counts.hosts_never_collected
    assert sample_value(text, "cfha_hub_hosts_agent_status", status="fail") == counts.agent_fail
    assert sample_value(text, "cfha_hub_collections", outcome="failed") == window["failed"]
    for message, n in counts.connection_errors.items():
        assert sample_value(text, "cfha_hub_connection_errors", message=message) == n
    assert sample_value(text, "cfha_hub_connection_errors", message="other") == 0
    assert sample_value(text, "cfha_hub_horizon_seconds") == 900
    for table in ("__hosts", "__agentstatus", "__status", "__hubconnectionerrors", "__inventory"):
        assert sample_value(text, "cfha_hub_table_usable", table=table) == 1


def test_exact_counts_on_the_primary(seeded: tuple[PgPair, Any, Any], ha_info: Path) -> None:
    pair, counts, plan = seeded
    facts, text, ok = scrape(make(pair.primary, "hub1", ha_info))
    assert ok and facts is not None and facts.in_recovery is False
    assert facts.now is not None and facts.data_as_of == facts.now  # a primary is current
    check_counts(facts, text, counts, plan)


def test_same_counts_on_the_hot_standby(seeded: tuple[PgPair, Any, Any], ha_info: Path) -> None:
    pair, counts, plan = seeded
    pair.wait_replayed()
    facts, text, ok = scrape(make(pair.standby, "hub2", ha_info))
    assert ok and facts is not None and facts.in_recovery is True
    # Caught up and streaming: the replica is as current as the primary.
    assert facts.data_as_of == facts.now
    check_counts(facts, text, counts, plan)


def test_each_hubs_own_last_report(seeded: tuple[PgPair, Any, Any], ha_info: Path) -> None:
    pair, _, plan = seeded
    facts, text, _ = scrape(make(pair.primary, "hub1", ha_info))
    assert facts is not None and facts.members is not None
    reported = {r[0]: r[2].timestamp() for r in plan.hosts if r[2] is not None}
    names = [m.name for m in facts.members]
    assert names == ["hub1", "hub2"]  # hub1 by its own address, hub2 by its inventory name
    for m, hub in zip(facts.members, HUBS, strict=True):
        assert m.known and m.ip == hub.ip and m.hostkey == hub.hostkey
        assert m.last_report_time == reported[hub.hostkey]
        assert sample_value(text, "cfha_hub_member_last_report_timestamp_seconds",
                            node=hub.name) == reported[hub.hostkey]  # fmt: skip
        assert sample_value(text, "cfha_hub_member_known", node=hub.name) == 1
        assert sample_value(text, "cfha_hub_member_info", node=hub.name, hub_ip=hub.ip) == 1
    renamed, _, _ = scrape(make(pair.primary, "hub1", ha_info, hub_names={HUBS[1].ip: "peer"}))
    assert renamed is not None and [m.name for m in renamed.members or ()] == ["hub1", "peer"]


def test_a_hub_missing_from_cfdb_is_known_as_unknown(
    seeded: tuple[PgPair, Any, Any], tmp_path: Path
) -> None:
    pair, _, _ = seeded
    path = tmp_path / "ha_info.json"
    path.write_text(ha_info_text((*HUBS, cfdb.Hub("hub3", "10.250.99.3", "3d" * 32))))
    facts, text, ok = scrape(make(pair.primary, "hub1", path))
    assert ok and facts is not None and facts.members is not None
    ghost = facts.members[2]
    assert ghost.name == "10.250.99.3" and not ghost.known and ghost.last_report_time is None
    assert sample_value(text, "cfha_hub_member_known", node="10.250.99.3") == 0
    assert sample_value(text, "cfha_hub_member_last_report_timestamp_seconds",
                        node="10.250.99.3") is None  # fmt: skip


def test_lagging_replica_reports_as_of_its_last_replayed_commit(
    seeded: tuple[PgPair, Any, Any], ha_info: Path
) -> None:
    pair, counts, plan = seeded
    pair.wait_replayed()
    before_pause = time.time()
    pair.psql(pair.standby, "SELECT pg_wal_replay_pause()")
    try:
        time.sleep(1.5)
        pair.psql(pair.primary, "INSERT INTO burst (payload) VALUES ('unreplayed')")
        deadline = time.monotonic() + 10
        while True:  # until the standby has received (not replayed) the new commit
            facts, text, ok = scrape(make(pair.standby, "hub2", ha_info))
            assert facts is not None and facts.now is not None and facts.data_as_of is not None
            if facts.now - facts.data_as_of > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert facts.data_as_of <= before_pause + 0.5  # the replica's picture is older than now
        assert facts.now - facts.data_as_of > 1
        assert (
            ok and sample_value(text, "cfha_hub_data_as_of_timestamp_seconds") == facts.data_as_of
        )
        # Host freshness is judged as of that picture: the counts do not change.
        check_counts(facts, text, counts, plan)
    finally:
        pair.psql(pair.standby, "SELECT pg_wal_replay_resume()")
    pair.wait_replayed()


def test_schema_is_read_once_then_one_round_trip(
    seeded: tuple[PgPair, Any, Any], ha_info: Path
) -> None:
    pair, _, _ = seeded
    session = CountingSession(PgSettings(conninfo=pair.primary.conninfo(dbname="cfdb")))
    collector = HubCollector(HubConfig(ha_info_path=ha_info), "hub1", session=session)
    facts = collector.collect(MetricWriter())
    # the schema, the aggregate statement, then every live host's key (kept for the key checks)
    assert session.queries == 3
    assert facts.hostkeys is not None and len(facts.hostkeys) == facts.hosts.live  # type: ignore[union-attr]
    collector.collect(MetricWriter())
    collector.collect(MetricWriter())
    assert session.queries == 5  # one round trip per scrape while the hosts stay the same
    collector.close()


@pytest.fixture
def drifted(pg_pair: PgPair) -> Iterator[tuple[str, cfdb.SeedCounts]]:
    """A cfdb of another version: tables and columns missing, renamed or of another type."""
    name = f"cfdb_drift_{free_port()}"
    counts, _ = create_cfdb(pg_pair, name, 60, rng_seed=2)
    yield name, counts
    pg_pair.psql(pg_pair.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_missing_table_and_column_give_schema_and_partial_metrics(
    pg_pair: PgPair, drifted: tuple[str, cfdb.SeedCounts], ha_info: Path
) -> None:
    dbname, counts = drifted
    pg_pair.psql(
        pg_pair.primary,
        "DROP TABLE __agentstatus",
        "ALTER TABLE __hubconnectionerrors DROP COLUMN message",
        dbname=dbname,
    )
    pg_pair.wait_replayed()
    collector = make(pg_pair.primary, "hub1", ha_info, dbname=dbname)
    with pytest.raises(CollectorError) as failure:
        collector.collect(MetricWriter())
    assert failure.value.reason == "schema"
    assert "__agentstatus" in str(failure.value)
    assert "__hubconnectionerrors.message" in str(failure.value)
    facts = failure.value.facts
    assert isinstance(facts, HubFacts) and facts.up
    assert facts.hosts is not None and facts.hosts.live == 60 + len(HUBS) - 1
    assert facts.agents is None and facts.connection_errors is None
    assert facts.collections is not None and facts.members is not None
    facts2, text, ok = scrape(make(pg_pair.standby, "hub2", ha_info, dbname=dbname))
    assert not ok and facts2 is not None
    assert sample_value(text, "cfha_hub_table_usable", table="__agentstatus") == 0
    assert sample_value(text, "cfha_hub_table_usable", table="__hubconnectionerrors") == 0
    assert sample_value(text, "cfha_hub_table_usable", table="__hosts") == 1
    assert sample_value(text, "cfha_hub_hosts", node="hub2") == facts.hosts.live
    assert sample_value(text, "cfha_hub_hosts_agent_status", status="fail") is None
    assert (
        sample_value(text, "cfha_exporter_collector_failure_reason", collector="hub",
                     state="schema") == 1
    )  # fmt: skip
    # The schema is checked again on every scrape while incomplete: a fix is seen at once.
    pg_pair.psql(
        pg_pair.primary,
        "CREATE TABLE __agentstatus (hostkey text PRIMARY KEY, lastagentexecutionstatus text)",
        "ALTER TABLE __hubconnectionerrors ADD COLUMN message text",
        dbname=dbname,
    )
    try:
        facts3 = collector.collect(MetricWriter())
    finally:
        collector.close()
    assert facts3.agents == {"ok": 0, "fail": 0, "other": 0}
    # The re-added column is empty: those errors have no known message, so they are `other`.
    assert facts3.connection_errors is not None
    assert facts3.connection_errors["other"] == sum(counts.connection_errors.values()) > 0
    assert facts3.connection_errors["ServerNoReply"] == 0


def test_older_schemas_status_table_and_naive_timestamps(
    pg_pair: PgPair, drifted: tuple[str, cfdb.SeedCounts], ha_info: Path
) -> None:
    dbname, _ = drifted
    collector = make(pg_pair.primary, "hub1", ha_info, dbname=dbname)
    reference = collector.collect(MetricWriter())
    collector.close()
    pg_pair.psql(
        pg_pair.primary,
        "DROP VIEW hosts",  # it depends on the columns changed below
        "ALTER TABLE __status RENAME TO status",  # its name before CFEngine 3.12.2
        "ALTER TABLE __hosts DROP COLUMN deleted",  # not in every version
        "ALTER TABLE __hosts ALTER COLUMN lastreporttimestamp TYPE timestamp",
        "ALTER TABLE __hubconnectionerrors ALTER COLUMN checktimestamp TYPE timestamp",
        dbname=dbname,
    )
    older = make(pg_pair.primary, "hub1", ha_info, dbname=dbname)
    facts = older.collect(MetricWriter())
    older.close()
    assert facts.missing == ()
    assert facts.collections == reference.collections
    assert facts.connection_errors == reference.connection_errors
    assert facts.hosts is not None and reference.hosts is not None
    assert facts.hosts.deleted is None  # unknown, not 0
    # Without `deleted`, the deleted hosts count as known; their reports are days old.
    gone = reference.hosts.deleted or 0
    assert facts.hosts.live == reference.hosts.live + gone
    assert facts.hosts.within_horizon == reference.hosts.within_horizon
    assert facts.hosts.beyond_horizon == reference.hosts.beyond_horizon + gone
    assert facts.hosts.last_collection_time == reference.hosts.last_collection_time
    assert facts.members is not None and reference.members is not None
    assert [m.last_report_time for m in facts.members] == [
        m.last_report_time for m in reference.members
    ]


def test_unreachable_cfdb_is_down_with_reason_connect(ha_info: Path) -> None:
    config = HubConfig(conninfo=f"host=127.0.0.1 port={free_port()} user=x dbname=cfdb",
                       ha_info_path=ha_info)  # fmt: skip
    facts, text, ok = scrape(HubCollector(config, "hub1"))
    assert not ok and facts is not None and not facts.up
    assert sample_value(text, "cfha_hub_up", node="hub1") == 0
    assert sample_value(text, "cfha_hub_hosts") is None
    assert (
        sample_value(text, "cfha_exporter_collector_failure_reason", collector="hub",
                     state="connect") == 1
    )  # fmt: skip


def test_missing_or_malformed_ha_info(seeded: tuple[PgPair, Any, Any], tmp_path: Path) -> None:
    pair, counts, _ = seeded
    facts, text, ok = scrape(make(pair.primary, "hub1", tmp_path / "absent.json"))
    assert not ok and facts is not None and facts.members is None
    assert sample_value(text, "cfha_hub_hosts") == counts.hosts_live  # the rest is published
    assert (
        sample_value(text, "cfha_exporter_collector_failure_reason", collector="hub",
                     state="unavailable") == 1
    )  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    facts, text, ok = scrape(make(pair.primary, "hub1", bad))
    assert not ok and facts is not None and facts.hosts is not None
    assert (
        sample_value(text, "cfha_exporter_collector_failure_reason", collector="hub",
                     state="parse") == 1
    )  # fmt: skip
    facts, _, ok = scrape(make(pair.primary, "hub1", None))  # configured off: no HA hubs
    assert ok and facts is not None and facts.members == ()


def test_counts_are_relative_to_now_not_to_the_seed(pg_pair: PgPair) -> None:
    """A seed made 20 minutes ago: its fresh hosts have gone beyond the horizon since."""
    name = f"cfdb_old_{free_port()}"
    past = datetime.fromtimestamp(time.time() - 1200).astimezone()
    counts, _ = create_cfdb(pg_pair, name, 50, rng_seed=3, now=past)
    collector = make(pg_pair.primary, "hub1", None, dbname=name)
    try:
        facts = collector.collect(MetricWriter())
        collector.close()
        assert facts.hosts is not None
        assert facts.hosts.within_horizon == 0
        assert facts.hosts.beyond_horizon == counts.hosts_fresh + counts.hosts_stale
    finally:
        pg_pair.psql(pg_pair.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_schema_rows_from_a_sql_ascii_database_are_bytes() -> None:
    """psycopg returns text as bytes from a SQL_ASCII database, as CFEngine creates cfdb."""
    rows = [
        {"name": b"__hosts", "relation": b"__hosts", "column_name": name, "column_type": kind}
        for name, kind in (
            (b"hostkey", b"text"),
            (b"lastreporttimestamp", b"timestamp with time zone"),
        )
    ]
    schema = decode_schema(rows)
    assert schema.usable("__hosts")
    assert schema.columns["__hosts"]["lastreporttimestamp"] == "timestamp with time zone"
    assert "__hosts" not in schema.missing and "__agentstatus" in schema.missing


def test_cfdb_defaults_to_the_postgres_collectors_database() -> None:
    shared, own = free_port(), free_port()
    postgres = {"conninfo": f"host=127.0.0.1 port={shared} user=x dbname=cfdb"}

    def hub_target(hub_section: dict[str, Any]) -> str:
        config = config_from_mapping({"collectors": {"postgres": postgres, "hub": hub_section}})
        scheduled, _ = build_collectors(config, {"cfengine": False})
        hub = next(s.collector for s in scheduled if s.collector.name == "hub")
        with pytest.raises(CollectorError) as failure:
            hub.collect(MetricWriter())
        assert failure.value.reason == "connect"
        return str(failure.value)

    assert f"port={shared}" in hub_target({"ha_info_path": None})
    own_conninfo = f"host=127.0.0.1 port={own} user=x dbname=cfdb"
    assert f"port={own}" in hub_target({"ha_info_path": None, "conninfo": own_conninfo})
