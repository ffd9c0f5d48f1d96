"""`make demo`: the lab cluster with cfha running on both hubs, everything on 127.0.0.1.

Runs in the foreground until Ctrl-C (or `make demo-down` from another terminal), then stops
everything it started and tears the lab down. The demo uses lab id 0, the one `make lab-up` uses.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lab.cluster import Lab
from lab.config import CFENGINE_DIR

DEMO_LAB_ID = 0
EXPORTER_PORT = 9732
# Fixed local ports make the printed addresses stable; any free port is used when taken.
LOCAL_PORTS = {"hub1": 19732, "hub2": 19733}


@dataclass(frozen=True)
class DemoService:
    node: str
    what: str
    url: str


def exporter_config(lab: Lab, node: str) -> Path:
    """The exporter's YAML for a lab hub, written where the node can read it."""
    spec = lab.node(node)
    path = spec.root / "cfha-exporter.yml"
    path.write_text(
        "cluster: cfcluster\n"
        f"node: {node}\n"
        "collectors:\n"
        "  postgres:\n"
        f"    conninfo: '{spec.pg_dsn()}'\n"
        f"    expected_standbys: [{lab.other(node)}]\n"
    )
    return path


def start_exporters(lab: Lab) -> list[DemoService]:
    services = []
    for node in lab.node_names:
        config = exporter_config(lab, node)
        argv = [
            sys.executable, "-m", "exporter", "--config.file", str(config),
            "--web.listen-address", f"0.0.0.0:{EXPORTER_PORT}",
        ]  # fmt: skip
        lab.spawn(node, argv, log_path=lab.node(node).root / "cfha-exporter.log")
        port = _forward(lab, node, EXPORTER_PORT, LOCAL_PORTS[node])
        services.append(DemoService(node, "status page", f"http://127.0.0.1:{port}/"))
        services.append(DemoService(node, "metrics", f"http://127.0.0.1:{port}/metrics"))
    return services


def start_cf_hub_stand_in(lab: Lab) -> None:
    """Keep cfdb's reports fresh as cf-hub would (only the active hub's copy acts)."""
    for node in lab.node_names:
        argv = [
            sys.executable,
            "-m",
            "lab.cfhub",
            "--dsn",
            lab.node(node).pg_dsn(),
            "--interval",
            "60",
        ]
        lab.spawn(node, argv, log_path=lab.node(node).root / "cf-hub-stand-in.log")


def _forward(lab: Lab, node: str, port: int, preferred: int) -> int:
    try:
        return lab.forward(node, port, local_port=preferred)
    except OSError:  # the preferred port is taken: any free one will do
        return lab.forward(node, port)


def print_banner(services: list[DemoService]) -> None:
    print("\ncfha demo is running: two CFEngine hubs (hub1, hub2) with pacemaker and PostgreSQL.\n")
    for s in services:
        print(f"  {s.node:5} {s.what:12} {s.url}")
    print(
        "\nBreak something (in another terminal, from this directory):\n"
        "  .venv/bin/python -m lab inject stop-standby     # the standby's PostgreSQL dies\n"
        "  .venv/bin/python -m lab inject kill-primary     # failover; PGSQL.lock stays behind\n"
        "  .venv/bin/python -m lab inject ban              # a leftover cli-ban constraint\n"
        "  .venv/bin/python -m lab status                  # what the cluster looks like now\n"
        "  .venv/bin/python -m lab restore                 # back to healthy\n"
        f"\nThe hubs' CFEngine files are under {CFENGINE_DIR} inside each node.\n"
        "Stop with Ctrl-C here, or `make demo-down`.\n",
        flush=True,
    )


def pid_file(lab: Lab) -> Path:
    return lab.config.root.parent / f"cfha-demo-{lab.lab_id}.pid"


def run() -> int:
    lab = Lab(DEMO_LAB_ID)
    if lab.exists():
        print(f"lab {lab.lab_id} is already up: replacing it")
        lab.down()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    pid_file(lab).write_text(f"{os.getpid()}\n")
    try:
        started = time.monotonic()
        print("starting the lab cluster (about 20 s)...", flush=True)
        lab.up()
        start_cf_hub_stand_in(lab)
        services = start_exporters(lab)
        print(f"ready in {time.monotonic() - started:.0f} s")
        print_banner(services)
        stop.wait()
        print("\nstopping the demo...", flush=True)
    finally:
        lab.down()
        with contextlib.suppress(FileNotFoundError):
            pid_file(lab).unlink()
    print("demo stopped; nothing left running")
    return 0


def down() -> int:
    """Stop a running demo (its process tears everything down), or a leftover lab."""
    lab = Lab(DEMO_LAB_ID)
    try:
        pid = int(pid_file(lab).read_text())
    except (FileNotFoundError, ValueError):
        pid = 0
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    if lab.exists():
        lab.down()
    print("demo is down")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__)
    parser.add_argument("--down", action="store_true", help="stop a running demo")
    args = parser.parse_args(argv)
    return down() if args.down else run()


if __name__ == "__main__":
    raise SystemExit(main())
