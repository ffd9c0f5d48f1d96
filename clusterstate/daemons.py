"""CFEngine's daemons on this hub, by their pid files: cf-hub (collects reports; only on the active
hub) and cf-serverd (serves policy and keys; on both hubs).

Each daemon writes its PID into `<workdir>/<name>.pid` at start (`WritePID` in cfengine/core,
removed at exit). A daemon runs when that PID is alive *and* its process name is the daemon's:
a stale file whose PID a new process reused is not a running daemon. One file and one /proc
read per daemon, so it costs nothing next to listing every process.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DAEMONS = ("cf-hub", "cf-serverd")
DaemonStateName = Literal["running", "stopped", "absent", "unreadable"]
DAEMON_STATES: tuple[DaemonStateName, ...] = ("running", "stopped", "absent", "unreadable")
DAEMON_STATE_HELP = (
    "its pid file names a live process of that name",
    "it exists but is stopped (SIGSTOP, or traced): frozen, it does no work",
    "no pid file, or its process is gone (or the PID now belongs to another program)",
    "the pid file or the process could not be read (permissions)",
)
PROC = Path("/proc")


@dataclass(frozen=True)
class DaemonState:
    name: str
    state: DaemonStateName
    pid: int | None = None
    detail: str | None = None

    @property
    def running(self) -> bool | None:
        """Doing its work (a stopped process is not); None when unreadable."""
        return None if self.state == "unreadable" else self.state == "running"


def read_daemon(name: str, piddir: Path, proc: Path = PROC) -> DaemonState:
    """One daemon's state; never raises."""
    pidfile = piddir / f"{name}.pid"
    pid = _pid(name, pidfile)
    if isinstance(pid, DaemonState):
        return pid
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ESRCH:
            return DaemonState(name, "absent", pid, f"PID {pid} of {pidfile} is gone")
        return DaemonState(name, "unreadable", pid, f"/proc/{pid}: {exc.strerror or exc}")
    comm, state = _comm_and_state(stat)
    if comm != name[:15]:  # the kernel keeps 15 characters of the name
        return DaemonState(name, "absent", pid, f"PID {pid} is {comm!r}, not {name}")
    named: dict[str | None, tuple[DaemonStateName, str | None]] = {
        "Z": ("absent", f"PID {pid} has exited"),
        "X": ("absent", f"PID {pid} has exited"),
        "T": ("stopped", f"PID {pid} is stopped"),
        "t": ("stopped", f"PID {pid} is stopped (traced)"),
    }
    found, detail = named.get(state, ("running", None))
    return DaemonState(name, found, pid, detail)


def _pid(name: str, pidfile: Path) -> int | DaemonState:
    try:
        text = pidfile.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return DaemonState(name, "absent", detail=f"no {pidfile}")
    except OSError as exc:
        return DaemonState(name, "unreadable", detail=f"{pidfile}: {exc.strerror or exc}")
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not first.isdigit():
        return DaemonState(name, "absent", detail=f"{pidfile} holds no PID")
    return int(first)


def _comm_and_state(stat: str) -> tuple[str | None, str | None]:
    """`pid (comm) S ...`: comm may itself hold spaces and parentheses, the last `)` ends it."""
    start, end = stat.find("("), stat.rfind(")")
    if start < 0 or end < start:
        return None, None
    rest = stat[end + 1 :].split()
    return stat[start + 1 : end], rest[0] if rest else None


@dataclass(frozen=True)
class Daemons:
    """CFEngine's daemons on this hub, by name."""

    states: Mapping[str, DaemonState]

    def get(self, name: str) -> DaemonState | None:
        return self.states.get(name)


def read_daemons(piddir: Path, names: tuple[str, ...] = DAEMONS) -> Daemons:
    return Daemons({name: read_daemon(name, piddir) for name in names})
