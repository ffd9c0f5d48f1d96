"""Running external tools (crm_mon, corosync-cfgtool, pcs, pg_*): argv lists, hard timeouts, LANG=C.

The one interface the exporter and the remediator use for subprocesses, so tests can replace it
with a fake and so every call has the same safety properties: no shell, a timeout that kills the
whole process group, the C locale (stable output to parse), and the caller's environment passed
through (pacemaker tools honour `CIB_file`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from clusterstate.errors import ReadError


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    duration_seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def stderr_tail(self, limit: int = 500) -> str:
        return self.stderr.decode("utf-8", "replace").strip()[-limit:]


class CommandError(ReadError):
    """A command could not run to completion (`reason`: timeout, unavailable, permission)."""

    def __init__(self, reason: str, argv: Sequence[str], message: str) -> None:
        super().__init__(reason, f"{argv[0] if argv else '?'}: {message}")
        self.argv = tuple(argv)


class CommandRunner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        """Run argv to completion or raise CommandError (timeout, unavailable, permission)."""
        ...


def c_locale_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment with the C locale forced, plus `extra`."""
    env = dict(os.environ)
    env.update({"LANG": "C", "LC_ALL": "C"})
    if extra:
        env.update(extra)
    return env


class SubprocessRunner:
    """Runs commands for real. On timeout the whole process group is killed, not just the child.

    `stop()` kills every command still running (their process groups) and refuses new ones: a
    service that is stopping leaves no tool behind, and the threads waiting for them return.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopped = False

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        argv = tuple(argv)
        started = time.monotonic()
        with self._lock:
            if self._stopped:
                raise CommandError("unavailable", argv, "not started: the service is stopping")
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=c_locale_env(env),
                    start_new_session=True,  # its own process group: a timeout kills helpers too
                )
            except FileNotFoundError as exc:
                raise CommandError("unavailable", argv, f"not found: {exc.filename}") from exc
            except PermissionError as exc:
                raise CommandError("permission", argv, f"not executable: {exc}") from exc
            self._running.add(proc)
        try:
            stdout, stderr = proc.communicate(input=input_bytes, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            raise CommandError("timeout", argv, f"no answer within {timeout:g}s") from exc
        finally:
            with self._lock:
                self._running.discard(proc)
        return CommandResult(
            argv=argv,
            returncode=proc.returncode,
            stdout=stdout,
            stderr=stderr,
            duration_seconds=time.monotonic() - started,
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command's whole tree: its process group, its descendants (a helper may have
    left the group with setsid), and whatever still holds its output pipes (a helper whose
    parent already exited). Never wait for a pipe such a process keeps open."""
    pipes = {_pipe_inode(stream) for stream in (proc.stdout, proc.stderr) if stream is not None}
    victims = _descendants(proc.pid) | _pipe_holders(pipes - {None})
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in victims - {os.getpid()}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=REAP_SECONDS)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=REAP_SECONDS)


REAP_SECONDS = 1.0
"""How long a killed command's output may take to close before it is abandoned."""


def _pipe_inode(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_ino
    except (OSError, ValueError):
        return None


def _processes() -> Iterator[tuple[int, int]]:
    """(pid, ppid) of every process this one may read in /proc."""
    with os.scandir("/proc") as entries:
        pids = [int(entry.name) for entry in entries if entry.name.isdigit()]
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1].isdigit():
            yield pid, int(fields[1])


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in _processes():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _pipe_holders(inodes: set[int | None]) -> set[int]:
    """Processes with one of these pipes open (the pipes of the command being killed)."""
    if not inodes:
        return set()
    wanted = {f"pipe:[{inode}]" for inode in inodes}
    holders: set[int] = set()
    for pid, _ppid in _processes():
        with contextlib.suppress(OSError), os.scandir(f"/proc/{pid}/fd") as fds:
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in wanted:
                        holders.add(pid)
                        break
    return holders
