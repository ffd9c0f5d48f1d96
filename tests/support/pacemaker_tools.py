"""Tests that need pacemaker's command-line tools skip, saying which are missing, without them."""

from __future__ import annotations

import pytest

from lab.offline.cibstates import missing_pacemaker_tools


def require_pacemaker_tools() -> None:
    missing = missing_pacemaker_tools()
    if missing:
        pytest.skip(f"pacemaker tools not installed: {', '.join(missing)} (scripts/ensure-debs)")
