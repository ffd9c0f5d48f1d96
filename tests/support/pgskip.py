"""The PostgreSQL a test runs on when the server version is not what it tests."""

from __future__ import annotations

import pytest

from lab.offline.pginstall import PgInstall, PgUnavailable, newest_installed


def newest_pg() -> PgInstall:
    """The newest tested major installed here (override the `pg` fixture with it); skips,
    saying why, when none is."""
    try:
        return newest_installed()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
