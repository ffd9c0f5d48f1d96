"""The hub-report collector's time at 1,000 / 10,000 / 100,000 hosts (goal <= 50 ms at 100,000).

Real PostgreSQL, 15 and 18 by default (primary + hot standby, lab.offline.pgpair), with cfdb
seeded by `lab.cfdb` (the lab's documented tables, indexes and deterministic data), vacuumed and
analysed as a live cfdb would be. Measured per major and size, in the same run:

- `collector`: `HubCollector.collect()` on a warm connection (SQL, decoding, metrics);
- `statement`: the collector's one SQL statement alone, on a plain psycopg connection;
- `baseline`: `count(*)` of the three big tables the statement must read (__hosts,
  __agentstatus, __status): the floor any exact aggregate pays, measured on this machine now.

The ratio collector / baseline is the figure that is stable across machines; the absolute time
is what the goal is about. `EXPLAIN (ANALYZE, BUFFERS)` of the statement at the largest size is
saved with the results.

    .venv/bin/python -m bench.hub_scrape [--pg 15|18 ...] [HOSTS ...]
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.common import add_pg_argument, argument_parser, measure, pg_installs, save
from clusterstate import cfdb_schema, cfdb_sql
from exporter.collectors.hub import HubCollector, HubConfig
from lab.cfdb_plan import ha_info_text
from lab.offline.hubdata import HUBS, create_cfdb
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from servicekit.metrics import MetricWriter

SIZES = (1_000, 10_000, 100_000)
GOAL_SECONDS = 0.050
BASELINE = "SELECT (SELECT count(*) FROM __hosts), (SELECT count(*) FROM __agentstatus), " \
    "(SELECT count(*) FROM __status)"  # fmt: skip


def runs_for(hosts: int) -> int:
    return 200 if hosts <= 10_000 else 60


def statement_for(conninfo: str) -> str:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        cur = conn.execute(cfdb_schema.SCHEMA_STATEMENT.encode(), [cfdb_schema.schema_names()])
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return cfdb_sql.build_statement(cfdb_schema.decode_schema(rows), 900, 900)


def bench_role(conninfo: str, ha_info: Path, runs: int, explain: bool) -> dict[str, Any]:
    keys = [[hub.hostkey for hub in HUBS]]
    collector = HubCollector(HubConfig(conninfo=conninfo, ha_info_path=ha_info), "hub1")
    try:
        timing = measure(lambda: collector.collect(MetricWriter()), runs)
    finally:
        collector.close()
    statement = statement_for(conninfo)
    result: dict[str, Any] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        raw = measure(lambda: conn.execute(statement.encode(), keys).fetchall(), runs)
        floor = measure(lambda: conn.execute(BASELINE.encode()).fetchall(), runs)
        if explain:
            rows = conn.execute(("EXPLAIN (ANALYZE, BUFFERS) " + statement).encode(), keys)
            result["explain_analyze"] = [row[0] for row in rows.fetchall()]
    result.update(
        collector_median_seconds=timing.median,
        collector_p95_seconds=timing.percentile(0.95),
        statement_median_seconds=raw.median,
        baseline_median_seconds=floor.median,
        ratio_collector_to_baseline=timing.median / floor.median,
    )
    return result


def bench_size(pair: PgPair, hosts: int, ha_info: Path) -> dict[str, Any]:
    dbname = f"cfdb_{hosts}"
    create_cfdb(pair, dbname, hosts, rng_seed=11)
    pair.psql(pair.primary, "VACUUM ANALYZE", dbname=dbname)
    pair.wait_replayed()
    result: dict[str, Any] = {
        "postgresql": pair.install.version,
        "hosts": hosts,
        "runs": runs_for(hosts),
    }
    for role, server in (("primary", pair.primary), ("standby", pair.standby)):
        explain = role == "primary" and hosts == max(SIZES)
        conninfo = server.conninfo(dbname=dbname)
        result[role] = bench_role(conninfo, ha_info, runs_for(hosts), explain)
    pair.psql(pair.primary, f"DROP DATABASE {dbname} WITH (FORCE)")
    return result


def run(sizes: tuple[int, ...], installs: list[PgInstall]) -> dict[str, Any]:
    results = []
    for install in installs:
        with PgPair(install) as pair, tempfile.TemporaryDirectory() as tmp:
            ha_info = Path(tmp) / "ha_info.json"
            ha_info.write_text(ha_info_text(HUBS))
            results += [bench_size(pair, hosts, ha_info) for hosts in sizes]
    result: dict[str, Any] = {
        "goal_seconds_at_100000": GOAL_SECONDS,
        # Other work on the machine shows in absolute times (not in the ratios): record it.
        "load_average_1m": os.getloadavg()[0],
        "sizes": results,
    }
    save("hub_scrape", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for entry in result["sizes"]:
        for role in ("primary", "standby"):
            r = entry[role]
            out.append(
                f"hub collector, PostgreSQL {entry['postgresql']}, {entry['hosts']:>7,} hosts, "
                f"{role:<7}: {r['collector_median_seconds'] * 1e3:6.1f} ms median "
                f"(p95 {r['collector_p95_seconds'] * 1e3:6.1f}; statement "
                f"{r['statement_median_seconds'] * 1e3:6.1f}; baseline scans "
                f"{r['baseline_median_seconds'] * 1e3:6.1f}; ratio "
                f"{r['ratio_collector_to_baseline']:.2f})"
            )
        if entry["hosts"] == max(SIZES):
            median = entry["primary"]["collector_median_seconds"]
            verdict = "met" if median <= GOAL_SECONDS else "NOT met"
            out.append(
                f"goal <= {GOAL_SECONDS * 1e3:.0f} ms at 100,000 hosts on PostgreSQL "
                f"{entry['postgresql']}: {verdict} (load average "
                f"{result['load_average_1m']:.1f} on {os.cpu_count()} CPUs)"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    add_pg_argument(parser)
    parser.add_argument("sizes", nargs="*", type=int, metavar="HOSTS", help=f"default {SIZES}")
    args = parser.parse_args(argv)
    print("\n".join(lines(run(tuple(args.sizes) or SIZES, pg_installs(args.pg)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
