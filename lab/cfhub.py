"""A stand-in for cf-hub, the CFEngine report collector, for long-running labs (demo, e2e).

The lab has no CFEngine agents, so nothing would ever refresh cfdb: after the horizon (900 s)
every host, the hubs included, would read as "not reporting". This loop does what cf-hub's
effect on cfdb looks like: on the *active* hub only (the one whose PostgreSQL is writable, as
cf-hub is disabled on the passive hub), every interval it moves the seeded data set forward in
time so that the newest report is "now". The mix of fresh, stale and never-collected hosts, and
each hub's own "state as of", therefore stays what the seed made it.

Run inside a lab node: `python -m lab.cfhub --dsn "<the node's pg_dsn>" --interval 60`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

import psycopg

from lab.cfdb import shift_timestamps

log = logging.getLogger("lab.cfhub")


def collect_once(dsn: str) -> timedelta | None:
    """One collection round; returns how far the data moved (None on the passive hub)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        in_recovery: Any = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if in_recovery is None or in_recovery[0]:
            return None
        row: Any = conn.execute(
            "SELECT now() - max(lastreporttimestamp) FROM __hosts WHERE deleted IS NULL"
        ).fetchone()
        delta = row[0] if row else None
        if not isinstance(delta, timedelta) or delta <= timedelta(0):
            return timedelta(0)
        shift_timestamps(conn, delta)
        return delta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.cfhub", description=__doc__)
    parser.add_argument("--dsn", required=True, help="the local hub's cfdb connection string")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.is_set():
        try:
            moved = collect_once(args.dsn)
            if moved:
                log.info("collected: reports moved forward by %s", moved)
        except psycopg.Error as exc:  # the database may be down mid-scenario: try next round
            log.warning("collection round failed: %s", str(exc).strip().splitlines()[0])
        stop.wait(args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
