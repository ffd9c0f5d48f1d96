"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.offline.cibstates import CibStates
from lab.offline.pginstall import MAJORS, PgInstall, PgUnavailable, pg_install
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


@pytest.fixture(scope="module", params=[pytest.param(m, id=f"pg{m}") for m in MAJORS])
def pg(request: pytest.FixtureRequest) -> PgInstall:
    """Each tested PostgreSQL major in turn (test ids `pg15`, `pg18`).

    A major that is not installed here skips its tests, saying why (as for other missing tools).
    A module whose subject does not depend on the server version overrides this fixture with
    `tests.support.pgskip.newest_pg()`.
    """
    try:
        return pg_install(int(request.param))
    except PgUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def pg_pair(pg: PgInstall) -> Iterator[PgPair]:
    """A real PostgreSQL primary (hub1) streaming to a standby (hub2), per test module and major."""
    pair = PgPair(pg)
    try:
        pair.start()
        yield pair
    finally:
        pair.close()
