"""Headless Chromium (Debian's `chromium`) for page tests: screenshots and the rendered DOM.

Every run gets its own throw-away profile and no network beyond the page's own loopback server
(no QUIC, no background traffic, no component updates). Screenshots go to `artifacts/` in the
repository (git-ignored) so a human can look at them after the run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import REPO

ARTIFACTS = REPO / "artifacts"
DESKTOP = (1280, 1100)
PHONE = (390, 1700)


def chromium_path() -> str | None:
    return shutil.which("chromium")


def _run(url: str, *extra: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (Debian package chromium)")
    with tempfile.TemporaryDirectory(prefix="cfha-chromium-") as profile:
        argv = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={profile}", *extra, url,
        ]  # fmt: skip
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=True, cwd=profile
        )


def screenshot(url: str, name: str, size: tuple[int, int]) -> Path:
    """Save a PNG of the page at `size` (width, height) as artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.unlink(missing_ok=True)
    _run(url, f"--screenshot={path}", f"--window-size={size[0]},{size[1]}")
    if not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {path}")
    print(f"screenshot: {path}")  # the test run names its artifacts
    return path


def dump_dom(url: str) -> str:
    """The DOM after the page has loaded, serialised as HTML."""
    return _run(url, "--dump-dom").stdout
