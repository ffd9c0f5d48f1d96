"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.offline.cibstates import CibStates
from lab.offline.pgpair import PgPair
from tests.support.lab_fixtures import healthy_lab, lab_cluster  # noqa: F401  (for every package)
from tests.support.pacemaker_tools import require_pacemaker_tools

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pacemaker_tools() -> None:
    """Skips the test when pacemaker's command-line tools are not installed."""
    require_pacemaker_tools()


@pytest.fixture(scope="session")
def cib_states(pacemaker_tools: None, tmp_path_factory: pytest.TempPathFactory) -> CibStates:
    """Offline pacemaker states built with the real tools, each once per session."""
    return CibStates(tmp_path_factory.mktemp("cibstates"))


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[PgPair]:
    """A real PostgreSQL primary (hub1) streaming to a standby (hub2), per test module."""
    pair = PgPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.close()
