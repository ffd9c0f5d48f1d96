"""Reading the shipped systemd units, and a scratch root in which systemd-analyze can check them."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = DEPLOY / "systemd"
HOST_UNIT_DIR = Path("/lib/systemd/system")
INSTALL_PREFIX = "/opt/cfha/current"


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file (continuation lines joined), values in file order."""
    settings: dict[str, list[str]] = {}
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        logical += line
        if logical.endswith("\\"):
            logical = logical[:-1] + " "
            continue
        key, _, value = logical.partition("=")
        settings.setdefault(key.strip(), []).append(" ".join(value.split()))
        logical = ""
    return settings


def exec_start_argv(path: Path, env: dict[str, str]) -> list[str]:
    """ExecStart split as systemd does, with `$VAR` words expanded from the environment file."""
    words = shlex.split(unit_settings(path)["ExecStart"][0])
    argv: list[str] = []
    for word in words:
        if word.startswith("$") and word[1:] in env:
            argv.extend(shlex.split(env[word[1:]]))  # unbraced $VAR splits at whitespace
        else:
            argv.append(word)
    return argv


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def scratch_root(root: Path, launchers: dict[str, Path]) -> Path:
    """A root holding the host's unit library, our units, and /opt/cfha/current/bin launchers.

    `systemd-analyze verify` resolves ExecStart inside the root and needs it executable; the
    launchers exec this checkout's real programs, so the path it checks is a working one.
    """
    shutil.copytree(HOST_UNIT_DIR, root / HOST_UNIT_DIR.relative_to("/"), symlinks=True)
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    for unit in UNITS.glob("*.service"):
        shutil.copy(unit, unit_dir / unit.name)
    bin_dir = root / INSTALL_PREFIX.lstrip("/") / "bin"
    bin_dir.mkdir(parents=True)
    for name, target in launchers.items():
        launcher = bin_dir / name
        launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(str(target))} "$@"\n')
        launcher.chmod(0o755)
    return root
