"""The remediator's webhook under load: acknowledgement latency at a fixed offered rate, maximum
throughput, and a storm of duplicate deliveries.

The real service: `cfha-remediator serve` (one process: hypercorn's event loop, the default 4
request threads, the job worker) on 127.0.0.1, a bearer token, a fresh journal on the same disk
as a hub's /var/lib (SQLite, WAL, fsync on commit) for every scenario.

**No cluster command can run.** The kill switch file exists from the start: the job worker
refuses every job at its first check (`kill_switch`), before it reads the cluster, so neither a
read (crm_mon, cibadmin) nor an action ever runs; `dry_run: true` is set as well. Every
accepted alert still takes the full intake path (token, JSON, validation, policy, dedupe,
journal commit with fsync, 202), and the worker still journals a refusal for every job, as it
would while paused. After each scenario the journal is checked: no step ever started, and every
finished job was refused by `kill_switch`.

Scenarios (`CfHaFailCountAtThreshold` for `cfvirtip`, a cluster action that the default policy
accepts on every hub):
- open loop at 100 requests/s (scheduled sends, latency from the scheduled time): 1-alert and
  50-alert payloads of new episodes (every alert becomes a job: the worst case, 5,000 jobs/s at
  50 alerts), and a 50-alert group sent again and again (Alertmanager re-sending a firing group:
  every alert a duplicate). Each scenario runs `--repetitions` times in rotating order on a fresh
  server, samples pooled. Baselines beside it: `GET /healthz` at the same rate (the HTTP floor of
  this server, hypercorn + Flask) and one fsync'd SQLite commit on the same disk (the floor of
  "journaled before 202"); the server's CPU time per request is recorded too;
- closed loop (8 senders back to back): maximum requests/s, and alerts/s;
- duplicate storm: one alert delivered 500 times by 10 concurrent senders (both hubs'
  Alertmanager peers, retries, repeats): exactly one job, every delivery acknowledged.

    .venv/bin/python -m bench.webhook_load [--seconds S] [--rate R]
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import argument_parser, quantile, save, stop, wait_http
from bench.loadgen import Request, Run, closed_loop, open_loop
from lab.loopback import free_port

TOKEN = "bench-token-0123456789abcdef"
GOAL_P99_SECONDS = 0.020
STARTS_AT = "2027-01-15T08:00:00.000Z"
_fingerprints = itertools.count(1)


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    journal: Path

    def auth(self) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {TOKEN}"),)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the service's process, which serves the
        requests and runs the jobs."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def remediator(work: Path) -> Iterator[Server]:
    """A fresh `cfha-remediator serve` with its own journal, paused (kill switch engaged)."""
    work.mkdir(parents=True)
    token, paused = work / "token", work / "paused"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    paused.write_text("benchmark: never act\n")
    port = free_port()
    config = work / "remediator.yml"
    config.write_text(json.dumps({
        "cluster": "bench", "node": "hub1", "dry_run": True,
        "journal": str(work / "journal.db"), "kill_switch_file": str(paused),
        "redecide_after_seconds": 3600,
        "web": {"listen_address": f"127.0.0.1:{port}", "token_file": str(token)},
    }))  # fmt: skip
    with (work / "remediator.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "remediator", "--config.file", str(config), "serve"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            yield Server(port, proc.pid, work / "journal.db")
        finally:
            stop(proc)


def alert(fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        # the remediation request's copy of the alert, as alerts/ routes it (alerts/README.md)
        "labels": {"alertname": "CfHaFailCountAtThreshold", "cluster": "bench",
                   "remediation": "resource_cleanup", "cfha_route": "remediator", "node": "hub2",
                   "resource": "cfvirtip", "severity": "info"},
        "annotations": {"summary": "cfvirtip failed on hub2 and reached its migration-threshold"},
        "startsAt": STARTS_AT,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph?g0.expr=cfha",
        "fingerprint": fingerprint,
    }  # fmt: skip


def payload(alerts: list[dict[str, Any]]) -> bytes:
    return json.dumps({
        "version": "4", "groupKey": '{}/{remediation=~".+"}:{alertname="CfHaFailCount"}',
        "truncatedAlerts": 0, "status": "firing", "receiver": "cfha-remediator",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid", "alerts": alerts,
    }).encode()  # fmt: skip


def new_alerts(count: int) -> list[dict[str, Any]]:
    return [alert(f"{next(_fingerprints):016x}") for _ in range(count)]


def webhook(server: Server, alerts_per_request: int) -> Callable[[int], Request]:
    def make(_i: int) -> Request:
        body = payload(new_alerts(alerts_per_request))
        return Request("POST", "/webhook", body, server.auth())

    return make


def healthz(_i: int) -> Request:
    return Request("GET", "/healthz")


def stats(run: Run) -> dict[str, Any]:
    lat = sorted(run.latencies)

    def q(p: float) -> float:
        return quantile(lat, p) if lat else float("nan")

    lags = [r.send_lag for r in run.replies]
    return {
        "requests": len(run.replies),
        "errors": len(run.errors),
        "first_errors": run.errors[:3],
        "statuses": run.statuses(),
        "p50_seconds": q(0.50),
        "p90_seconds": q(0.90),
        "p99_seconds": q(0.99),
        "max_seconds": lat[-1] if lat else float("nan"),
        "max_send_lag_seconds": max(lags) if lags else 0.0,
        "requests_per_second": len(run.replies) / run.seconds if run.seconds else 0.0,
    }


def check_decisions(name: str, run: Run, alerts_per_request: int) -> dict[str, int]:
    """Every alert of the scenario was decided as meant (accepted when new, a duplicate when
    repeated), never ignored: a policy that stopped matching would make this benchmark measure
    the cheap `no_rule` path without saying so. New alerts past the job queue's bound are
    refused with `queue_full` (journaled, counted): that is a decision too, never a drop."""
    counts = acknowledged(run)
    sent = len(run.replies) * alerts_per_request
    expected = "duplicates" if "repeated" in name else "accepted"
    decided = counts[expected] + (counts["queue_full"] if expected == "accepted" else 0)
    if decided != sent:
        raise AssertionError(f"{name}: {counts} for {sent} alerts sent; expected all {expected}")
    return counts


def check_journal(server: Server) -> dict[str, Any]:
    """Read-only: nothing ran; every finished job was refused by the kill switch, or at intake
    because the job queue was full (its bound: 5,000 new jobs a second outrun the worker)."""
    with sqlite3.connect(f"file:{server.journal}?mode=ro", uri=True, timeout=30) as db:
        steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
        by_state = dict(db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        refused = "SELECT refused_by, count(*) FROM jobs WHERE state = 'refused' GROUP BY 1"
        refused_by = dict(db.execute(refused).fetchall())
    allowed = {"kill_switch", "queue_full"}
    if steps or set(refused_by) - allowed or set(by_state) - {"queued", "refused"}:
        raise AssertionError(f"the journal shows work: {steps} steps, {by_state}, {refused_by}")
    return {"jobs_by_state": by_state, "refused_by": refused_by}


def fsync_commit_floor(work: Path, runs: int = 200) -> float:
    """Median of one small committed SQLite transaction (WAL, synchronous=FULL) on this disk."""
    db = sqlite3.connect(str(work / "floor.db"), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        samples = []
        for i in range(runs):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}" * 20,))
            db.execute("COMMIT")
            samples.append(time.perf_counter() - started)
    finally:
        db.close()
    return statistics.median(samples)


def acknowledged(run: Run) -> dict[str, int]:
    """Sum of the 202 answers' counts."""
    total = {"accepted": 0, "duplicates": 0, "queue_full": 0}
    for reply in run.replies:
        if reply.status == 202:
            answer = json.loads(reply.body)
            total["accepted"] += len(answer["accepted"])
            total["duplicates"] += int(answer["duplicates"])
            total["queue_full"] += sum(r["refused_by"] == "queue_full" for r in answer["refused"])
    return total


def storm(server: Server, deliveries: int, senders: int) -> dict[str, Any]:
    body = payload([alert(f"{next(_fingerprints):016x}")])
    run = closed_loop("127.0.0.1", server.port,
                      lambda _i: Request("POST", "/webhook", body, server.auth()),
                      senders=senders, seconds=120, limit=deliveries)  # fmt: skip
    counts = acknowledged(run)
    fingerprint = json.loads(body)["alerts"][0]["fingerprint"]
    with sqlite3.connect(f"file:{server.journal}?mode=ro", uri=True, timeout=30) as db:
        jobs = db.execute("SELECT count(*) FROM jobs WHERE fingerprint = ?",
                          (fingerprint,)).fetchone()[0]  # fmt: skip
    return {**stats(run), **counts, "jobs_for_the_alert": jobs, "senders": senders}


def repeats(server: Server, alerts_per_request: int) -> Callable[[int], Request]:
    """The same group again and again (Alertmanager re-sending a firing group): duplicates."""
    body = payload(new_alerts(alerts_per_request))
    return lambda _i: Request("POST", "/webhook", body, server.auth())


SCENARIOS: dict[str, Callable[[Server], Callable[[int], Request]] | None] = {
    "healthz (baseline)": None,
    "1 alert, new": lambda s: webhook(s, 1),
    "50 alerts, new": lambda s: webhook(s, 50),
    "50 alerts, repeated": lambda s: repeats(s, 50),
}
CLOSED_LOOP = ("healthz (baseline)", "1 alert, new", "50 alerts, new")


def open_loop_scenario(server: Server, name: str, rate: float, count: int) -> tuple[Run, float]:
    factory = SCENARIOS[name]
    make = healthz if factory is None else factory(server)
    open_loop("127.0.0.1", server.port, make, rate=rate, count=int(rate))  # 1 s warm-up
    cpu = server.cpu_seconds()
    measured = open_loop("127.0.0.1", server.port, make, rate=rate, count=count)
    return measured, server.cpu_seconds() - cpu


def run(seconds: float, rate: float, repetitions: int) -> dict[str, Any]:
    """Each open-loop scenario `repetitions` times in rotating order (a fresh server each time,
    so no scenario inherits another's backlog), samples pooled; then the closed loops and the
    storm."""
    count = int(seconds * rate)
    result: dict[str, Any] = {"rate": rate, "seconds": seconds, "repetitions": repetitions,
                              "load_average_before": os.getloadavg()[0], "open_loop": {},
                              "closed_loop": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cfha-bench-webhook-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        result["fsync_commit_floor_seconds"] = fsync_commit_floor(root)
        pooled: dict[str, Run] = {name: Run() for name in SCENARIOS}
        p99s: dict[str, list[float]] = {name: [] for name in SCENARIOS}
        cpu: dict[str, float] = dict.fromkeys(SCENARIOS, 0.0)
        decisions: dict[str, Counter[str]] = {name: Counter() for name in SCENARIOS}
        names = list(SCENARIOS)
        for rep in range(repetitions):
            for i, name in enumerate(names[rep % len(names) :] + names[: rep % len(names)]):
                with remediator(root / f"open-{rep}-{i}") as server:
                    measured, used = open_loop_scenario(server, name, rate, count)
                    check_journal(server)
                if not name.startswith("healthz"):
                    per_request = 50 if name.startswith("50") else 1
                    decisions[name].update(check_decisions(name, measured, per_request))
                pooled[name].replies += measured.replies
                pooled[name].errors += measured.errors
                pooled[name].seconds += measured.seconds
                p99s[name].append(stats(measured)["p99_seconds"])
                cpu[name] += used
        for name, measured in pooled.items():
            result["open_loop"][name] = {
                **stats(measured),
                "p99_per_repetition_seconds": p99s[name],
                "server_cpu_per_request_seconds": cpu[name] / max(1, len(measured.replies)),
                "decisions": dict(decisions[name]),
            }
        for index, name in enumerate(CLOSED_LOOP):
            with remediator(root / f"closed-{index}") as server:
                factory = SCENARIOS[name]
                make = healthz if factory is None else factory(server)
                measured = closed_loop("127.0.0.1", server.port, make, senders=8,
                                       seconds=seconds / 2)  # fmt: skip
                result["closed_loop"][name] = {**stats(measured), **check_journal(server)}
            if not name.startswith("healthz"):
                check_decisions(name, measured, 50 if name.startswith("50") else 1)
        with remediator(root / "storm") as server:
            result["duplicate_storm"] = {**storm(server, 500, 10), **check_journal(server)}
    result["load_average_after"] = os.getloadavg()[0]
    save("webhook_load", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    out = [f"fsync'd SQLite commit on this disk: {result['fsync_commit_floor_seconds'] * 1e3:.2f} "
           "ms (median)"]  # fmt: skip
    for name, s in result["open_loop"].items():
        out.append(
            f"{name} at {result['rate']:.0f}/s: p50 {s['p50_seconds'] * 1e3:.1f} ms, p99 "
            f"{s['p99_seconds'] * 1e3:.1f} ms (goal <= {GOAL_P99_SECONDS * 1e3:.0f}), max "
            f"{s['max_seconds'] * 1e3:.1f} ms; server CPU "
            f"{s['server_cpu_per_request_seconds'] * 1e3:.2f} ms/request ({s['requests']} "
            f"requests, {s['errors']} errors, statuses {s['statuses']})"
            + (f"; decisions {s['decisions']}" if s.get("decisions") else "")
        )
    for name, s in result["closed_loop"].items():
        out.append(f"{name}, closed loop (8 senders): {s['requests_per_second']:.0f} requests/s, "
                   f"p50 {s['p50_seconds'] * 1e3:.1f} ms")  # fmt: skip
    st = result["duplicate_storm"]
    out.append(
        f"duplicate storm: {st['requests']} deliveries from {st['senders']} senders -> "
        f"{st['jobs_for_the_alert']} job ({st['accepted']} accepted, {st['duplicates']} "
        f"duplicates), p50 {st['p50_seconds'] * 1e3:.1f} ms, p99 {st['p99_seconds'] * 1e3:.1f} ms"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per repetition")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args(argv)
    print("\n".join(lines(run(args.seconds, args.rate, args.repetitions))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
