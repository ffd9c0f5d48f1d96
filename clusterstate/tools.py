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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

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
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
