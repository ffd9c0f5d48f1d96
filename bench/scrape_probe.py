"""Runs *inside* a hub of the lab (started there by `bench.full_scrape` with `Lab.run`): times
GETs of /metrics from the exporters running beside it, and the raw probes cfha-exporter runs,
interleaved round by round so that all of them share the machine's noise. Prints one JSON
document on stdout.

    python -m bench.scrape_probe --runs 100 --conninfo '...' \
        --target cfha-exporter=http://127.0.0.1:19732/metrics --target ...

The raw probes, back to back, are what any exporter of these facts must pay: crm_mon with the
collector's exact argv, `corosync-quorumtool -p -s`, `corosync-cfgtool -s` (each a plain
subprocess with the C locale), and each SQL statement the collectors run (postgres, hub), on a
connection that is already open. cibadmin and corosync-cmapctl are left out: cfha-exporter runs
them only when the configuration changed or once a minute, so not on a steady-state scrape.

`--hold NAME=COUNT` keeps COUNT idle TCP connections (connected, sending nothing) open to target
NAME for the whole measurement: before each round, the ones the server has closed (cfha-exporter
closes a connection idle for 5 s) are opened again, outside the timed steps.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from bench.common import argument_parser, http_get, wait_http
from clusterstate import cfdb_schema, cfdb_sql
from clusterstate.parsers.cfengine_files import parse_ha_info
from clusterstate.parsers.crm_mon import CRM_MON_ARGV
from clusterstate.postgres import STATEMENT as POSTGRES_STATEMENT
from exporter.collectors.hub import HubConfig

COMMANDS: dict[str, list[str]] = {
    "crm_mon": list(CRM_MON_ARGV),
    "corosync-quorumtool": ["corosync-quorumtool", "-p", "-s"],
    "corosync-cfgtool": ["corosync-cfgtool", "-s"],
}
C_LOCALE = {**os.environ, "LANG": "C", "LC_ALL": "C"}


def run_command(argv: list[str]) -> None:
    # exit codes are not checked: cfgtool exits 1 when a link is down, and still answers
    subprocess.run(argv, capture_output=True, env=C_LOCALE, timeout=10, check=False)


def sql_probes(conninfo: str) -> tuple[psycopg.Connection[Any], dict[str, Callable[[], object]]]:
    """The collectors' statements, each on the same open connection (as the exporter keeps one).
    The hub collector's statement is built as the collector builds it (schema read once, the HA
    hubs' host keys from ha_info.json) and run with the same parameter."""
    conn = psycopg.connect(conninfo, autocommit=True, client_encoding="UTF8")
    hub_statement, hub_params = hub_query(conn)
    probes: dict[str, Callable[[], object]] = {
        "sql:postgres": lambda: conn.execute(POSTGRES_STATEMENT.encode()).fetchall(),
        "sql:hub": lambda: conn.execute(hub_statement.encode(), hub_params).fetchall(),
    }
    return conn, probes


def hub_query(conn: psycopg.Connection[Any]) -> tuple[str, list[Any] | None]:
    config = HubConfig()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(cfdb_schema.SCHEMA_STATEMENT.encode(), [cfdb_schema.schema_names()])
        schema = cfdb_schema.decode_schema(cur.fetchall())
    statement = cfdb_sql.build_statement(schema, config.horizon_seconds, config.window_seconds)
    if not cfdb_sql.has_parameter(statement):
        return statement, None
    assert config.ha_info_path is not None
    hubs = parse_ha_info(config.ha_info_path.read_text())
    return statement, [[hub.hostkey for hub in hubs]]


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class IdleConnections:
    """COUNT connections to a server that send nothing; `top_up()` replaces the closed ones."""

    def __init__(self, url: str, count: int) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._count = count
        self._open: list[socket.socket] = []
        self.reopened = 0

    def top_up(self) -> None:
        if self._open:  # closed by the server: readable, and recv gives b""
            readable, _, _ = select.select(self._open, [], [], 0)
            for sock in readable:
                sock.close()
                self._open.remove(sock)
                self.reopened += 1
        while len(self._open) < self._count:
            self._open.append(socket.create_connection(self._address, timeout=10))

    def close(self) -> None:
        for sock in self._open:
            sock.close()


def measure(
    targets: dict[str, str], conninfo: str, runs: int, warmup: int, hold: dict[str, int]
) -> dict[str, Any]:
    held = [IdleConnections(targets[name], count) for name, count in hold.items()]
    conn, sql = sql_probes(conninfo)
    try:
        probes: dict[str, Callable[[], object]] = {
            name: partial(run_command, argv) for name, argv in COMMANDS.items()
        }
        probes.update(sql)

        def raw_round(samples: dict[str, list[float]] | None) -> None:
            for name, probe in probes.items():
                took = timed(probe)
                if samples is not None:
                    samples.setdefault(name, []).append(took)

        steps: list[tuple[str, Callable[[], object]]] = [
            *((name, partial(http_get, url)) for name, url in targets.items()),
            ("raw probes", lambda: raw_round(None)),
        ]
        for _ in range(warmup):
            for _name, step in steps:
                step()
        scrapes: dict[str, list[float]] = {name: [] for name in targets}
        durations: dict[str, list[float]] = {}  # cfha's own per-collector times, per scrape
        raw_total: list[float] = []
        raw_parts: dict[str, list[float]] = {}
        for i in range(runs):
            for idle in held:
                idle.top_up()
            shift = i % len(steps)  # rotate the order: no one always goes first
            for name, _step in steps[shift:] + steps[:shift]:
                if name == "raw probes":
                    started = time.perf_counter()
                    raw_round(raw_parts)
                    raw_total.append(time.perf_counter() - started)
                else:
                    started = time.perf_counter()
                    body = http_get(targets[name])
                    scrapes[name].append(time.perf_counter() - started)
                    if name == "cfha-exporter":  # the one under test (not a --before one)
                        for collector, took in collector_durations(body).items():
                            durations.setdefault(collector, []).append(took)
        pages = {name: http_get(url) for name, url in targets.items()}
    finally:
        conn.close()
        for idle in held:
            idle.close()
    return {
        "held_idle_connections": hold,
        "idle_reopened": sum(idle.reopened for idle in held),
        "scrapes": scrapes,
        "raw_total": raw_total,
        "raw_parts": raw_parts,
        "collector_durations": durations,
        "page_bytes": {name: len(body) for name, body in pages.items()},
        "page_samples": {name: count_samples(body) for name, body in pages.items()},
    }


DURATION = re.compile(
    rb'^cfha_exporter_collector_duration_seconds\{[^}]*collector="([^"]+)"[^}]*\} (\S+)$', re.M
)


def collector_durations(body: bytes) -> dict[str, float]:
    """What cfha-exporter says each of its collectors took in this scrape (empty for others)."""
    return {m[1].decode(): float(m[2]) for m in DURATION.finditer(body)}


def count_samples(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--target", action="append", default=[], help="name=url")
    parser.add_argument("--conninfo", required=True)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--hold", action="append", default=[], help="name=count")
    args = parser.parse_args(argv)
    targets = dict(t.split("=", 1) for t in args.target)
    hold = {name: int(count) for name, count in (h.split("=", 1) for h in args.hold)}
    if hold:  # this process holds the client ends
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, sum(hold.values()) + 1024), hard))
    for url in targets.values():
        wait_http(url)
    json.dump(measure(targets, args.conninfo, args.runs, args.warmup, hold), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
