"""bench/common.py: the timing loop, the quantile every benchmark reports, the machine record,
servers inside a lab node, and the result files."""

from __future__ import annotations

import json
import os
import platform
import random
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import common
from bench.common import LabServer, Timing, lab_servers, machine, measure, quantile


class FakeClock:
    """perf_counter stand-in: time moves only when the measured call says it took some."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_measure_counts_the_runs_and_not_the_warm_ups() -> None:
    clock = FakeClock()
    # the two warm-ups are slow (cold caches, first connection): they must not show
    durations = iter([5.0, 3.0, 0.030, 0.010, 0.020, 0.050, 0.040])
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        clock.now += next(durations)

    timing = measure(call, runs=5, warmup=2, clock=clock)
    assert calls == 7
    assert timing.samples == pytest.approx([0.030, 0.010, 0.020, 0.050, 0.040])
    assert timing.median == pytest.approx(0.030)
    assert timing.percentile(0.8) == pytest.approx(0.040)
    assert timing.percentile(0.99) == pytest.approx(0.050)


def test_measure_uses_the_real_clock_by_default() -> None:
    timing = measure(lambda: time.sleep(0.002), runs=3, warmup=1)
    assert len(timing.samples) == 3
    assert all(0.002 <= sample < 5 for sample in timing.samples)


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.01, 1), (0.07, 7), (0.5, 50), (0.9, 90), (0.95, 95), (0.99, 99), (0.999, 100),
     (1.0, 100)],
)  # fmt: skip
def test_quantile_is_the_nearest_rank(q: float, expected: int) -> None:
    """p99 of 1..100 is 99: 99 % of the samples are at or below it (not the maximum)."""
    samples = [float(v) for v in range(1, 101)]
    random.Random(7).shuffle(samples)
    assert quantile(samples, q) == expected


def test_quantile_of_few_samples() -> None:
    assert quantile([3.0], 0.99) == 3.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.51) == 3.0
    assert Timing([0.3, 0.1, 0.2]).percentile(0.9) == 0.3
    with pytest.raises(ValueError, match="no samples"):
        quantile([], 0.5)


def test_machine_records_what_the_results_were_measured_on() -> None:
    record = machine()
    assert set(record) == {"cpus", "cpu_model", "memory_bytes", "load_average_1m", "python",
                           "kernel", "date"}  # fmt: skip
    assert record["cpus"] == os.cpu_count()
    assert isinstance(record["cpu_model"], str)
    assert record["cpu_model"]
    assert isinstance(record["memory_bytes"], int)
    assert record["memory_bytes"] > 0
    assert isinstance(record["load_average_1m"], float)
    assert record["python"] == platform.python_version()
    assert record["kernel"] == platform.release()
    assert isinstance(record["date"], str)
    assert record["date"][:2] == "20"


def test_machine_without_proc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A kernel without /proc/cpuinfo or /proc/meminfo still gives a record."""
    real_lines = common._lines
    monkeypatch.setattr(common, "_lines", lambda _path: real_lines(str(tmp_path / "absent")))
    record = machine()
    assert (record["cpu_model"], record["memory_bytes"]) == ("unknown", 0)


def test_save_writes_the_result_beside_the_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "results"
    monkeypatch.setattr(common, "RESULTS_DIR", folder)
    path = common.save("pg_scrape", {"scrape_median_seconds": 0.0017, "runs": 300})
    assert path == folder / "pg_scrape.json"
    written = json.loads(path.read_text())
    assert list(written) == ["machine", "scrape_median_seconds", "runs"]
    assert set(written["machine"]) == set(machine())
    assert written["scrape_median_seconds"] == 0.0017


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"up 1\n")

    def log_message(self, format: str, *args: object) -> None:  # no request lines in test output
        pass


@pytest.fixture
def answering_port() -> Iterator[int]:
    """A port on 127.0.0.1 that answers every GET: what the lab's forwarder would lead to."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class FakeLab:
    """Records what lab_servers asks of the lab; every forward leads to `port`."""

    def __init__(self, port: int, fail_on: str | None = None) -> None:
        self.port = port
        self.fail_on = fail_on
        self.spawned: list[tuple[str, tuple[str, ...], Path]] = []
        self.forwarded: list[tuple[str, int]] = []
        self.stopped: list[int] = []

    def spawn(self, node: str, argv: Sequence[str], *, log_path: Path) -> int:
        if argv[0] == self.fail_on:
            raise RuntimeError(f"{argv[0]} did not start")
        self.spawned.append((node, tuple(argv), log_path))
        return 100 + len(self.spawned)

    def forward(self, node: str, port: int) -> int:
        self.forwarded.append((node, port))
        return self.port

    def stop_spawned(self, pid: int) -> None:
        self.stopped.append(pid)


def test_lab_servers_yields_the_urls_and_stops_every_server(
    answering_port: int, tmp_path: Path
) -> None:
    lab = FakeLab(answering_port)
    servers = {
        "first": LabServer("hub1", ["first", "--flag"], 9001, tmp_path / "first.log"),
        "second": LabServer("hub2", ["second"], 9002, tmp_path / "second.log"),
    }
    with lab_servers(lab, servers) as urls:
        assert urls == {
            name: f"http://127.0.0.1:{answering_port}/metrics" for name in ("first", "second")
        }
        assert lab.spawned == [
            ("hub1", ("first", "--flag"), tmp_path / "first.log"),
            ("hub2", ("second",), tmp_path / "second.log"),
        ]
        assert lab.forwarded == [("hub1", 9001), ("hub2", 9002)]
        assert lab.stopped == []
    assert lab.stopped == [101, 102]


def test_lab_servers_stops_what_started_when_a_start_fails(
    answering_port: int, tmp_path: Path
) -> None:
    lab = FakeLab(answering_port, fail_on="second")
    servers = {
        "first": LabServer("hub1", ["first"], 9001, tmp_path / "first.log"),
        "second": LabServer("hub1", ["second"], 9002, tmp_path / "second.log"),
    }
    with pytest.raises(RuntimeError, match="second did not start"), lab_servers(lab, servers):
        pytest.fail("the block must not run")
    assert lab.stopped == [101]
