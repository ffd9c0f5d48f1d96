"""Small helpers shared by the benchmarks: timing loops, process RSS, result files."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_get(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
