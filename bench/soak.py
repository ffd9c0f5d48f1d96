"""A soak of the exporter: memory growth over 3,000 scrapes, and the scrape time with 1,000 idle
connections held open against none, in the same run.

Offline, as issue 19's reliability test ran it: a real PostgreSQL pair on loopback (the newest
tested major, 18: what is measured is the exporter, not the server; postgres collector, primary
with its expected standby), pacemaker on a saved CIB (`CIB_file`, the healthy
CFEngine pair of lab/offline/cibstates), and the collectors that fail here failing on every
scrape (corosync: not running; hub: no cfdb tables; cfengine: no /var/cfengine), so the failure
paths soak too. Every scrape collects (`--scrape.reuse-seconds 0`).

- soak: `--scrapes` GETs of /metrics at `--rate` per second; VmRSS every 100 scrapes. Growth
  per 1,000 scrapes is the least-squares slope of VmRSS over the scrapes after `--warmup`.
- idle connections: rounds of (open 1,000 TCP connections that send nothing, wait until the
  server holds them all, 20 timed scrapes, close them) interleaved with 20 timed scrapes without;
  the ratio of the medians. The server closes idle connections after 5 s, so each round opens
  them anew.

    .venv/bin/python -m bench.soak [--scrapes 3000] [--warmup 1000] [--rate 20] [--rounds 10]

Goals: RSS growth <= 100 KiB per 1,000 scrapes after warm-up; the scrape with 1,000 idle
connections open unchanged (ratio about 1).
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import argument_parser, http_get, rss_bytes, save, stop, wait_http
from lab.loopback import free_port
from lab.offline.cibstates import PCMK_TZ, CibStates
from lab.offline.pginstall import MAJORS, pg_install
from lab.offline.pgpair import PgPair

GOAL_GROWTH_KIB = 100.0
IDLE = 1000
PER_ROUND = 20


@contextmanager
def exporter(work: Path, pair: PgPair, cib: Path) -> Iterator[tuple[int, str]]:
    config = work / "exporter.yml"
    config.write_text(
        "cluster: bench\nnode: hub1\ncollectors:\n  postgres:\n"
        f"    conninfo: '{pair.primary.conninfo()}'\n    expected_standbys: [hub2]\n"
        f"  cfengine:\n    workdir: {work / 'no-cfengine'}\n"
    )
    port = free_port()
    env = {**os.environ, "CIB_file": str(cib), "TZ": PCMK_TZ, "LANG": "C", "LC_ALL": "C"}
    argv = [sys.executable, "-m", "exporter", "--config.file", str(config),
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error",
            "--scrape.reuse-seconds", "0"]  # fmt: skip
    with (work / "exporter.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url)
            yield proc.pid, url
        finally:
            stop(proc)


def soak(pid: int, url: str, scrapes: int, warmup: int, rate: float) -> dict[str, Any]:
    samples: list[tuple[int, int]] = [(0, rss_bytes(pid))]
    interval = 1.0 / rate
    next_at = time.monotonic()
    for done in range(1, scrapes + 1):
        http_get(url)
        if done % 100 == 0:
            samples.append((done, rss_bytes(pid)))
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    after = [(n, rss) for n, rss in samples if n >= warmup]
    return {
        "rss_samples": samples,
        "growth_per_1000_bytes": slope(after) * 1000,
        "rss_after_warmup_bytes": after[0][1],
        "rss_end_bytes": samples[-1][1],
    }


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of y over x."""
    xs, ys = [float(x) for x, _ in points], [float(y) for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def timed(url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        http_get(url)
        times.append(time.perf_counter() - started)
    return times


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def idle_connections(pid: int, url: str, rounds: int) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    quiet: list[float] = []
    crowded: list[float] = []
    most_fds = 0
    for _ in range(rounds):
        quiet += timed(url, PER_ROUND)
        baseline_fds = fds(pid)
        idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(IDLE)]
        try:
            deadline = time.monotonic() + 10  # held open: once the server has accepted them all
            while fds(pid) < baseline_fds + IDLE and time.monotonic() < deadline:
                time.sleep(0.01)
            most_fds = max(most_fds, fds(pid))
            crowded += timed(url, PER_ROUND)
        finally:
            for sock in idle:
                sock.close()
    return {
        "quiet_median_seconds": statistics.median(quiet),
        "crowded_median_seconds": statistics.median(crowded),
        "ratio": statistics.median(crowded) / statistics.median(quiet),
        "server_fds_with_idle_connections": most_fds,
        "samples": {"quiet": quiet, "crowded": crowded},
    }


def run(scrapes: int, warmup: int, rate: float, rounds: int) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * IDLE), hard))  # the client ends
    newest = pg_install(max(MAJORS))
    with tempfile.TemporaryDirectory(prefix="cfha-bench-soak-") as tmp, PgPair(newest) as pair:
        work = Path(tmp)
        (work / "states").mkdir()
        cib = CibStates(work / "states").healthy()
        with exporter(work, pair, cib) as (pid, url):
            result = {
                "scrapes": scrapes, "warmup": warmup, "rate": rate, "rounds": rounds,
                "soak": soak(pid, url, scrapes, warmup, rate),
                "idle_connections": idle_connections(pid, url, rounds),
                "rss_final_bytes": rss_bytes(pid),
            }  # fmt: skip
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    save("soak", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    s, i = result["soak"], result["idle_connections"]
    return [
        f"soak, {result['scrapes']:,} scrapes at {result['rate']:g}/s: VmRSS "
        f"{s['rss_after_warmup_bytes'] / 2**20:.1f} MiB after {result['warmup']} -> "
        f"{s['rss_end_bytes'] / 2**20:.1f} MiB; growth {s['growth_per_1000_bytes'] / 1024:.0f} "
        f"KiB per 1,000 scrapes (goal <= {GOAL_GROWTH_KIB:g})",
        f"scrape with {IDLE:,} idle connections open: {i['crowded_median_seconds'] * 1e3:.1f} ms "
        f"vs {i['quiet_median_seconds'] * 1e3:.1f} ms without -> {i['ratio']:.2f} "
        f"(server fds at most {i['server_fds_with_idle_connections']})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--scrapes", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="scrapes per second")
    parser.add_argument("--rounds", type=int, default=10, help="idle-connection rounds")
    args = parser.parse_args(argv)
    print("\n".join(lines(run(args.scrapes, args.warmup, args.rate, args.rounds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
