"""Where the shared material beside the project lives (`../shared` in CI: fixtures, reference).

Looked for, in order: `$CFHA_SHARED_DIR`; `shared` beside the checkout (CI's layout); in a git
worktree, `shared` beside the main checkout. Nothing else is assumed about where the checkout
lives. A test that needs the material and finds none is skipped with where it looked, except
under `CI=true`: there it fails, so that a run never passes by skipping what it was meant to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACEMAKER_VERSIONS = ("2.0.5", "2.1.5", "3.0.2")


def main_checkout(repo: Path = REPO_ROOT) -> Path | None:
    """The main checkout of a git worktree (`.git` is then a file naming its git dir)."""
    marker = repo / ".git"
    if not marker.is_file():
        return None
    gitdir_line = marker.read_text().strip()
    if not gitdir_line.startswith("gitdir:"):
        return None
    gitdir = (repo / gitdir_line.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    except OSError:
        return None
    return common.parent


def candidates() -> list[Path]:
    configured = os.environ.get("CFHA_SHARED_DIR")
    if configured:
        return [Path(configured)]
    found = [REPO_ROOT.parent / "shared"]
    main = main_checkout()
    if main is not None:
        found.append(main.parent / "shared")
    return found


def shared_dir() -> Path | None:
    """The shared folder, or None when there is none where it is looked for."""
    return next((path for path in candidates() if path.is_dir()), None)


def not_found(what: str) -> NoReturn:
    """Skip (fail under CI=true) a test whose shared material is missing, saying where it looked."""
    where = ", ".join(str(path) for path in candidates())
    message = f"{what} not found (looked in {where}; set CFHA_SHARED_DIR or provide ../shared)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def pacemaker_fixture_dirs() -> list[Path]:
    """The crm_mon fixture folders of every pacemaker version present, in version order.

    Called while tests are collected: without any, under CI=true, collection fails.
    """
    shared = shared_dir()
    found = [
        shared / "fixtures" / "pacemaker" / version
        for version in PACEMAKER_VERSIONS
        if shared is not None and (shared / "fixtures" / "pacemaker" / version).is_dir()
    ]
    if not found and os.environ.get("CI", "").lower() == "true":
        not_found("the shared pacemaker fixtures")
    return found
