"""A full cfha-exporter scrape against what users run instead, on the live lab, in the same run.

One lab per PostgreSQL major (`lab/`: two hubs, corosync 3.1.7, pacemaker 2.1.5, the pgsql agent;
Debian's PostgreSQL 15, then 18 laid out as on a CFEngine hub; `--pg` names some).
In each hub, side by side: `cfha-exporter` (every collector), Debian's `ha_cluster_exporter`
and `prometheus-postgres-exporter` (default collectors, on the same cfdb over the same socket).
`bench.scrape_probe` then runs inside that hub and times, round by round and in rotating order,
a GET of each exporter's /metrics and the raw probes cfha runs back to back (crm_mon with the
same argv, corosync-quorumtool, corosync-cfgtool, the collectors' SQL on an open connection).
Resident memory (VmRSS, and the peak VmHWM) is read from /proc after the rounds.

Two cfdb sizes: the lab's seed (50 hosts) and a realistic one (10,000 hosts by default,
`lab.cfdb.seed` on the primary, replicated, then `VACUUM ANALYZE`); at the seed size, each hub
once more with `--idle` idle TCP connections held open to cfha-exporter throughout (issue 19:
a thousand of them used to stop every scrape). cfha-exporter runs with
`--scrape.reuse-seconds 0`: every scrape of the benchmark is a collection of its own.

    .venv/bin/python -m bench.full_scrape [--runs N] [--hosts N] [--idle N] [--lab ID]
                                          [--pg 15|18 ...] [--before CHECKOUT]

`--before CHECKOUT` (for example a `git worktree` of an earlier commit) runs that checkout's
cfha-exporter as a fourth exporter in the same rounds, with the environment its own unit file
sets: the change's cost is then `ratio_to_before`, measured in the same run.

prometheus-postgres-exporter (0.11.1 in Debian 12) predates PostgreSQL 17: its `bgwriter`
collector reads columns that moved to `pg_stat_checkpointer` and fails on every scrape of an 18
server (its other collectors work). Each case records which of its collectors failed, from its own
log, and the summary says so beside the ratio.

Goals: cfha's scrape <= 1.0 x the two peers' scrapes together (the sum of their medians: a
Prometheus pays both), and <= 1.3 x the raw probes; with the idle connections, unchanged.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import add_pg_argument, argument_parser, quantile, save
from lab import render
from lab.cfdb import seed
from lab.cfdb_plan import hubs_from_ha_info
from lab.cluster import Lab, claim_free_lab
from lab.pglayout import MAJORS

REPO = Path(__file__).resolve().parents[1]
CFHA, HCE, PGE = "cfha-exporter", "ha_cluster_exporter", "prometheus-postgres-exporter"
BEFORE = "cfha-exporter-before"
PORTS = {CFHA: 19732, HCE: 19664, PGE: 19187, BEFORE: 19733}  # inside each hub's network namespace
GOAL_VS_PEERS = 1.0
GOAL_VS_RAW = 1.3
SMALL_CFDB = 50
# prometheus-postgres-exporter logs each collector that fails, at level error.
COLLECTOR_FAILED = re.compile(r'msg="collector failed" name=(\S+) .*?err="((?:[^"\\]|\\.)*)"')


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def unit_environment(checkout: Path) -> dict[str, str]:
    """The Environment= lines of a checkout's cfha-exporter unit (what it runs with on a hub)."""
    unit = checkout / "deploy/systemd/cfha-exporter.service"
    found = {}
    for line in unit.read_text().splitlines() if unit.exists() else ():
        if line.startswith("Environment="):
            for pair in line.removeprefix("Environment=").split():
                key, _, value = pair.strip('"').partition("=")
                found[key] = value
    return found


def exporter_argv(checkout: Path, config: Path, port: int) -> list[str]:
    argv = [sys.executable, "-m", "exporter", "--config.file", str(config),
            "--log.level", "error", "--web.listen-address", f"127.0.0.1:{port}"]  # fmt: skip
    if "reuse-seconds" in (checkout / "exporter/cli.py").read_text():
        argv += ["--scrape.reuse-seconds", "0"]  # every scrape of the benchmark collects
    return argv


@contextmanager
def exporters(
    lab: Lab, node: str, work: Path, before: Path | None = None
) -> Iterator[dict[str, int]]:
    """The three exporters (four with `before`) running inside `node`; yields their PIDs."""
    conninfo = lab.node(node).pg_dsn()
    config = work / f"cfha-{node}.yml"
    config.write_text(
        f"cluster: cfcluster\nnode: {node}\ncollectors:\n  postgres:\n    conninfo: {conninfo}\n"
    )
    argv = {
        CFHA: exporter_argv(REPO, config, PORTS[CFHA]),
        HCE: ["/usr/bin/ha_cluster_exporter", "--log.level=error",
              f"--web.listen-address=127.0.0.1:{PORTS[HCE]}"],
        PGE: ["/usr/bin/prometheus-postgres-exporter", "--log.level=error",
              f"--web.listen-address=127.0.0.1:{PORTS[PGE]}"],
    }  # fmt: skip
    # lib/pq reads a key=value DSN; the same socket and database cfha's collectors use. cfha
    # runs with the environment of its shipped unit (deploy/systemd/cfha-exporter.service).
    env = {
        PGE: {"DATA_SOURCE_NAME": f"{conninfo} sslmode=disable"},
        CFHA: {**unit_environment(REPO), "PYTHONPATH": str(REPO)},
    }
    if before is not None:
        argv[BEFORE] = exporter_argv(before, config, PORTS[BEFORE])
        env[BEFORE] = {**unit_environment(before), "PYTHONPATH": str(before)}
    pids: dict[str, int] = {}
    try:
        for name, command in argv.items():
            log = work / f"{node}-{name}.log"
            pids[name] = lab.spawn(node, command, env=env.get(name), log_path=log)
        yield pids
    finally:
        for pid in pids.values():
            lab.stop_spawned(pid)


def peer_failures(log: Path, offset: int) -> dict[str, dict[str, Any]]:
    """What prometheus-postgres-exporter logged after `offset`: each collector that failed, how
    many times, and its first error."""
    text = log.read_text(errors="replace")[offset:] if log.exists() else ""
    failed: dict[str, dict[str, Any]] = {}
    for name, error in COLLECTOR_FAILED.findall(text):
        entry = failed.setdefault(name, {"count": 0, "error": error})
        entry["count"] += 1
    return failed


def probe(
    lab: Lab, node: str, runs: int, work: Path, *, idle: int = 0, before: Path | None = None
) -> dict[str, Any]:
    """Run the interleaved measurement inside `node` with its exporters (and `idle`
    connections held open to cfha-exporter)."""
    pge_log = work / f"{node}-{PGE}.log"
    offset = len(pge_log.read_text(errors="replace")) if pge_log.exists() else 0
    with exporters(lab, node, work, before) as pids:
        targets = [f"--target={name}=http://127.0.0.1:{PORTS[name]}/metrics" for name in pids]
        if idle:
            targets.append(f"--hold={CFHA}={idle}")
        done = lab.run(
            node,
            [sys.executable, "-m", "bench.scrape_probe", "--runs", str(runs),
             "--conninfo", lab.node(node).pg_dsn(), *targets],
            timeout=60 + runs * 3.0,
            env={"PYTHONPATH": str(REPO)},
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"scrape_probe in {node} failed: {done.stderr[-3000:]}")
        measured: dict[str, Any] = json.loads(done.stdout)
        measured["memory"] = {name: memory(pid) for name, pid in pids.items()}
    measured["peer_failures"] = {PGE: peer_failures(pge_log, offset)}
    return measured


def summarise(measured: dict[str, Any]) -> dict[str, Any]:
    scrapes: dict[str, list[float]] = measured["scrapes"]
    median = {name: statistics.median(s) for name, s in scrapes.items()}
    p90 = {name: quantile(s, 0.9) for name, s in scrapes.items()}
    raw = statistics.median(measured["raw_total"])
    peers = median[HCE] + median[PGE]
    rss = {name: m["VmRSS"] for name, m in measured["memory"].items()}
    versus_before = (
        {"ratio_to_before": median[CFHA] / median[BEFORE], "rss_before_bytes": rss[BEFORE]}
        if BEFORE in median
        else {}
    )
    return {
        **versus_before,
        "median_seconds": median,
        "p90_seconds": p90,
        "raw_probes_median_seconds": raw,
        "raw_probes_p90_seconds": quantile(measured["raw_total"], 0.9),
        "raw_parts_median_seconds": {
            k: statistics.median(v) for k, v in measured["raw_parts"].items()
        },
        "cfha_collector_median_seconds": {
            k: statistics.median(v) for k, v in measured["collector_durations"].items()
        },
        "peers_median_seconds": peers,
        "ratio_to_peers": median[CFHA] / peers,
        "ratio_to_raw_probes": median[CFHA] / raw,
        "rss_bytes": rss,
        "peak_rss_bytes": {name: m["VmHWM"] for name, m in measured["memory"].items()},
        "ratio_rss_to_peers": rss[CFHA] / (rss[HCE] + rss[PGE]),
        "page_bytes": measured["page_bytes"],
        "page_samples": measured["page_samples"],
        "samples": {"scrapes": scrapes, "raw_total": measured["raw_total"]},
        "peer_failures": measured["peer_failures"],
    }


def reseed(lab: Lab, hosts: int) -> None:
    """Replace cfdb's report tables on the primary with `hosts` hosts; wait for the standby."""
    primary = lab.primary()
    hubs = hubs_from_ha_info(render.ha_info_json(lab.config), lab.node_names)
    dsn = lab.node(primary).pg_dsn_host()
    with psycopg.connect(dsn, autocommit=True, client_encoding="UTF8") as conn:
        seed(conn, hosts, datetime.now(UTC).replace(microsecond=0), 1, hubs)
        conn.execute(b"VACUUM ANALYZE")
        target = conn.execute(b"SELECT pg_current_wal_lsn()::text").fetchone()
    assert target is not None
    standby = lab.node(lab.other(primary)).pg_dsn_host()
    deadline = time.monotonic() + 120
    with psycopg.connect(standby, autocommit=True) as conn:
        while True:
            row = conn.execute(
                b"SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target[0],)
            ).fetchone()
            if row is not None and row[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not replay the new cfdb in 120 s")
            time.sleep(0.1)


def run(
    runs: int,
    hosts: int,
    idle: int,
    lab_id: int | None,
    majors: tuple[int, ...] = MAJORS,
    *,
    before: Path | None = None,
) -> dict[str, Any]:
    """Every case on a lab of each PostgreSQL major in turn (one lab at a time)."""
    result: dict[str, Any] = {"runs": runs, "cases": []}
    for major in majors:
        result["cases"] += cases_on(major, runs, hosts, idle, lab_id, before=before)
    save("full_scrape", result)
    return result


def cases_on(
    major: int, runs: int, hosts: int, idle: int, lab_id: int | None, *, before: Path | None
) -> list[dict[str, Any]]:
    lab = Lab(lab_id) if lab_id is not None else claim_free_lab()
    cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cfha-bench-scrape-") as tmp:
        lab.up(seed_hosts=SMALL_CFDB, pg_major=major)
        pg = {"lab": lab.lab_id, "pg_major": major, "pg_version": lab.postgres().version}
        try:
            roles = {lab.primary(): "primary", lab.standby(): "standby"}
            for size in (SMALL_CFDB, hosts):
                if size != SMALL_CFDB:
                    reseed(lab, size)
                for node, role in roles.items():
                    for held in (0, idle) if size == SMALL_CFDB and idle else (0,):
                        measured = probe(lab, node, runs, Path(tmp), idle=held, before=before)
                        summary = summarise(measured)
                        cases.append({"cfdb_hosts": size, "node": node, "role": role,
                                      "idle_connections": held, **pg, **summary})  # fmt: skip
        finally:
            lab.down()
    return cases


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for case in result["cases"]:
        med, rss = case["median_seconds"], case["rss_bytes"]
        idle = case.get("idle_connections", 0)
        crowd = f", {idle:,} idle connections open" if idle else ""
        out.append(
            f"full scrape, PostgreSQL {case['pg_version']}, {case['role']} ({case['node']}), "
            f"cfdb {case['cfdb_hosts']:,} hosts{crowd}: "
            f"cfha {med[CFHA] * 1e3:.1f} ms vs peers {med[HCE] * 1e3:.1f} + "
            f"{med[PGE] * 1e3:.1f} ms -> {case['ratio_to_peers']:.2f} (goal <= {GOAL_VS_PEERS}); "
            f"vs raw probes {case['raw_probes_median_seconds'] * 1e3:.1f} ms -> "
            f"{case['ratio_to_raw_probes']:.2f} (goal <= {GOAL_VS_RAW}); RSS "
            f"{rss[CFHA] / 2**20:.1f} MiB vs {rss[HCE] / 2**20:.1f} + {rss[PGE] / 2**20:.1f} MiB"
        )
        if "ratio_to_before" in case:
            out.append(
                f"    against --before: {med[BEFORE] * 1e3:.1f} ms -> "
                f"{case['ratio_to_before']:.2f} x; RSS {case['rss_before_bytes'] / 2**20:.1f} MiB"
            )
        timed = len(case["samples"]["scrapes"][PGE])
        for name, failure in case["peer_failures"][PGE].items():
            out.append(
                f"    {PGE}: its {name} collector failed on {failure['count']} scrapes"
                f" ({timed} timed, plus warm-ups): {failure['error']}; its series are missing"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=10_000, help="the realistic cfdb size")
    parser.add_argument(
        "--idle", type=int, default=1000, help="idle connections held open in the extra cases"
    )
    parser.add_argument("--lab", type=int, default=None, help="lab id (default: a free one)")
    add_pg_argument(parser)
    parser.add_argument(
        "--before", type=Path, default=None, help="a checkout of an earlier cfha to compare with"
    )
    args = parser.parse_args(argv)
    result = run(
        args.runs, args.hosts, args.idle, args.lab, tuple(args.pg or MAJORS), before=args.before
    )
    print("\n".join(lines(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
