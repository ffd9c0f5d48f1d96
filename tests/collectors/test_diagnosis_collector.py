"""The diagnosis collector never holds a scrape longer than `wait_seconds`: a primary that
accepts TCP and never answers (a real listening socket that never accepts: libpq waits its whole
connect timeout) is published by a later scrape, while the earlier ones go on."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from clusterstate.postgres import PgFacts, WalReceiver
from clusterstate.tools import SubprocessRunner
from exporter.collectors.diagnosis import DiagnosisCollector, DiagnosisConfig
from exporter.scrape import CollectorError, CollectorResult
from lab.offline.clusterstates import PGSQL, pacemaker
from servicekit.metrics import MetricWriter

WAITING = PgFacts(up=True, role="standby", timeline=1, receiver=WalReceiver("waiting"))


@pytest.fixture
def silent_primary() -> Iterator[int]:
    """A port where the TCP handshake completes and nothing ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def results(port: int) -> dict[str, CollectorResult]:
    params = replace(PGSQL, master_ip="127.0.0.1", pgport=port, pgdata="/nonexistent/data")
    state = pacemaker("hub2", pgsql=params)
    return {
        "pacemaker": CollectorResult("pacemaker", True, 0.0, 0.0, facts=state),
        "postgres": CollectorResult("postgres", True, 0.0, 0.0, facts=WAITING),
    }


def test_a_slow_handshake_is_published_by_a_later_scrape(silent_primary: int) -> None:
    collector = DiagnosisCollector(DiagnosisConfig(wait_seconds=0.3), "hub2", SubprocessRunner())
    try:
        started = time.monotonic()
        with pytest.raises(CollectorError) as first:
            collector.collect(MetricWriter(), results(silent_primary))
        assert first.value.reason == "timeout"
        assert time.monotonic() - started < 1.0  # the scrape did not wait for the handshake
        deadline = time.monotonic() + 10
        found = None
        while found is None:
            assert time.monotonic() < deadline
            time.sleep(0.5)
            scraped = time.monotonic()
            try:
                found = collector.collect(MetricWriter(), results(silent_primary))
            except CollectorError as exc:
                assert exc.reason == "timeout"  # still reading: no earlier diagnosis to show
            assert time.monotonic() - scraped < 1.0
        assert found.cause.value == "primary_unreachable"
        assert found.handshake is not None and "timeout expired" in (found.handshake.error or "")
    finally:
        collector.close()
