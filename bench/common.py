"""Small helpers shared by the benchmarks: timing loops, process RSS, servers inside a lab node,
result files, the command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lab.offline.pginstall import MAJORS, PgInstall, pg_install
from lab.polling import poll

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, q: float) -> float:
        return quantile(self.samples, q)


def quantile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile (0 < q <= 1): the smallest sample with at least q of all the
    samples at or below it, so the p99 of 100 samples is the 99th, not the largest."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = math.ceil(round(q * len(ordered), 9))  # round: 0.07 * 100 is 7.000000000000001
    return ordered[min(len(ordered), max(1, rank)) - 1]


def measure(
    call: Callable[[], object], runs: int, warmup: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:  # fmt: skip
    for _ in range(warmup):
        call()
    timing = Timing()
    for _ in range(runs):
        started = clock()
        call()
        timing.samples.append(clock() - started)
    return timing


def http_get(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Until `url` answers 200 (TimeoutError, an OSError, after `timeout`)."""
    poll(lambda: http_get(url, timeout=2) is not None, timeout=timeout, what=url, interval=0.05)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class LabProcesses(Protocol):
    """What `lab_servers` needs of a lab (lab.cluster.Lab): start, reach and stop processes."""

    def spawn(self, node: str, argv: Sequence[str], *, log_path: Path) -> int: ...
    def forward(self, node: str, port: int) -> int: ...
    def stop_spawned(self, pid: int) -> None: ...


@dataclass(frozen=True)
class LabServer:
    """A server to run inside a lab node: its command, the port it listens on there, its log."""

    node: str
    argv: Sequence[str]
    port: int
    log_path: Path


@contextmanager
def lab_servers(lab: LabProcesses, servers: Mapping[str, LabServer]) -> Iterator[dict[str, str]]:
    """Start each server inside its node and yield {name: its /metrics URL on 127.0.0.1} (through
    the lab's forwarders) once all of them answer; stop them by PID afterwards, also when the
    start failed."""
    pids: list[int] = []
    try:
        urls = {}
        for name, server in servers.items():
            pids.append(lab.spawn(server.node, server.argv, log_path=server.log_path))
            urls[name] = f"http://127.0.0.1:{lab.forward(server.node, server.port)}/metrics"
        for url in urls.values():
            wait_http(url)
        yield urls
    finally:
        for pid in pids:
            lab.stop_spawned(pid)


def machine() -> dict[str, object]:
    """What a result was measured on, saved with it: cpus, cpu_model, memory_bytes,
    load_average_1m, python, kernel, date."""
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if "model name" in line),
        "unknown",
    )
    memory_kib = next((int(line.split()[1]) for line in _lines("/proc/meminfo")
                       if line.startswith("MemTotal:")), 0)  # fmt: skip
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_bytes": memory_kib * 1024,
        "load_average_1m": os.getloadavg()[0],  # others' work shows in absolute times
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def save(name: str, result: Mapping[str, object]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    return path


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line, described by the first line of its module docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)


def add_pg_argument(parser: argparse.ArgumentParser) -> None:
    """`--pg MAJOR` (repeatable): the PostgreSQL majors to measure on; default every tested one."""
    parser.add_argument(
        "--pg",
        type=int,
        action="append",
        choices=MAJORS,
        metavar="MAJOR",
        help=f"PostgreSQL major to measure on, repeatable (default: all of {MAJORS})",
    )


def pg_installs(majors: Sequence[int] | None) -> list[PgInstall]:
    """The installations of these majors (default: every tested one); PgUnavailable says which
    is missing."""
    return [pg_install(major) for major in majors or MAJORS]
