"""Long-running programs started by tests: output to a log file, stopped by their own PID.

`Daemon` never looks processes up by name; `stop()` signals the PID it started (SIGTERM, then
SIGKILL after a grace period) and waits for it, so nothing is left behind even when a test fails.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lab.polling import poll

T = TypeVar("T")
C_ENV = {"LANG": "C", "LC_ALL": "C"}


class Daemon:
    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = {**os.environ, **C_ENV, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace)

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float = 30.0, every: float = 0.2
) -> T:
    """Call probe until it returns something other than None/False; fail after the deadline."""
    found = poll(
        probe,
        timeout=timeout,
        what=what,
        interval=every,
        done=lambda result: result is not None and result is not False,
        error=AssertionError,
    )
    assert found is not None
    return found


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def plain_http_answered(host: str, port: int, path: str = "/healthz") -> bool:
    """Whether a plain-HTTP GET gets an HTTP answer (a TLS-only port must not give one). The
    connection is closed here whatever happens: urllib leaves it to the garbage collector when
    the server hangs up, and its ResourceWarning then fails whichever test runs next."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True
