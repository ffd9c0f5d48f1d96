"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from tests.support.cibstates import CibStates


@pytest.fixture(scope="session")
def cib_states(tmp_path_factory: pytest.TempPathFactory) -> CibStates:
    """Offline pacemaker states built with the real tools, each once per session."""
    return CibStates(tmp_path_factory.mktemp("cibstates"))
