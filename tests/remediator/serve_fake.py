"""Runs the real gunicorn server over the simulated world (used by test_server as a subprocess).

Usage: python -m tests.remediator.serve_fake CONFIG.yml
"""

from __future__ import annotations

import sys
from pathlib import Path

from remediator.app import create_app
from remediator.config import load_config
from remediator.server import gunicorn_options, serve

from .fakeworld import World
from .snapshots import standby_failed


def main() -> None:
    config = load_config(Path(sys.argv[1]))
    world = World()
    world.set(standby_failed(world.snapshot(config.node_name), "hub2"))
    world.diverge("hub2")
    serve(lambda: create_app(config, world.services(config.node_name)), gunicorn_options(config))


if __name__ == "__main__":
    main()
