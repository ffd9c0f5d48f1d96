"""The exporter serving TLS + basic auth, checked by Python clients and by a real Prometheus.

Prometheus (Debian's 2.42) runs on loopback with three jobs against one exporter: the right
credentials and CA (must be `up`), a wrong password (must be `down` with a 401) and no CA (must be
`down` with an x509 error). Every process is started by the test and stopped by its PID.
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bcrypt
import pytest
import yaml

from exporter.registry import COLLECTORS, DERIVED
from lab.loopback import free_port
from tests.deploy.units import DEPLOY, REPO
from tests.support.daemons import Daemon, get_json, plain_http_answered, wait_for
from tests.support.tlsfiles import TlsFiles, make_tls_files

USER = "prometheus"
SILENT = 200
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def client_context(tls: TlsFiles, with_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    if with_client_cert:
        context.load_cert_chain(tls.client_cert, tls.client_key)
    return context


def fetch(
    url: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_exporter(directory: Path, web_config: str) -> tuple[Daemon, str]:
    config = directory / "exporter.yml"
    config.write_text("cluster: cfcluster\nnode: hub1\n")
    web = directory / "web.yml"
    web.write_text(textwrap.dedent(web_config))
    port = free_port()
    argv = [
        sys.executable, "-m", "exporter",
        "--config.file", str(config),
        "--web.config.file", str(web),
        "--web.listen-address", f"127.0.0.1:{port}",
    ]  # fmt: skip
    # No collector needs a cluster here: the test is about the web layer.
    argv += [f"--no-collector.{entry.name}" for entry in COLLECTORS + DERIVED]
    exporter = Daemon("cfha-exporter", argv, directory / "exporter.log").start()
    return exporter, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def secured_exporter(
    tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles
) -> Iterator[tuple[Daemon, str]]:
    directory = tmp_path_factory.mktemp("exporter")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    exporter, address = start_exporter(
        directory,
        f"""
        tls_server_config:
          cert_file: {tls.server_cert}
          key_file: {tls.server_key}
        basic_auth_users:
          {USER}: "{hashed}"
        """,
    )
    try:
        context = client_context(tls)
        wait_for(
            lambda: fetch(f"https://{address}/healthz", context, timeout=2)[0] == 200,
            f"the exporter on {address}\n{exporter.output()}",
        )
        yield exporter, address
    finally:
        exporter.stop()


def test_https_with_basic_auth(secured_exporter: tuple[Daemon, str], tls: TlsFiles) -> None:
    _, address = secured_exporter
    context = client_context(tls)
    status, body = fetch(f"https://{address}/metrics", context, auth=(USER, PASSWORD))
    assert status == 200 and b"cfha_exporter_" in body
    assert fetch(f"https://{address}/metrics", context)[0] == 401
    assert fetch(f"https://{address}/metrics", context, auth=(USER, "nope"))[0] == 401
    assert fetch(f"https://{address}/", context)[0] == 401
    assert fetch(f"https://{address}/healthz", context)[0] == 200
    host, port = address.split(":")
    assert not plain_http_answered(host, int(port))  # no plain HTTP on a TLS port


def test_silent_and_stalled_tls_clients_block_no_scrape_and_are_dropped(
    secured_exporter: tuple[Daemon, str], tls: TlsFiles
) -> None:
    """Handshakes run in the server's event loop under a 5 s deadline: connections that send
    nothing, or half a ClientHello, stall nobody and are closed."""
    _, address = secured_exporter
    host, port = address.split(":")
    clients = [socket.create_connection((host, int(port)), timeout=5) for _ in range(SILENT)]
    try:
        for sock in clients[:20]:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # then nothing
        started = time.monotonic()
        status, _ = fetch(
            f"https://{address}/metrics", client_context(tls), auth=(USER, PASSWORD), timeout=5
        )
        assert status == 200 and time.monotonic() - started < 3
        for sock in (clients[0], clients[-1]):
            sock.settimeout(15)
            assert sock.recv(1) == b""  # dropped by the server at the handshake deadline
    finally:
        for sock in clients:
            sock.close()


def test_mutual_tls(tmp_path: Path, tls: TlsFiles) -> None:
    exporter, address = start_exporter(
        tmp_path,
        f"""
        tls_server_config:
          cert_file: {tls.server_cert}
          key_file: {tls.server_key}
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: {tls.ca_cert}
          min_version: TLS13
        """,
    )
    try:
        with_cert = client_context(tls, with_client_cert=True)
        wait_for(
            lambda: fetch(f"https://{address}/healthz", with_cert, timeout=2)[0] == 200,
            f"the exporter on {address}\n{exporter.output()}",
        )
        assert fetch(f"https://{address}/metrics", with_cert)[0] == 200
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            fetch(f"https://{address}/metrics", client_context(tls))
        tls12_only = client_context(tls, with_client_cert=True)
        tls12_only.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            fetch(f"https://{address}/metrics", tls12_only)
    finally:
        exporter.stop()


def prometheus_targets(url: str) -> dict[str, dict[str, Any]]:
    active = get_json(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]
    return {target["labels"]["job"]: target for target in active}


def shipped_scrape_job(name: str) -> dict[str, Any]:
    config = yaml.safe_load((DEPLOY / "config/prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == name]
    return dict(job)


def test_real_prometheus_scrapes_with_the_shipped_job_and_credentials(
    secured_exporter: tuple[Daemon, str], tls: TlsFiles, tmp_path: Path
) -> None:
    """deploy/config/prometheus.yml's `cfha` job, files laid out as its header says.

    Only the targets change (this exporter), plus two copies of the job that must fail: one with
    a wrong password file, one that does not trust the exporter's CA.
    """
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus (Debian package prometheus) is not installed")
    _, address = secured_exporter
    (tmp_path / "cfha").mkdir()
    shutil.copy(tls.ca_cert, tmp_path / "cfha/ca.crt")
    (tmp_path / "cfha/exporter.password").write_text(PASSWORD + "\n")
    (tmp_path / "cfha/wrong.password").write_text("not the password\n")

    good = shipped_scrape_job("cfha")
    good["static_configs"] = [
        {"targets": [address], "labels": {"cluster": "cfcluster", "node": "hub1"}}
    ]
    wrong_password = {**good, "job_name": "wrong_password"}
    wrong_password["basic_auth"] = {**good["basic_auth"], "password_file": "cfha/wrong.password"}
    unknown_ca = {**good, "job_name": "unknown_ca", "tls_config": {}}
    config = tmp_path / "prometheus.yml"
    shipped = yaml.safe_load((DEPLOY / "config/prometheus.yml").read_text())
    shutil.copytree(REPO / "alerts/rules", tmp_path / "cfha-alerts")  # as the header says
    config.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "evaluation_interval": "1s",
                    "external_labels": shipped["global"]["external_labels"],
                },
                "rule_files": shipped["rule_files"],
                "scrape_configs": [good, wrong_password, unknown_ca],
            }
        )
    )
    port = free_port()
    server = Daemon(
        "prometheus",
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:

        def settled() -> dict[str, dict[str, Any]] | None:
            targets = prometheus_targets(url)
            healths = {job: t["health"] for job, t in targets.items()}
            expected = {"cfha": "up", "wrong_password": "down", "unknown_ca": "down"}
            return targets if healths == expected else None

        targets = wait_for(settled, f"Prometheus target health\n{server.output()}", timeout=60)
        assert targets["cfha"]["lastError"] == ""
        assert "401" in targets["wrong_password"]["lastError"]
        assert "x509" in targets["unknown_ca"]["lastError"]

        def query(promql: str) -> list[dict[str, Any]]:
            result = get_json(f"{url}/api/v1/query?query={quote(promql)}")["data"]["result"]
            return list(result)

        (up,) = query('up{job="cfha"}')
        assert up["value"][1] == "1"
        assert up["metric"]["cluster"] == "cfcluster" and up["metric"]["node"] == "hub1"

        # The alert rules of alerts/ load and evaluate against this exporter's series.
        def evaluated() -> list[dict[str, Any]] | None:
            groups = get_json(f"{url}/api/v1/rules")["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r["health"] == "ok" for r in rules) else None

        rules = wait_for(evaluated, f"the alert rules to evaluate\n{server.output()}", timeout=60)
        loaded = {r["name"] for r in rules}
        assert {"CfHaWatchdog", "CfHaExporterDown", "CfHaPgStandbyNotStreaming"} <= loaded
        # honor_labels: the exporter's own labels survive unrenamed (no exported_cluster).
        (series,) = query(
            'count by (cluster, node, exported_cluster) ({job="cfha", __name__=~"cfha_.+"})'
        )
        assert series["metric"] == {"cluster": "cfcluster", "node": "hub1"}
    finally:
        server.stop()
