"""Long-running processes a lab user starts in a node (`spawn`) and port forwarders (`forward`).

Both are recorded in the state file, so `down` stops them from any process.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from lab.errors import LabError
from lab.nodes import LabNodes
from lab.procs import is_alive, terminate
from lab.state import Tracked


def spawn(
    lab: LabNodes,
    node: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    log_path: Path | None,
    user: str | None,
) -> int:
    runner = lab.runner(node)
    name = Path(argv[0]).name
    log = log_path or lab.node(node).logs / f"spawn-{name}-{time.time_ns()}.log"
    ref = runner.launch(argv, log_path=log, user=user, env=env)
    entry = Tracked(kind="spawn", node=node, proc=ref, argv=tuple(argv), log=str(log))
    lab.store.update(lambda s: replace(s, tracked=(*s.tracked, entry)))
    return ref.pid


def stop_tracked(lab: LabNodes, pid: int, timeout: float) -> None:
    state = lab.load_state()
    found = [t for t in state.tracked if t.proc.pid == pid]
    terminate([t.proc for t in found], timeout=timeout)
    lab.store.update(lambda s: replace(s, tracked=tuple(t for t in s.tracked if t.proc.pid != pid)))


def is_running(lab: LabNodes, pid: int) -> bool:
    """Whether `pid` is a process of this lab's state (spawned or forwarder) and still runs.

    False once the lab was stopped or rebuilt: its processes went with it."""
    try:
        state = lab.load_state()
    except LabError:
        return False
    return any(t.proc.pid == pid and is_alive(t.proc) for t in state.tracked)


def forward(
    lab: LabNodes, node: str, port: int, *, target_host: str = "127.0.0.1", local_port: int = 0
) -> int:
    runner = lab.runner(node)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", local_port))
        listener.listen(64)
        bound = listener.getsockname()[1]
        fd = listener.fileno()
        os.set_inheritable(fd, True)
        argv = [
            sys.executable,
            "-m",
            "lab.forwarder",
            "--listen-fd",
            str(fd),
            "--to",
            f"{target_host}:{port}",
        ]
        log = lab.node(node).logs / f"forward-{bound}.log"
        ref = runner.launch(argv, log_path=log, net_only=True, pass_fds=(fd,))
    finally:
        listener.close()
    entry = Tracked(
        kind="forward",
        node=node,
        proc=ref,
        argv=tuple(argv),
        log=str(log),
        port=port,
        target_host=target_host,
        local_port=bound,
    )
    lab.store.update(lambda s: replace(s, tracked=(*s.tracked, entry)))
    return int(bound)
