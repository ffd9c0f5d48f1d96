"""Fill the WAL archive: write a little, switch to a new WAL segment, again, N times. The
archiver copies each finished 16 MiB segment into the archive (archive_command), whatever
little it holds. The `archive-filling` scenario runs it inside the primary's node.

    python -m lab.walfill --dsn "<the node's pg_dsn>" --segments 8 --interval 8
"""

from __future__ import annotations

import argparse
import time

import psycopg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.walfill", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--interval", type=float, default=8.0)
    args = parser.parse_args(argv)
    with psycopg.connect(args.dsn, autocommit=True, connect_timeout=5) as conn:
        for n in range(args.segments):
            conn.execute(
                "INSERT INTO lab_writes (node, note) VALUES (%s, %s)", ("walfill", f"segment {n}")
            )
            conn.execute("SELECT pg_switch_wal()")
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
