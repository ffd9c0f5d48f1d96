"""A full /metrics scrape of the PostgreSQL collector (alone) against the raw cost of its SQL.

Both measured in the same run against the same real primary + streaming standby: the raw cost is
the collector's one statement on an open psycopg connection (what any exporter must pay); the
scrape is an HTTP GET of /metrics from a running `cfha-exporter` process. Reports medians, the
ratio (goal <= 1.3) and the exporter's resident memory (goal <= 60 MB).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from bench.common import http_get, measure, rss_bytes, save, stop, wait_http
from clusterstate.postgres import STATEMENT
from exporter.registry import COLLECTORS, DERIVED
from lab.loopback import free_port
from lab.offline.pgpair import PgPair

RUNS = 300


def run() -> dict[str, float]:
    with PgPair() as pair, tempfile.TemporaryDirectory() as tmp:
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
    result = {
        "raw_sql_median_seconds": raw.median,
        "scrape_median_seconds": scrape.median,
        "scrape_p99_seconds": scrape.percentile(0.99),
        "ratio_scrape_to_raw_sql": scrape.median / raw.median,
        "exporter_rss_bytes": rss,
        "runs": RUNS,
    }
    save("pg_scrape", result)
    return result


def main() -> int:
    r = run()
    print(
        f"postgres scrape: raw SQL {r['raw_sql_median_seconds'] * 1e3:.2f} ms, "
        f"full scrape {r['scrape_median_seconds'] * 1e3:.2f} ms "
        f"-> ratio {r['ratio_scrape_to_raw_sql']:.2f} (goal <= 1.3); "
        f"exporter RSS {r['exporter_rss_bytes'] / 2**20:.1f} MiB (goal <= 60)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
