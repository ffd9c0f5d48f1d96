"""The holder of one lab node: `python -m lab.nodeinit --name hub1 --root DIR`.

Started by `unshare --net --mount --uts --ipc --propagation private`, so it runs in fresh
namespaces. It shapes the node's private view of the machine, then sleeps until SIGTERM; every
other process of the node enters its namespaces with `nsenter -t <holder pid>`.

The mounts exist only in this node's mount namespace (propagation private) and disappear with
its last process. Nothing on the host changes:
- hostname = node name (pitfall P1: the pacemaker node name must equal `uname -n`);
- a fresh sysfs (this network namespace's view), private tmpfs on /run and /dev/shm;
- an overlay over /var (upper layer in DIR/var-upper), so /var/cfengine can be created even
  though the host has none;
- per-node directories bind-mounted over /var/cfengine, /etc/corosync, /var/lib/pacemaker,
  /var/lib/corosync, /var/log/pacemaker, /var/log/corosync;
- a patched copy of ocf-shellfuncs over the original (pitfall P2), and /etc/hosts with the
  node names.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import types
from pathlib import Path

from lab.config import NODE_BIND_DIRS, OCF_SHELLFUNCS
from lab.procs import BASE_ENV

READY_FILE = "holder.ready"


class NodeInitError(RuntimeError):
    """A mount or setup step of the node failed."""


def _run(*argv: str) -> None:
    done = subprocess.run(
        argv, env=BASE_ENV, capture_output=True, text=True, timeout=20, check=False
    )
    if done.returncode != 0:
        raise NodeInitError(f"{' '.join(argv)}: rc={done.returncode} {done.stderr.strip()}")


def mount_plan(root: Path) -> list[tuple[str, ...]]:
    """The mount commands, in order (pure, for tests and for the docs)."""
    plan: list[tuple[str, ...]] = [
        ("mount", "-t", "sysfs", "sysfs", "/sys"),
        ("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"),
        ("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/dev/shm"),  # noqa: S108
        (
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir=/var,upperdir={root / 'var-upper'},workdir={root / 'var-work'}",
            "/var",
        ),
    ]
    plan += [("mount", "--bind", str(root / src), str(dst)) for src, dst in NODE_BIND_DIRS.items()]
    plan += [
        ("mount", "--bind", str(root / "ocf-shellfuncs"), str(OCF_SHELLFUNCS)),
        ("mount", "--bind", str(root / "hosts"), "/etc/hosts"),
    ]
    return plan


def setup(name: str, root: Path) -> None:
    socket.sethostname(name)
    for argv in mount_plan(root):
        if argv[:3] == ("mount", "-t", "overlay"):
            _run(*argv)
            # Mount points under /var that the host lacks are created in the overlay only.
            for dst in NODE_BIND_DIRS.values():
                if dst.is_relative_to("/var"):
                    dst.mkdir(parents=True, exist_ok=True)
            continue
        _run(*argv)
    for directory, mode in (("/run/lock", 0o1777), ("/run/resource-agents", 0o755)):
        Path(directory).mkdir(mode=mode, exist_ok=True)
        Path(directory).chmod(mode)
    _run("ip", "link", "set", "lo", "up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.nodeinit")
    parser.add_argument("--name", required=True)
    parser.add_argument("--root", required=True, type=Path)
    args = parser.parse_args(argv)

    stopping = False

    def on_term(_sig: int, _frame: types.FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        setup(args.name, args.root)
    except (NodeInitError, OSError) as err:
        print(f"nodeinit {args.name}: {err}", file=sys.stderr, flush=True)
        return 1
    (args.root / READY_FILE).write_text("ready\n")
    print(f"nodeinit {args.name}: namespaces ready", flush=True)
    while not stopping:
        signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
