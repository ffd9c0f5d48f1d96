"""The embedded gunicorn server for real: TLS, one worker process, the job worker inside it,
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
import yaml

from lab.loopback import free_port

from .conftest import TOKEN, cleanup_alert, payload

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
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    port = free_port()
    config = {
        "cluster": "cftest",
        "node": "hub2",
        "journal": str(tmp_path / "journal.db"),
        "kill_switch_file": str(tmp_path / "paused"),
        "web": {
            "listen_address": f"127.0.0.1:{port}",
            "token_file": str(token),
            "tls": {"certfile": str(cert), "keyfile": str(key)},
        },
    }
    config_file = tmp_path / "remediator.yml"
    config_file.write_text(yaml.safe_dump(config))
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
    status, health = request(f"{url}/healthz", context, token=None)
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
    assert job["steps"][0]["argv"] == ["pcs", "resource", "cleanup", "cfpgsql", "node=hub2"]
    plain = urllib.request.Request(url.replace("https", "http") + "/healthz")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(plain, timeout=5)
