"""bench/summary.py: each benchmark's rows from the result file it writes, the goal verdicts, and
the table of `python -m bench` (read from a temporary results directory)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import (
    common,
    full_scrape,
    hub_scrape,
    pacemaker_scale,
    pg_scrape,
    readiness_scrape,
    resync,
    summary,
    webhook_load,
)
from bench.loadgen import Run
from bench.summary import Row
from tests.bench import results
from tests.bench.results import RESULTS


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where bench.common.save writes during the test (never bench/results)."""
    folder = tmp_path / "results"
    monkeypatch.setattr(common, "RESULTS_DIR", folder)
    return folder


def saved(name: str, result: dict[str, Any], results_dir: Path) -> dict[str, Any]:
    """The result as the summary reads it: written by the benchmarks' own `save`."""
    path = common.save(name, result)
    assert path == results_dir / f"{name}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_full_scrape_rows(results_dir: Path) -> None:
    rows = summary.full_scrape(saved("full_scrape", results.full_scrape_result(), results_dir))
    where = "PostgreSQL 15.18, primary (hub1), cfdb 50 hosts"
    assert rows[:3] == [
        Row(f"full scrape vs the two peer exporters, {where}", "38.0 ms (p90 40.0 ms)",
            "37.0 ms + 8.1 ms = 45.1 ms", "0.84", "<= 1.0", "met"),
        Row(f"full scrape vs the raw probes back to back, {where}", "38.0 ms", "43.5 ms", "0.87",
            "<= 1.3", "met"),
        Row(f"exporter RSS, {where}", "62.0 MiB", "16.0 + 17.0 = 33.0 MiB", "1.88"),
    ]  # fmt: skip
    where = (
        "PostgreSQL 18.6, standby (hub2), cfdb 10,000 hosts"
        " (prometheus-postgres-exporter's bgwriter collector failing)"
    )
    assert [(r.figure.split(", ", 1)[1], r.ratio, r.verdict) for r in rows[3:]] == [
        (where, "1.11", "missed"),
        (where, "1.25", "met"),
        (where, "1.88", ""),
    ]


def test_pacemaker_scale_rows(results_dir: Path) -> None:
    rows = summary.pacemaker_scale(
        saved("pacemaker_scale", results.pacemaker_scale_result(), results_dir)
    )
    assert rows == [
        Row("pacemaker collector, 10 resources (crm_mon + parse + metrics)", "35.1 ms",
            "crm_mon 32.5 ms", "1.08"),
        Row("pacemaker collector + exposition (476 series), 10 resources", "37.5 ms",
            "crm_mon 32.5 ms; ha_cluster_exporter scrape 65.1 ms", "1.15"),
        Row("pacemaker collector, 500 resources (crm_mon + parse + metrics)", "205.7 ms",
            "crm_mon 144.3 ms", "1.43"),
        Row("pacemaker collector + exposition (20,076 series), 500 resources", "344.2 ms",
            "crm_mon 144.3 ms; ha_cluster_exporter scrape 291.7 ms", "2.39"),
    ]  # fmt: skip


def test_hub_scrape_rows_judge_the_goal_only_at_100000_hosts(results_dir: Path) -> None:
    rows = summary.hub_scrape(saved("hub_scrape", results.hub_scrape_result(), results_dir))
    assert rows == [
        Row("hub collector, PostgreSQL 18.6, 1,000 hosts, primary", "1.3 ms",
            "count(*) of the 3 tables 0.2 ms", "6.50"),
        Row("hub collector, PostgreSQL 18.6, 1,000 hosts, standby", "1.4 ms",
            "count(*) of the 3 tables 0.4 ms", "3.50"),
        Row("hub collector, PostgreSQL 18.6, 100,000 hosts, primary", "46.5 ms",
            "count(*) of the 3 tables 21.8 ms", "2.13", "<= 50 ms", "met"),
        Row("hub collector, PostgreSQL 18.6, 100,000 hosts, standby", "54.5 ms",
            "count(*) of the 3 tables 24.0 ms", "2.27", "<= 50 ms", "missed"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("collector", "verdict"), [(0.0499, "met"), (0.050, "met"), (0.0501, "missed")]
)
def test_hub_scrape_goal_at_its_limit(collector: float, verdict: str, results_dir: Path) -> None:
    result = saved("hub_scrape", results.hub_scrape_result(collector), results_dir)
    assert summary.hub_scrape(result)[2].verdict == verdict


@pytest.mark.parametrize(
    ("added", "verdict"), [(0.0033, "met"), (0.0049, "met"), (0.0051, "missed")]
)
def test_readiness_scrape_row(added: float, verdict: str, results_dir: Path) -> None:
    result = saved("readiness_scrape", results.readiness_scrape_result(added), results_dir)
    row, other = summary.readiness_scrape(result)
    assert row.figure == "full scrape with failover readiness, PostgreSQL 15.18, 10,047 client keys"
    assert row.baseline == "without it 18.0 ms" and row.goal == "< +5.0 ms"
    assert row.value.startswith(f"{(0.018 + added) * 1e3:.1f} ms (+{added * 1e3:.1f} ms; keys")
    assert row.verdict == verdict
    assert other.figure.startswith("full scrape with failover readiness, PostgreSQL 18.6,")
    assert other.verdict == "met"


def test_webhook_load_rows(results_dir: Path) -> None:
    rows = summary.webhook_load(saved("webhook_load", results.webhook_load_result(), results_dir))
    floor = "GET /healthz 2.6 ms / 15.9 ms; fsync'd commit 0.2 ms"
    assert rows == [
        Row("webhook ack at 100/s, 1 alert, new: p50 / p99", "2.8 ms / 5.2 ms", floor, "0.33",
            "p99 <= 20 ms", "met"),
        Row("webhook ack at 100/s, 50 alerts, new: p50 / p99", "6.0 ms / 12.4 ms", floor, "0.78",
            "p99 <= 20 ms", "met"),
        Row("webhook ack at 100/s, 50 alerts, repeated: p50 / p99", "4.2 ms / 25.0 ms", floor,
            "1.57", "p99 <= 20 ms", "missed"),
        Row("webhook throughput (closed loop, 8 senders), 1 alert, new",
            "800 req/s (800 alerts/s)", "GET /healthz 1300 req/s", "0.62"),
        Row("webhook throughput (closed loop, 8 senders), 50 alerts, new",
            "150 req/s (7,500 alerts/s)", "GET /healthz 1300 req/s", "0.12"),
        Row("duplicate storm: 500 deliveries of one alert, 10 senders",
            "1 job; answers: 500 x 202; p99 25.2 ms", "exactly 1 job, every delivery 202", "",
            "1 job", "met"),
    ]  # fmt: skip


@pytest.mark.parametrize(("p99", "verdict"), [(0.020, "met"), (0.0201, "missed")])
def test_webhook_goal_at_its_limit(p99: float, verdict: str, results_dir: Path) -> None:
    result = saved("webhook_load", results.webhook_load_result(repeated_p99=p99), results_dir)
    assert summary.webhook_load(result)[2].verdict == verdict


def test_duplicate_storm_missed_by_a_second_job_or_a_refused_delivery(results_dir: Path) -> None:
    result = results.webhook_load_result()
    result["duplicate_storm"]["jobs_for_the_alert"] = 2
    assert summary.webhook_load(saved("webhook_load", result, results_dir))[-1].verdict == "missed"

    result = results.webhook_load_result()
    replies = results.run_of([0.004] * 499).replies + results.run_of([0.9], status=503).replies
    result["duplicate_storm"].update(webhook_load.stats(Run(replies=replies, seconds=1.5)))
    row = summary.webhook_load(saved("webhook_load", result, results_dir))[-1]
    assert (row.value, row.verdict) == ("1 job; answers: 499 x 202, 1 x 503; p99 4.0 ms", "missed")


def test_resync_rows(results_dir: Path) -> None:
    rows = summary.resync(saved("resync", results.resync_result(), results_dir))
    assert rows == [
        Row("re-sync of a standby, PostgreSQL 15.18, 100 MB database (131 MB copied)", "0.59 s",
            "bare pg_basebackup + start 0.46 s", "1.28", "<= 1.2", "missed"),
        Row("re-sync of a standby, PostgreSQL 15.18, 999 MB database (1,030 MB copied)",
            "2.51 s", "bare pg_basebackup + start 2.45 s", "1.02", "<= 1.2", "met"),
    ]  # fmt: skip


def test_pg_scrape_row(results_dir: Path) -> None:
    rows = summary.pg_scrape(saved("pg_scrape", results.pg_scrape_result(), results_dir))
    assert rows == [
        Row("postgres collector alone, PostgreSQL 15.18, /metrics (reference)", "1.7 ms",
            "its SQL 0.2 ms", "7.39"),
        Row("postgres collector alone, PostgreSQL 18.6, /metrics (reference)", "1.8 ms",
            "its SQL 0.2 ms", "7.20"),
    ]  # fmt: skip


def test_compare_ha_cluster_exporter_row(results_dir: Path) -> None:
    result = saved("compare_ha_cluster_exporter", results.compare_result(), results_dir)
    assert summary.compare_ha_cluster_exporter(result) == [
        Row("offline healthy CIB, /metrics (replayed corosync; reference)", "31.2 ms",
            "ha_cluster_exporter 47.7 ms", "0.65")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "report"),
    [("full_scrape", full_scrape.lines), ("pacemaker_scale", pacemaker_scale.lines),
     ("webhook_load", webhook_load.lines), ("resync", resync.lines),
     ("hub_scrape", hub_scrape.lines), ("pg_scrape", pg_scrape.lines),
     ("readiness_scrape", readiness_scrape.lines)],
)  # fmt: skip
def test_fixture_reads_as_the_benchmark_reads_its_own_result(
    name: str, report: Callable[[dict[str, Any]], list[str]], results_dir: Path
) -> None:
    """The fixtures are shaped as the benchmarks write them: their own printers read them."""
    assert report(saved(name, RESULTS[name](), results_dir))


@pytest.mark.parametrize(
    ("value", "limit", "verdict"),
    [(0.99, 1.0, "met"), (1.0, 1.0, "met"), (1.000001, 1.0, "missed"), (1.3, 1.3, "met"),
     (1.31, 1.3, "missed"), (0.020, 0.020, "met"), (0.0200001, 0.020, "missed"),
     (float("nan"), 1.0, "missed")],
)  # fmt: skip
def test_judged(value: float, limit: float, verdict: str) -> None:
    assert summary.judged(value, limit) == verdict


def save_all(results_dir: Path) -> None:
    for name, build in RESULTS.items():
        common.save(name, build())


def test_main_prints_and_writes_the_table_of_every_result(
    results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_all(results_dir)
    assert summary.main([], results_dir=results_dir) == 0
    printed = capsys.readouterr().out
    assert (results_dir / "summary.md").read_text() == printed
    lines = printed.splitlines()
    assert lines[:2] == ["| figure | cfha | baseline (same run) | ratio | goal | |",
                         "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    assert len(lines) == 2 + 6 + 4 + 4 + 2 + 6 + 2 + 2 + 2 + 1
    assert all(line.count("|") == 7 for line in lines)
    assert lines[2].startswith(
        "| full scrape vs the two peer exporters, PostgreSQL 15.18, primary (hub1)"
    )
    assert lines[-1].startswith("| offline healthy CIB")
    assert ("| exporter RSS growth per 1,000 scrapes after 500, 3,000 scrapes at 20/s (offline) | "
            "39 KiB | VmRSS 60.0 -> 60.1 MiB |  | <= 100 KiB | met |") in lines  # fmt: skip
    assert ("| re-sync of a standby, PostgreSQL 15.18, 100 MB database (131 MB copied) | 0.59 s "
            "| bare pg_basebackup + start 0.46 s | 1.28 | <= 1.2 | missed |") in lines  # fmt: skip


def test_unnamed_means_the_results_present(
    results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common.save("pg_scrape", results.pg_scrape_result())
    common.save("resync", results.resync_result())
    assert summary.main([], results_dir=results_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| re-sync of a standby, PostgreSQL 15.18, 100 MB database (131 MB copied)",
        "| re-sync of a standby, PostgreSQL 15.18, 999 MB database (1,030 MB copied)",
        "| postgres collector alone, PostgreSQL 15.18, /metrics (reference)",
        "| postgres collector alone, PostgreSQL 18.6, /metrics (reference)",
    ]


def test_cells_escape_the_table_separator(results_dir: Path) -> None:
    result = results.full_scrape_result()
    result["cases"][0]["node"] = "hub|1"
    common.save("full_scrape", result)
    text, problems = summary.table(["full_scrape"], results_dir)
    assert problems == []
    assert "primary (hub\\|1)" in text
    assert all(line.replace("\\|", "").count("|") == 7 for line in text.splitlines())


def test_a_named_result_that_is_missing_is_said(
    results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common.save("pg_scrape", results.pg_scrape_result())
    assert summary.main(["pg_scrape", "resync"], results_dir=results_dir) == 1
    out = capsys.readouterr().out
    assert "| postgres collector alone" in out
    assert f"Not in the table: resync: no result, {results_dir / 'resync.json'} is missing" in out
    assert "Traceback" not in out
    assert (results_dir / "summary.md").read_text() == out


@pytest.mark.parametrize(
    ("content", "says"),
    [("", "is not readable JSON"), ('{"sizes": [', "is not readable JSON"),
     ("\xff", "is not readable JSON"),  # not UTF-8
     ("null", "is not shaped as bench.hub_scrape writes it (TypeError"),
     ('{"machine": {}}', "is not shaped as bench.hub_scrape writes it (KeyError: 'sizes')"),
     ('{"sizes": [{"postgresql": "18.6", "hosts": 1000, "primary": {}}]}',
      "(KeyError: 'collector_median_seconds')")],
)  # fmt: skip
def test_a_malformed_result_is_said_and_the_others_still_shown(
    content: str, says: str, results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common.save("pg_scrape", results.pg_scrape_result())
    (results_dir / "hub_scrape.json").write_text(content, encoding="latin-1")
    assert summary.main(["hub_scrape", "pg_scrape"], results_dir=results_dir) == 1
    out = capsys.readouterr().out
    [problem] = [line for line in out.splitlines() if line.startswith("Not in the table")]
    assert problem.startswith(f"Not in the table: hub_scrape: {results_dir / 'hub_scrape.json'}")
    assert says in problem
    assert "| postgres collector alone" in out


def test_an_unknown_name_is_said(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert summary.main(["pg_scrap"], results_dir=results_dir) == 1
    out = capsys.readouterr().out
    assert "Not in the table: pg_scrap: no such benchmark (known: full_scrape, " in out


def test_no_results_at_all_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absent = tmp_path / "results"
    assert summary.main([], results_dir=absent) == 1
    assert capsys.readouterr().err == f"no results in {absent}: run `python -m bench` first\n"
    assert not absent.exists()
