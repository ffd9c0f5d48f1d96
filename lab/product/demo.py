"""`make demo`: the whole cfha product on the lab cluster, everything on 127.0.0.1.

The lab's two hubs run the exporter, the remediator and a cf-hub stand-in; Prometheus (the lab
copy of alerts/rules/) and Alertmanager (the example routing tuned for the lab) run on the
host; `lab.product.stack` brings it all up, as the e2e tests do. The demo prints what to open
and the commands that break things, then stays in the foreground and prints what reaches a human
and what the remediators do, until Ctrl-C (or `make demo-down` from another terminal); then it
stops everything it started and tears the lab down. It uses lab id 0, the one `make lab-up` uses
(`--lab-id N`, or `--lab-id free` for the first free id in 1..20, as the tests use). Its hubs run
PostgreSQL 15, or 18 laid out as on a CFEngine hub with `--pg 18` (`make demo PG=18`).

Its own files (token, journals, Prometheus' data, pid file) live beside the lab's directory, not
in it. If the lab is stopped or rebuilt under it (`lab restore` rebuilds when it cannot repair by
hand), the demo says so, waits until the lab is up again and starts cfha in the hubs again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from lab.cluster import Lab, claim_free_lab
from lab.config import CFENGINE_DIR
from lab.errors import LabError
from lab.pglayout import MAJORS
from lab.product.stack import ProductStack, StackError, StackSettings

DEMO_LAB_ID = 0
# Fixed local ports make the printed addresses stable; any free port is used when taken.
LOCAL_PORTS = {
    "hub1:exporter": 19732,
    "hub2:exporter": 19733,
    "hub1:remediator": 19735,
    "hub2:remediator": 19736,
}
WATCH_INTERVAL = 1.0


def demo_dir(lab: Lab) -> Path:
    """The demo's files, beside the lab's directory: a lab rebuilt under the demo keeps them."""
    return lab.config.root.parent / f"cfha-demo-{lab.lab_id}"


def pid_file(lab: Lab) -> Path:
    return demo_dir(lab) / "demo.pid"


def banner(stack: ProductStack, ready_seconds: float) -> str:
    lab_id = stack.lab.lab_id
    py = ".venv/bin/python"
    lab_cmd = f"{py} -m lab" + ("" if lab_id == DEMO_LAB_ID else f" --id {lab_id}")
    lines = [
        f"\ncfha demo is running (ready in {ready_seconds:.0f} s): two CFEngine hubs, hub1 and "
        f"hub2, with pacemaker and PostgreSQL {stack.lab.postgres().major}, and cfha on both.\n",
        "Open:",
    ]
    for node, hub in stack.hubs.items():
        lines.append(f"  {node}  status page          {hub.exporter_url}/")
        lines.append(f"  {node}  metrics              {hub.exporter_url}/metrics")
    lines.append(f"  Prometheus alerts          {stack.prometheus.base_url}/alerts")
    lines.append(f"  Alertmanager               {stack.alertmanager.base_url}/#/alerts")
    lines.append("  remediator jobs (bearer token):")
    for node, hub in stack.hubs.items():
        lines.append(
            f'    curl -s -H "Authorization: Bearer $(cat {stack.token_file})" '
            f"{hub.remediator_url}/api/jobs    # {node}"
        )
    mode = (
        "DRY RUN: the remediators decide and plan, and execute nothing."
        if stack.settings.dry_run
        else "The remediators act (lab policy: cooldowns and waits shortened, safety checks as "
        "shipped)."
    )
    lines += [
        "",
        "Break something (in another terminal, from this directory):",
        f"  {lab_cmd} inject stop-standby    # standby's PostgreSQL dies -> cleanup (~45 s)",
        f"  {lab_cmd} inject wipe-standby    # its data directory is gone -> re-clone (~55 s)",
        f"  {lab_cmd} inject kill-primary    # failover, then the old primary is re-synced",
        f"  {lab_cmd} inject ban             # a leftover cli-ban -> cleared after 75 s",
        f"  {lab_cmd} inject maintenance     # maintenance-mode: remediation holds back",
        f"  {lab_cmd} inject two-primaries   # split brain: pages, the remediator refuses",
        f"  {lab_cmd} inject replication-auth-rejected  # the primary rejects the standby:"
        " the cause pages, no re-sync",
        f"  {lab_cmd} inject passive-hub-files  # keys, ha.cfg, Mission Portal's config drift on"
        " the passive hub: tickets",
        f"  {lab_cmd} status                 # what the cluster looks like now",
        f"  {lab_cmd} restore                # back to healthy by hand",
        "",
        f"{mode}",
        "The lab runs WITHOUT fencing (stonith disabled, as in the CFEngine guide's test setup):",
        "  the remediators run with guard.require_fencing: false and failover_freeze_seconds: 0,",
        "  and Alertmanager without the fencing gate. Production keeps all three.",
        "Alert timings are the lab copy of the rules: every duration d is 15 s + d/30",
        "  (for: 10m -> 35 s, 15m -> 45 s, 30m -> 75 s); the shipped rules are unchanged.",
        f"The hubs' CFEngine files are under {CFENGINE_DIR} inside each node.",
        "Below: every notification a human receiver gets, and every remediator job.",
        "Stop with Ctrl-C here, or `make demo-down`.\n",
    ]
    return "\n".join(lines)


class Watcher:
    """Prints new notifications (what reached a human) and remediator job changes."""

    def __init__(self, stack: ProductStack) -> None:
        self.stack = stack
        self.seen_notifications = 0
        self.job_states: dict[str, str] = {}

    def poll(self) -> None:
        received = self.stack.sink.received()
        for n in received[self.seen_notifications :]:
            receiver = n.path.strip("/")
            for a in n.alerts:
                labels = a.get("labels", {})
                about = f" {labels['node']}" if labels.get("node") else ""
                _say(f"[{receiver}] {a.get('status', '').upper()} {labels.get('alertname')}{about}")
        self.seen_notifications = len(received)
        for node in self.stack.hubs:
            with contextlib.suppress(StackError, OSError, ValueError):
                for job in self.stack.remediator(node).jobs(limit=20):
                    self._job(node, job)

    def _job(self, node: str, job: dict[str, Any]) -> None:
        key = f"{node}/{job['id']}"
        if self.job_states.get(key) == job["state"]:
            return
        self.job_states[key] = job["state"]
        detail = f" ({job['refused_by']})" if job.get("refused_by") else ""
        took = ""
        if job.get("started_at") and job.get("finished_at"):
            took = f" in {job['finished_at'] - job['started_at']:.1f} s"
        _say(f"[remediator {node}] {job['action']} {job['target']}: {job['state']}{detail}{took}")


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def claim_lab(lab_id: str) -> Lab:
    """The demo's lab: id N (an existing lab N is replaced), or the first free id."""
    if lab_id != "free":
        lab = Lab(int(lab_id))
        if lab.exists():
            print(f"lab {lab.lab_id} is already up: replacing it")
            lab.down()
        return lab
    return claim_free_lab()


def lab_is_up(lab: Lab) -> bool:
    try:
        return lab.load_state().phase == "up"
    except LabError:
        return False


def bring_back(stack: ProductStack, stop: threading.Event) -> None:
    """The lab was stopped or rebuilt under the demo: once it is up again, cfha in its hubs too."""
    _say(
        "the lab was stopped or rebuilt under the demo (`lab restore` rebuilds when it cannot"
        " repair by hand): cfha's exporters, remediators and forwards in the hubs went with it;"
        " waiting for the lab to be up again (Ctrl-C stops the demo)"
    )
    while not stop.wait(WATCH_INTERVAL):
        if lab_is_up(stack.lab):
            started = time.monotonic()
            hubs = stack.bring_back_hubs()
            _say(
                f"cfha runs again in {' and '.join(hubs)} ({time.monotonic() - started:.0f} s):"
                " the same addresses, the same remediator journals"
            )
            return


def run(lab_id: str, dry_run: bool, pg_major: int | None = None) -> int:
    lab = claim_lab(lab_id)
    print(f"lab {lab.lab_id}", flush=True)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    demo_dir(lab).mkdir(mode=0o700, exist_ok=True)
    pid_file(lab).write_text(f"{os.getpid()}\n")
    stack: ProductStack | None = None
    try:
        started = time.monotonic()
        print("starting the lab cluster and cfha (about 30 s)...", flush=True)
        lab.up(pg_major=pg_major)
        settings = StackSettings(
            workdir=demo_dir(lab) / "product", dry_run=dry_run, local_ports=LOCAL_PORTS
        )
        stack = ProductStack(lab, settings)
        stack.start()
        print(banner(stack, time.monotonic() - started), flush=True)
        watcher = Watcher(stack)
        while not stop.wait(WATCH_INTERVAL):
            if stack.lost_hubs():
                bring_back(stack, stop)
            watcher.poll()
        print("\nstopping the demo...", flush=True)
    finally:
        if stack is not None:
            stack.close()
        lab.down()
        shutil.rmtree(demo_dir(lab), ignore_errors=True)
    print("demo stopped; nothing left running")
    return 0


def down(lab_id: int) -> int:
    """Stop a running demo (its process tears everything down), or a leftover lab."""
    lab = Lab(lab_id)
    try:
        pid = int(pid_file(lab).read_text())
    except (FileNotFoundError, ValueError):
        pid = 0
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    if lab.exists():
        lab.down()
    if not (pid and _alive(pid)):
        shutil.rmtree(demo_dir(lab), ignore_errors=True)
    print("demo is down")
    return 0


def _alive(pid: int) -> bool:
    """The process runs (a zombie does not: its parent, not us, has yet to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.product.demo", description=__doc__)
    parser.add_argument("--down", action="store_true", help="stop a running demo")
    parser.add_argument(
        "--lab-id",
        default=str(DEMO_LAB_ID),
        help="the lab instance: a number (default 0), or 'free' for the first free one",
    )
    parser.add_argument(
        "--dry-run",
        "--no-remediation",
        dest="dry_run",
        action="store_true",
        help="the remediators decide, plan and audit everything, and execute nothing",
    )
    parser.add_argument(
        "--pg",
        type=int,
        choices=MAJORS,
        default=None,
        help="the hubs' PostgreSQL major (default: CFHA_LAB_PG, else 15)",
    )
    args = parser.parse_args(argv)
    if args.lab_id != "free" and not args.lab_id.isdigit():
        parser.error("--lab-id: a number or 'free'")
    if args.down:
        return down(int(args.lab_id) if args.lab_id.isdigit() else DEMO_LAB_ID)
    try:
        return run(args.lab_id, args.dry_run, args.pg)
    except (LabError, StackError) as err:
        print(f"demo: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
