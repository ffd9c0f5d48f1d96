"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pgpair import PgPair

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """The shared/ folder (fixtures, references): env CFHA_SHARED_DIR, then beside the repo."""
    candidates = [os.environ.get("CFHA_SHARED_DIR"), REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[PgPair]:
    """A real PostgreSQL primary (hub1) streaming to a standby (hub2), per test module."""
    pair = PgPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.close()
