"""`make demo` as a user runs it: it comes up, everything it prints answers on 127.0.0.1, the
humans' notifications show in its terminal, it brings cfha back when the lab is rebuilt under it,
and `make demo-down` stops it leaving nothing behind.

The demo runs on a free lab id of its own (`--lab-id free`), beside the session's lab.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from lab.cluster import Lab
from lab.lifecycle import unavailable_reason
from lab.product.promstack import http_get_bytes
from lab.product.stack import missing_binaries

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180.0


class Output:
    """The demo's stdout, read line by line in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._process = process
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        """After the process ended: the rest of its output, then the pipe closed."""
        self._thread.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text, re.MULTILINE)
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"no {pattern!r} in the demo's output:\n{self.text[-4000:]}")


def python_m(*argv: str) -> None:
    """`python -m ARGV...` from the checkout, as a user types it in another terminal."""
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_demo_comes_up_shows_everything_and_goes_down() -> None:
    reason = unavailable_reason()
    if reason or missing_binaries():
        pytest.skip(reason or f"not installed: {missing_binaries()}")
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.product.demo", "--lab-id", "free"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = Output(process)
    lab_id = int(out.wait_for(r"^lab (\d+)$", 30).group(1))
    try:
        ready = float(out.wait_for(r"ready in (\d+) s", READY_TIMEOUT).group(1))
        out.wait_for("Stop with Ctrl-C", 10)
        urls = re.findall(r"http://127\.0\.0\.1:\d+[^\s]*", out.text)
        status_pages = [u for u in urls if re.fullmatch(r"http://127\.0\.0\.1:\d+/", u)]
        assert len(status_pages) == 2, out.text
        for url in status_pages:
            assert b"hub" in http_get_bytes(url)
            assert b"cfha_" in http_get_bytes(f"{url}metrics")
        for name in ("Prometheus alerts", "Alertmanager"):
            base = re.search(rf"{name}\s+(http://127\.0\.0\.1:\d+)", out.text)
            assert base, out.text
            http_get_bytes(f"{base.group(1)}/-/ready")
        token_file, jobs_url = re.findall(r"\$\(cat (\S+)\)\" (\S+/api/jobs)", out.text)[0]
        token = Path(token_file).read_text().strip()
        request = urllib.request.Request(jobs_url)
        request.add_header("Authorization", f"Bearer {token}")
        assert b'"jobs"' in http_get_bytes(request)
        # what reaches a human is printed as it arrives: the heartbeat comes at once
        out.wait_for(r"\[cfha-heartbeat\] FIRING CfHaWatchdog", 60)
        # The lab rebuilt under the demo (what a restore that cannot repair does): the demo says
        # so and starts cfha in the hubs again, at the same addresses, with the same journals.
        journals = sorted(Path(token_file).parent.glob("hub*/journal-*.db"))
        assert journals, token_file
        for command in ("down", "up"):
            python_m("lab", "--id", str(lab_id), command)
        out.wait_for("the lab was stopped or rebuilt under the demo", 30)
        back = out.wait_for(r"cfha runs again in hub1 and hub2 \((\d+) s\)", 60)
        for url in status_pages:
            assert b"cfha_" in http_get_bytes(f"{url}metrics")
        assert b'"jobs"' in http_get_bytes(request)
        assert sorted(Path(token_file).parent.glob("hub*/journal-*.db")) == journals
        started = time.monotonic()
        python_m("lab.product.demo", "--down", "--lab-id", str(lab_id))
        assert process.wait(timeout=30) == 0
        out.wait_for("demo stopped; nothing left running", 5)
        assert not Lab(lab_id).exists()
        assert not Path(token_file).parent.parent.exists()  # the demo's own files too
        print(
            f"\ndemo: ready in {ready:.0f} s, cfha back {back.group(1)} s after the lab was"
            f" rebuilt, down in {time.monotonic() - started:.1f} s"
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=120)
        out.close()
        if Lab(lab_id).exists():
            Lab(lab_id).down()
