"""What bench.full_scrape reads from prometheus-postgres-exporter's log: its failed collectors."""

from __future__ import annotations

from pathlib import Path

from bench import full_scrape
from tests.bench import results

# Written by Debian 12's prometheus-postgres-exporter 0.11.1 against PostgreSQL 18.6 in the lab
# (level info here: the benchmark runs it at level error, which keeps the last two lines).
LOG = """\
ts=2026-12-06T15:10:30.970Z caller=tls_config.go:232 level=info msg="Listening on" address=127.0.0.1:19187
ts=2026-12-06T15:10:33.008Z caller=postgres_exporter.go:645 level=info msg="Semantic version changed" server=/var/cfengine/state/pg:5432 from=0.0.0 to=18.6.0
ts=2026-12-06T15:10:33.015Z caller=collector.go:196 level=error msg="collector failed" name=bgwriter duration_seconds=0.010490966 err="pq: column \\"checkpoints_timed\\" does not exist"
ts=2026-12-06T15:10:33.021Z caller=collector.go:196 level=error msg="collector failed" name=bgwriter duration_seconds=0.000440126 err="pq: column \\"checkpoints_timed\\" does not exist"
"""  # noqa: E501


def test_failed_collectors_are_counted_with_their_first_error(tmp_path: Path) -> None:
    log = tmp_path / "hub1-prometheus-postgres-exporter.log"
    log.write_text(LOG)
    assert full_scrape.peer_failures(log, 0) == {
        "bgwriter": {"count": 2, "error": 'pq: column \\"checkpoints_timed\\" does not exist'}
    }


def test_only_what_was_logged_after_the_offset_counts(tmp_path: Path) -> None:
    log = tmp_path / "hub1-prometheus-postgres-exporter.log"
    log.write_text(LOG)
    assert full_scrape.peer_failures(log, len(LOG)) == {}
    assert full_scrape.peer_failures(tmp_path / "absent.log", 0) == {}


def test_the_report_says_which_peer_collector_failed() -> None:
    printed = full_scrape.lines(results.full_scrape_result())
    assert printed[0].startswith("full scrape, PostgreSQL 15.18, primary (hub1)")
    assert printed[-1] == (
        "    prometheus-postgres-exporter: its bgwriter collector failed on 8 scrapes (3 timed,"
        ' plus warm-ups): pq: column \\"checkpoints_timed\\" does not exist; its series are missing'
    )
