"""Where the shared material beside the project lives (``../shared``, see TEAM.md)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    """The shared folder: ``$CFHA_SHARED_DIR`` when set (``None`` if it does not exist), else
    ``<repo>/../shared``, else ``/work/shared``.

    A worktree such as /work/wt/<name> has no ``../shared``, hence the last fallback.
    """
    configured = os.environ.get("CFHA_SHARED_DIR")
    if configured:
        return Path(configured) if Path(configured).is_dir() else None
    candidates = [REPO_ROOT.parent / "shared", Path("/work/shared")]
    return next((path for path in candidates if path.is_dir()), None)


def pacemaker_fixture_dirs() -> list[Path]:
    """The crm_mon fixture folders of every pacemaker version present, in version order."""
    shared = shared_dir()
    if shared is None:
        return []
    return [
        shared / "fixtures" / "pacemaker" / version
        for version in ("2.0.5", "2.1.5", "3.0.2")
        if (shared / "fixtures" / "pacemaker" / version).is_dir()
    ]
