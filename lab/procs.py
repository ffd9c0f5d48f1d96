"""Processes the lab starts: launch detached, identify safely, stop by PID.

A PID alone can be reused, so the lab records (pid, start time) and only signals a process
whose start time still matches. Nothing here looks processes up by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BASE_ENV = {
    "LANG": "C",
    "LC_ALL": "C",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}


class ProcError(RuntimeError):
    """A process could not be started or stopped."""


@dataclass(frozen=True)
class ProcRef:
    """A process identified by its PID and its start time (clock ticks after boot)."""

    pid: int
    start: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProcRef:
        pid, start = data["pid"], data["start"]
        if not isinstance(pid, int) or not isinstance(start, int):
            raise ValueError(f"bad process reference {data!r}")
        return cls(pid=pid, start=start)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (so it lingers not as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(ref: ProcRef) -> bool:
    _reap(ref.pid)
    fields = _stat_fields(ref.pid)
    if fields is None or int(fields[19]) != ref.start:
        return False
    return fields[0] not in ("Z", "X")


def ref_of(pid: int) -> ProcRef:
    start = start_time(pid)
    if start is None:
        raise ProcError(f"process {pid} exited right after it was started")
    return ProcRef(pid=pid, start=start)


def send(ref: ProcRef, sig: int) -> bool:
    """Signal the process if it is still the one we started. True if a signal was sent."""
    if not is_alive(ref):
        return False
    try:
        os.kill(ref.pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(refs: Iterable[ProcRef], timeout: float) -> list[ProcRef]:
    """Poll until every process has exited; return those still alive at the deadline."""
    pending = list(refs)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [r for r in pending if is_alive(r)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return pending


def terminate(refs: Sequence[ProcRef], timeout: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig`, wait up to `timeout`, then SIGKILL whatever is left and wait for it."""
    for ref in refs:
        send(ref, sig)
    left = wait_gone(refs, timeout)
    for ref in left:
        send(ref, signal.SIGKILL)
    still = wait_gone(left, 5.0)
    if still:
        raise ProcError(f"processes did not exit after SIGKILL: {[r.pid for r in still]}")


def netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def is_host_netns(inode: int) -> bool:
    """True for the network namespace this process runs in (the host's, for the lab)."""
    return inode == netns_inode(os.getpid())


def pids_in_netns(inode: int) -> list[ProcRef]:
    """Every process whose network namespace is `inode` (what `ip netns pids` does).

    Refuses our own namespace: the lab only ever collects processes of its nodes.
    """
    if is_host_netns(inode):
        raise ProcError(f"refusing to list the processes of our own network namespace {inode}")
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid() or netns_inode(pid) != inode:
            continue
        start = start_time(pid)
        if start is not None:
            found.append(ProcRef(pid, start))
    return found


def runs_file(pid: int, executable: Path) -> bool:
    """Whether the process runs `executable` (as a path on the host).

    Compared as files (device and inode), not as path strings: /proc/PID/exe reads as the path in
    the process's own mount namespace, which for a node's /var/cfengine is not the host's.
    """
    try:
        running, wanted = os.stat(f"/proc/{pid}/exe"), executable.stat()
    except OSError:
        return False
    return (running.st_dev, running.st_ino) == (wanted.st_dev, wanted.st_ino)


def launch_detached(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    cwd: str = "/",
) -> ProcRef:
    """Start `argv` in its own session, not as our child, output appended to `log_path`.

    A short-lived helper (`python -m lab.daemon`) starts it and exits, so the process is
    reparented to init and outlives us (the `lab up` command returns while the cluster runs).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    helper = [sys.executable, "-m", "lab.daemon", "--log", str(log_path), "--cwd", cwd]
    for fd in pass_fds:
        helper += ["--pass-fd", str(fd)]
    full_env = dict(BASE_ENV if env is None else env)
    done = subprocess.run(
        [*helper, "--", *argv],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
        pass_fds=tuple(pass_fds),
        check=False,
    )
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise ProcError(
            f"could not start {argv[0]!r}: rc={done.returncode} {done.stderr.strip()[-500:]}"
        )
    return ProcRef(pid=int(fields[0]), start=int(fields[1]))
