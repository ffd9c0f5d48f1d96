"""Issue 17, items 13-15 and 17: idle connections, /healthz for strangers, /metrics and client
certificates, the token file's rules, the warning for clear text off loopback.

The real server (tests/remediator/serve_fake.py: the real HTTP server and app over the simulated
cluster) in a subprocess; token and TLS files made by the tests.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.loopback import free_port
from remediator.config import ConfigError, config_from_mapping
from remediator.server import bind
from remediator.web.auth import load_token
from tests.support.daemons import Daemon, wait_for
from tests.support.tlsfiles import TlsFiles, make_tls_files

from .conftest import TOKEN
from .serve_fake import write_config

REPO = Path(__file__).resolve().parents[2]
IDLE_CONNECTIONS = 50


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    config, port = write_config(tmp_path, metrics_require_auth=True)
    argv = [sys.executable, "-m", "tests.remediator.serve_fake", str(config)]
    with Daemon("cfha-remediator", argv, tmp_path / "server.log") as daemon:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{url}/healthz")[0] == 200, f"the server\n{daemon.output()}")
        yield url


def get(
    url: str, token: str | None = None, context: ssl.SSLContext | None = None, timeout: float = 5
) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_healthz_stays_answerable_while_idle_connections_are_held(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(IDLE_CONNECTIONS)]
    try:
        for sock in idle[:5]:  # some that started a request and stopped mid-way
            sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        assert get(f"{server}/healthz", timeout=5)[0] == 200
        assert time.monotonic() - started < 2
    finally:
        for sock in idle:
            sock.close()


def test_healthz_tells_a_stranger_only_the_status(server: str) -> None:
    status, body = get(f"{server}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body = get(f"{server}/healthz", token=TOKEN)
    detail = json.loads(body)
    assert status == 200 and detail["node"] == "hub2" and "kill_switch" in detail


def test_metrics_can_require_the_token(server: str) -> None:
    assert get(f"{server}/metrics")[0] == 401
    assert get(f"{server}/metrics", token="x" * 32)[0] == 401
    status, body = get(f"{server}/metrics", token=TOKEN)
    assert status == 200 and b"cfha_remediation_" in body


def test_client_certificates_can_be_required(tmp_path: Path, tls: TlsFiles) -> None:
    config, port = write_config(
        tmp_path,
        tls={
            "certfile": str(tls.server_cert),
            "keyfile": str(tls.server_key),
            "client_ca_file": str(tls.ca_cert),
        },
    )
    argv = [sys.executable, "-m", "tests.remediator.serve_fake", str(config)]
    with_cert = ssl.create_default_context(cafile=str(tls.ca_cert))
    with_cert.load_cert_chain(tls.client_cert, tls.client_key)
    without = ssl.create_default_context(cafile=str(tls.ca_cert))
    url = f"https://127.0.0.1:{port}"
    with Daemon("cfha-remediator", argv, tmp_path / "server.log") as daemon:
        wait_for(
            lambda: get(f"{url}/healthz", context=with_cert)[0] == 200,
            f"the server\n{daemon.output()}",
        )
        status, body = get(f"{url}/metrics", context=with_cert)
        assert status == 200 and b"cfha_remediation_" in body
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            get(f"{url}/healthz", context=without)


# -- the token file ------------------------------------------------------------------------------


def token_at(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_token_file_others_may_read_refuses_to_start(tmp_path: Path, mode: int) -> None:
    path = token_at(tmp_path, TOKEN.encode(), mode)
    with pytest.raises(ConfigError, match="group or others may read it"):
        load_token(path)
    assert load_token(path, allow_insecure_file=True) == TOKEN.encode()  # the override


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_token_file_of_another_user_refuses_to_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = token_at(tmp_path, TOKEN.encode())
    os.chown(path, 65534, -1)
    with pytest.raises(ConfigError, match="belongs to uid 65534"):
        load_token(path)
    with caplog.at_level(logging.WARNING):
        assert load_token(path, allow_insecure_file=True) == TOKEN.encode()
    assert "allow_insecure_token_file" in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"first-half-of-a-token\nsecond-half-of-it\n",
        "t\u00f6ken-with-an-umlaut-0123456789".encode(),
        b"token with inner spaces 0123456789",
        b"token-with-a-tab\t0123456789abcdef",
        b"\xff\xfe-not-even-utf8-0123456789abcdef",
    ],
)
def test_a_token_that_could_never_match_is_refused_at_start(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ConfigError, match="printable ASCII"):
        load_token(token_at(tmp_path, content))


def test_the_command_line_refuses_such_a_token_before_serving(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path)
    (tmp_path / "token").chmod(0o644)
    done = Daemon(
        "cfha-remediator",
        [sys.executable, "-m", "remediator", "--config.file", str(config), "check-config"],
        tmp_path / "check.log",
    ).start()
    assert done.process is not None
    assert done.process.wait(timeout=60) == 1
    assert "group or others may read it" in done.output()


# -- clear text off loopback ---------------------------------------------------------------------


def test_listening_off_loopback_without_tls_warns_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_from_mapping(
        {"cluster": "cftest", "node": "hub2", "web": {"listen_address": f"0.0.0.0:{free_port()}"}}
    )
    with caplog.at_level(logging.WARNING, logger="remediator.server"):
        bind(config).server_close()
    assert "WITHOUT TLS" in caplog.text
    caplog.clear()
    loopback = config_from_mapping({"cluster": "cftest", "node": "hub2"})
    with caplog.at_level(logging.WARNING, logger="remediator.server"):
        bind(loopback, f"127.0.0.1:{free_port()}").server_close()
    assert "WITHOUT TLS" not in caplog.text
