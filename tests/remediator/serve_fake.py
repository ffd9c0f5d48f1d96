"""Runs the real HTTP server over the simulated world (used by test_server as a subprocess).

Usage: python -m tests.remediator.serve_fake CONFIG.yml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from lab.loopback import free_port
from remediator.app import create_app
from remediator.config import load_config
from remediator.server import bind, serve

from .conftest import TOKEN
from .fakeworld import World
from .snapshots import standby_failed


def write_config(directory: Path, **web: Any) -> tuple[Path, int]:
    """A configuration for this server in `directory` (token file included, mode 0600) on a
    free loopback port, with `web` settings on top; returns its path and the port."""
    token = directory / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = free_port()
    config = {
        "cluster": "cftest",
        "node": "hub2",
        "journal": str(directory / "journal.db"),
        "kill_switch_file": str(directory / "paused"),
        "web": {"listen_address": f"127.0.0.1:{port}", "token_file": str(token), **web},
    }
    path = directory / "remediator.yml"
    path.write_text(yaml.safe_dump(config))
    return path, port


def main() -> None:
    config = load_config(Path(sys.argv[1]))
    world = World()
    world.set(standby_failed(world.snapshot(config.node_name), "hub2"))
    world.diverge("hub2")
    serve(bind(config), lambda: create_app(config, world.services(config.node_name)))


if __name__ == "__main__":
    main()
