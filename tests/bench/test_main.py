"""`python -m bench [NAME ...]`: the names it accepts, and what it does when a benchmark fails.
The benchmarks themselves are stood in for: nothing here measures anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

import bench.__main__ as bench_main
from bench import summary as bench_summary
from tests.conftest import REPO


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Three stand-in benchmarks (the second one breaks) and a stand-in summary, recording
    what was run and summarised."""
    record: dict[str, list[str]] = {"ran": [], "summarised": []}

    def benchmark(name: str, broken: bool = False) -> Callable[[], int]:
        def run() -> int:
            record["ran"].append(name)
            if broken:
                raise RuntimeError(f"{name} broke")
            return 0

        return run

    fakes = {"first": benchmark("first"), "broken": benchmark("broken", broken=True),
             "third": benchmark("third")}  # fmt: skip
    monkeypatch.setattr(bench_main, "BENCHMARKS", fakes)

    def summary(names: list[str]) -> int:
        record["summarised"] += names
        return 0

    monkeypatch.setattr(bench_summary, "main", summary)
    return record


def test_unknown_names_are_rejected_before_anything_runs(
    ran: dict[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_main.main(["first", "frist", "fulll_scrape"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "error: unknown benchmark(s) frist, fulll_scrape; known: first, broken, third" in err
    assert ran == {"ran": [], "summarised": []}


def test_help_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_main.main(["--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: python -m bench [-h] [NAME ...]")
    assert "default: all of full_scrape, pacemaker_scale, hub_scrape, readiness_scrape, " \
        "webhook_load, resync, pg_scrape, soak, compare_ha_cluster_exporter" in out  # fmt: skip


def test_named_benchmarks_run_in_order_and_are_summarised(ran: dict[str, list[str]]) -> None:
    assert bench_main.main(["third", "first"]) == 0
    assert ran == {"ran": ["third", "first"], "summarised": ["third", "first"]}


def test_a_broken_benchmark_costs_only_its_own_result(
    ran: dict[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main.main([]) == 1
    assert ran == {"ran": ["first", "broken", "third"], "summarised": ["first", "third"]}
    captured = capsys.readouterr()
    assert "== broken FAILED (no result in this run)" in captured.out
    assert "RuntimeError: broken broke" in captured.err


def test_no_summary_when_no_benchmark_gave_a_result(
    ran: dict[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty list would ask the summary for every result on disk: earlier runs' figures
    presented as this run's."""
    assert bench_main.main(["broken"]) == 1
    assert ran == {"ran": ["broken"], "summarised": []}
    assert "== no summary: no benchmark gave a result in this run" in capsys.readouterr().out


def test_python_m_bench_rejects_an_unknown_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "no_such_benchmark"], cwd=REPO, check=False,
        capture_output=True, text=True, timeout=60,
        env={"LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: unknown benchmark(s) no_such_benchmark; known: full_scrape," in done.stderr
    assert "Traceback" not in done.stderr
