"""The HTTP server for real: TLS, one process with the job worker inside it,
graceful stop by SIGTERM (over the simulated cluster; the live one is in test_lab)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.remediator.snapshots import cleanup_argv
from tests.support.daemons import plain_http_answered

from .conftest import TOKEN, cleanup_alert, payload
from .serve_fake import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, Path]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    config_file, port = write_config(tmp_path, tls={"certfile": str(cert), "keyfile": str(key)})
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.remediator.serve_fake", str(config_file)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", context=context, timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.1)
        yield url, context, tmp_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def request(
    url: str, context: ssl.SSLContext, data: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_tls_auth_and_background_worker(tls_server: tuple[str, ssl.SSLContext, Path]) -> None:
    url, context, _ = tls_server
    assert request(f"{url}/healthz", context, token=None) == (200, {"status": "ok"})
    status, health = request(f"{url}/healthz", context)
    assert (status, health["status"], health["auth"]) == (200, "ok", "bearer")
    assert request(f"{url}/webhook", context, payload(), token=None)[0] == 401
    assert request(f"{url}/webhook", context, payload(), token="x" * 32)[0] == 401
    status, result = request(f"{url}/webhook", context, payload(cleanup_alert()))
    assert status == 202
    [job_id] = result["accepted"]
    deadline = time.monotonic() + 20  # the background worker takes it
    while True:
        status, job = request(f"{url}/api/jobs/{job_id}", context)
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job["state"] == "succeeded", job
    assert job["steps"][0]["argv"] == list(cleanup_argv("hub2"))
    host, port = url.removeprefix("https://").split(":")
    assert not plain_http_answered(host, int(port))  # no plain HTTP on a TLS port
