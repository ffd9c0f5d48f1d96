"""What failover readiness adds to a full scrape, at 10,000 client keys, measured in one run.

A real PostgreSQL pair (lab.offline.pgpair) of each `--pg` major, with cfdb seeded at
`--hosts` (10,000), and a CFEngine work directory laid out as the passive hub's: the HA files,
`ppkeys` with the key of every live cfdb host (10,000 client keys), `ppkeys_hubs`, Mission
Portal's synced files, the daemons' pid files. Two scrapers in one process, both as hub2 on the
standby:

- before: the collectors that existed before issue 20 and need no cluster stack (postgres,
  hub, cfengine) and the verdict;
- after: the same plus keys, mission_portal, daemons, disk and the derived readiness collector.

Each scrape is what `/metrics` does without the HTTP: one collection and its exposition
(`generate_latest` on the exporter's own registry). Scrapes alternate between the two, `--runs`
rounds; the figure is the difference of the medians (goal: under 5 ms) and each added
collector's own median duration. Also measured once each: a
cold listing of 10,000 keys (paid when ppkeys changes) and reading cfdb's host keys (when the
number of hosts changes, or every 5 minutes).

    .venv/bin/python -m bench.readiness_scrape [--pg 15|18 ...] [--runs N] [--hosts N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from bench.common import add_pg_argument, argument_parser, pg_installs, save
from clusterstate.cfdb_schema import SCHEMA_STATEMENT, decode_schema, schema_names
from clusterstate.cfdb_sql import hostkeys_statement
from clusterstate.cfengine_keys import KeyDirectoryReader
from clusterstate.mission_portal import CONFIG_FILES
from clusterstate.pg import PgSession, PgSettings
from exporter.collectors.cfengine import CfengineCollector, CfengineConfig
from exporter.collectors.daemons import DaemonsCollector, DaemonsConfig
from exporter.collectors.disk import DiskCollector, DiskConfig
from exporter.collectors.hub import HubCollector, HubConfig
from exporter.collectors.keys import KeysCollector, KeysConfig
from exporter.collectors.mission_portal import MissionPortalCollector, MissionPortalConfigSettings
from exporter.collectors.postgres import PostgresCollector, PostgresConfig
from exporter.collectors.readiness import ReadinessCollector, ReadinessConfig
from exporter.collectors.verdict import VerdictCollector, VerdictConfig
from exporter.registry import metrics_registry
from exporter.scrape import Collector, DerivedCollector, ScheduledCollector, Scraper
from lab import cfdb
from lab.offline.hubdata import HUBS, IP_OF, create_cfdb, write_workdir
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair

GOAL_SECONDS = 0.005
ADDED = ("keys", "mission_portal", "daemons", "disk", "readiness")
NODE = "hub2"


def workdir(base: Path, plan: cfdb.SeedPlan) -> Path:
    """hub2's /var/cfengine: every live cfdb host's key in ppkeys, and everything else."""
    write_workdir(base, master_ip=IP_OF["hub1"])
    (base / "state/pg/data").mkdir(parents=True)
    ppkeys = base / "ppkeys"
    ppkeys.mkdir()
    for row in plan.hosts:
        if row[6] is None:  # live
            (ppkeys / f"root-{row[0]}.pub").write_bytes(b"k" * 426)
    (ppkeys / "localhost.pub").write_bytes(b"k" * 426)
    (base / "ppkeys_hubs").mkdir()
    for hub in HUBS:
        (base / "ppkeys_hubs" / f"root-{hub.hostkey}.pub").write_bytes(b"k" * 426)
    for relative in CONFIG_FILES.values():
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        (base / relative).write_text("<?php $config['x'] = 'y';\n" * 40)
    (base / "scripts").mkdir()
    (base / "scripts/notify.sh").write_text("#!/bin/sh\n")
    (base / "cf-serverd.pid").write_text(f"{os.getpid()}\n")  # another program: "absent"
    return base


def scraper(pair: PgPair, work: Path, dbname: str, added: bool) -> Scraper:
    conninfo = pair.standby.conninfo(dbname=dbname)
    local = frozenset({IP_OF[NODE]})
    collectors: list[Collector] = [
        PostgresCollector(PostgresConfig(conninfo=conninfo, expected_standbys=[]), NODE),
        HubCollector(
            HubConfig(ha_info_path=work / "inputs/cfe_internal/enterprise/ha/ha_info.json"),
            NODE,
            local_addresses=lambda: local,
            database=(conninfo, None),
        ),
        CfengineCollector(CfengineConfig(workdir=work), NODE, local_addresses=lambda: local),
    ]
    derived: list[DerivedCollector] = []
    if added:
        collectors += [
            KeysCollector(KeysConfig(workdir=work), NODE),
            MissionPortalCollector(
                MissionPortalConfigSettings(workdir=work, notification_scripts=work / "scripts"),
                NODE,
            ),
            DaemonsCollector(DaemonsConfig(pid_directory=work), NODE),
            DiskCollector(
                DiskConfig(data_directory=work / "state/pg/data", workdir=work),
                NODE,
                database=(conninfo, None),
            ),
        ]
        derived.append(ReadinessCollector(ReadinessConfig(), NODE))
    derived.append(VerdictCollector(VerdictConfig(), NODE))
    return Scraper(
        [ScheduledCollector(c, 10.0) for c in collectors], derived, node=NODE, cluster="cfcluster"
    )


def rounds(before: Scraper, after: Scraper, runs: int) -> dict[str, Any]:
    registries = {"before": metrics_registry(before), "after": metrics_registry(after)}
    for _ in range(5):  # warm up: connections, schema, the listings kept afterwards
        for registry in registries.values():
            generate_latest(registry)
    times: dict[str, list[float]] = {"before": [], "after": []}
    durations: dict[str, list[float]] = {name: [] for name in ADDED}
    names = ("before", "after")
    for n in range(runs):
        for name in names if n % 2 else names[::-1]:
            started = time.perf_counter()
            generate_latest(registries[name])
            times[name].append(time.perf_counter() - started)
        last = after.last()
        assert last is not None
        for collector in ADDED:
            durations[collector].append(last.results[collector].duration_seconds)
    return {"scrapes": times, "collector_durations": durations}


def one_offs(work: Path, pair: PgPair, dbname: str) -> dict[str, float]:
    """A cold listing of ppkeys, and the hub reader's re-read of every live host's key (its own
    statement on an open session, as the reader runs it)."""
    cold = []
    for _ in range(5):
        reader = KeyDirectoryReader(work / "ppkeys", sizes=False)
        started = time.perf_counter()
        reader.read()
        cold.append(time.perf_counter() - started)
    session = PgSession(PgSettings(conninfo=pair.standby.conninfo(dbname=dbname)))
    try:
        schema = decode_schema(session.query(SCHEMA_STATEMENT, [schema_names()]))
        statement = hostkeys_statement(schema)
        assert statement is not None
        reads = []
        for _ in range(5):
            started = time.perf_counter()
            frozenset(str(r["hostkey"]) for r in session.query(statement))
            reads.append(time.perf_counter() - started)
    finally:
        session.close()
    return {
        "cold_listing_median_seconds": statistics.median(cold),
        "hostkeys_read_median_seconds": statistics.median(reads),
    }


def measure_on(install: PgInstall, runs: int, hosts: int) -> dict[str, Any]:
    with PgPair(install) as pair, tempfile.TemporaryDirectory(prefix="cfha-bench-ready-") as tmp:
        dbname = "cfdb_ready"
        _, plan = create_cfdb(pair, dbname, hosts, rng_seed=7)
        pair.psql(pair.primary, "VACUUM ANALYZE", dbname=dbname)
        pair.wait_replayed()
        work = workdir(Path(tmp) / "cfengine", plan)
        before, after = scraper(pair, work, dbname, False), scraper(pair, work, dbname, True)
        try:
            measured = rounds(before, after, runs)
        finally:
            before.close()
            after.close()
        keys = sum(1 for p in (work / "ppkeys").iterdir() if p.name.startswith("root-"))
        result = summarise(measured) | one_offs(work, pair, dbname)
    return result | {"postgresql": install.version, "client_keys": keys,
                     "load_average_1m": os.getloadavg()[0]}  # fmt: skip


def run(runs: int, hosts: int, installs: list[PgInstall]) -> dict[str, Any]:
    cases = [measure_on(install, runs, hosts) for install in installs]
    result = {"runs": runs, "hosts": hosts, "cases": cases}
    save("readiness_scrape", result)
    return result


def summarise(measured: dict[str, Any]) -> dict[str, Any]:
    before = statistics.median(measured["scrapes"]["before"])
    after = statistics.median(measured["scrapes"]["after"])
    return {
        "before_median_seconds": before,
        "after_median_seconds": after,
        "added_median_seconds": after - before,
        "goal_seconds": GOAL_SECONDS,
        "collector_median_seconds": {
            name: statistics.median(values)
            for name, values in measured["collector_durations"].items()
        },
    }


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for r in result["cases"]:
        parts = ", ".join(f"{k} {v * 1e3:.2f}" for k, v in r["collector_median_seconds"].items())
        verdict = "met" if r["added_median_seconds"] <= GOAL_SECONDS else "NOT met"
        out.append(
            f"full scrape as the passive hub, PostgreSQL {r['postgresql']}, "
            f"{r['client_keys']:,} client keys, cfdb {result['hosts']:,} hosts: before "
            f"{r['before_median_seconds'] * 1e3:.2f} ms, after "
            f"{r['after_median_seconds'] * 1e3:.2f} ms: +{r['added_median_seconds'] * 1e3:.2f} ms "
            f"(goal < {GOAL_SECONDS * 1e3:.0f} ms: {verdict}); added collectors' own medians "
            f"(ms): {parts}; once per change: a cold listing of ppkeys "
            f"{r['cold_listing_median_seconds'] * 1e3:.1f} ms, re-reading cfdb's host keys "
            f"{r['hostkeys_read_median_seconds'] * 1e3:.1f} ms "
            f"(load average {r['load_average_1m']:.1f} on {os.cpu_count()} CPUs)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    add_pg_argument(parser)
    parser.add_argument("--runs", type=int, default=200)
    # 10,250 cfdb hosts: about 10,040 live clients, so ppkeys holds over 10,000 client keys
    parser.add_argument("--hosts", type=int, default=10_250)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    print("\n".join(lines(run(args.runs, args.hosts, pg_installs(args.pg)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
