"""A stand-in for cf-hub, the CFEngine report collector, for long-running labs (demo, e2e).

The lab has no CFEngine agents, so nothing would ever refresh cfdb: after the horizon (900 s)
every host, the hubs included, would read as "not reporting". This loop does what cf-hub's
effect on cfdb looks like: on the *active* hub only (the one whose PostgreSQL is writable, as
cf-hub is disabled on the passive hub), every interval it moves the seeded data set forward in
time so that the newest report is "now". The mix of fresh, stale and never-collected hosts, and
each hub's own "state as of", therefore stays what the seed made it.

It runs on both hubs and looks like cf-hub where cf-hub runs: its process is named `cf-hub`,
and it keeps /var/cfengine/cf-hub.pid while its hub is active (checked every 2 s), removing it
when the hub becomes passive, as CFEngine's policy stops cf-hub there. Two lab faults use it:
`freeze-cf-hub` stops it (SIGSTOP: a frozen cf-hub), and the flag file
`/var/cfengine/cfha-lab-cf-hub-everywhere` keeps its pid file on a passive hub (`cf-hub-both`).

Run inside a lab node: `python -m lab.cfhub --dsn "<the node's pg_dsn>" --interval 60`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from lab.cfdb import shift_timestamps
from lab.config import CF_HUB_EVERYWHERE, CF_HUB_PID
from lab.daemon_name import name_process

log = logging.getLogger("lab.cfhub")
ROLE_CHECK_SECONDS = 2.0


def writable(dsn: str) -> bool:
    """This hub's PostgreSQL accepts writes (it is the active hub); False when unreachable."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
            row: Any = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            return row is not None and not row[0]
    except psycopg.Error:
        return False


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


def keep_pidfile(active: bool, pidfile: Path = CF_HUB_PID, flag: Path = CF_HUB_EVERYWHERE) -> None:
    """The pid file exists while this hub runs cf-hub: when active, or when told to anyway."""
    if active or flag.exists():
        if not pidfile.exists():
            pidfile.write_text(f"{os.getpid()}\n")
    else:
        pidfile.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.cfhub", description=__doc__)
    parser.add_argument("--dsn", required=True, help="the local hub's cfdb connection string")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    name_process("cf-hub")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    next_round = time.monotonic()
    try:
        while not stop.is_set():
            active = writable(args.dsn)
            keep_pidfile(active)
            if active and time.monotonic() >= next_round:
                next_round = time.monotonic() + args.interval
                try:
                    moved = collect_once(args.dsn)
                    if moved:
                        log.info("collected: reports moved forward by %s", moved)
                except psycopg.Error as exc:  # the database may be down mid-scenario
                    log.warning("collection round failed: %s", str(exc).strip().splitlines()[0])
            stop.wait(ROLE_CHECK_SECONDS)
    finally:
        CF_HUB_PID.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
