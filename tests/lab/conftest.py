"""Fixtures and timing report for the lab tests.

`lab_cluster` / `healthy_lab` come from tests/support/lab_fixtures.py via tests/conftest.py (one
lab per session).
The live tests record durations in `LAB_TIMINGS`; they are printed at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

LAB_TIMINGS: dict[str, float] = {}
_session_start = time.monotonic()


@pytest.fixture(scope="session")
def lab_timings() -> Iterator[dict[str, float]]:
    yield LAB_TIMINGS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not LAB_TIMINGS:
        return
    LAB_TIMINGS["whole test session incl. lab up and down (s)"] = time.monotonic() - _session_start
    terminalreporter.section("lab timings")
    for name, seconds in LAB_TIMINGS.items():
        terminalreporter.write_line(f"{name:45} {seconds:7.1f}")
