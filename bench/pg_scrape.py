"""A full /metrics scrape of the PostgreSQL collector (alone) against the raw cost of its SQL.

Both measured in the same run against the same real primary + streaming standby, on each
PostgreSQL major (15 and 18 by default): the raw cost is the collector's one statement on an
open psycopg connection (what any exporter must pay); the scrape is an HTTP GET of /metrics from
a running `cfha-exporter` process. Reports medians, the ratio (goal <= 1.3) and the exporter's
resident memory (goal <= 60 MB).

    .venv/bin/python -m bench.pg_scrape [--pg 15|18 ...]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.common import (
    add_pg_argument,
    argument_parser,
    http_get,
    measure,
    pg_installs,
    rss_bytes,
    save,
    stop,
    wait_http,
)
from clusterstate.postgres import STATEMENT
from exporter.registry import COLLECTORS, DERIVED
from lab.loopback import free_port
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair

RUNS = 300


def measure_on(install: PgInstall) -> dict[str, Any]:
    with PgPair(install) as pair, tempfile.TemporaryDirectory() as tmp:
        conninfo = pair.primary.conninfo()
        config = Path(tmp) / "exporter.yml"
        config.write_text(
            f"cluster: bench\nnode: hub1\ncollectors:\n  postgres:\n"
            f"    conninfo: '{conninfo}'\n    expected_standbys: [hub2]\n"
        )
        port = free_port()
        others = [f"--no-collector.{e.name}" for e in COLLECTORS + DERIVED if e.name != "postgres"]
        exporter = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warn", *others]
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                raw = measure(lambda: conn.execute(STATEMENT.encode()).fetchall(), RUNS)
            scrape = measure(lambda: http_get(url), RUNS)
            rss = rss_bytes(exporter.pid)
        finally:
            stop(exporter)
    return {
        "postgresql": install.version,
        "raw_sql_median_seconds": raw.median,
        "scrape_median_seconds": scrape.median,
        "scrape_p99_seconds": scrape.percentile(0.99),
        "ratio_scrape_to_raw_sql": scrape.median / raw.median,
        "exporter_rss_bytes": rss,
    }


def run(installs: list[PgInstall]) -> dict[str, Any]:
    result = {"runs": RUNS, "cases": [measure_on(install) for install in installs]}
    save("pg_scrape", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    return [
        f"postgres scrape, PostgreSQL {c['postgresql']}: raw SQL "
        f"{c['raw_sql_median_seconds'] * 1e3:.2f} ms, full scrape "
        f"{c['scrape_median_seconds'] * 1e3:.2f} ms -> ratio {c['ratio_scrape_to_raw_sql']:.2f} "
        f"(goal <= 1.3); exporter RSS {c['exporter_rss_bytes'] / 2**20:.1f} MiB (goal <= 60)"
        for c in result["cases"]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    add_pg_argument(parser)
    args = parser.parse_args(argv)
    print("\n".join(lines(run(pg_installs(args.pg)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
