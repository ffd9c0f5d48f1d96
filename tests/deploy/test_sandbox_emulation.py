"""Both services started the way their units confine them, without systemd.

What systemd would do is emulated with the kernel features it uses: a private mount namespace in
which `/` is read-only and only the unit's writable paths are bind-mounted writable
(ProtectSystem=strict, StateDirectory=, RuntimeDirectory=), the unit's environment, and setpriv
for the identity (User=/Group=), NoNewPrivileges= and CapabilityBoundingSet=. A service that
tries to write anywhere else, or needs a capability its unit does not grant, fails here. (The
seccomp filter and the other namespaces are left to systemd; `systemd-analyze` checks them.)
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.loopback import free_port
from tests.deploy.units import DEPLOY, UNITS, unit_settings
from tests.support.daemons import Daemon, wait_for
from tests.support.tlsfiles import TlsFiles, make_tls_files

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount namespaces)")
REPO = DEPLOY.parent
VENV_BIN = Path(sys.executable).parent
TOKEN = "a-bearer-token-of-more-than-16-bytes"


def confined(
    argv: list[str],
    writable: list[Path],
    identity: list[str],
    shown: dict[Path, Path] | None = None,
) -> list[str]:
    """argv in a mount namespace where only `writable` can be written, as `identity`.

    `shown` maps host directories to where the namespace shows them (read-only): the checkout
    and the venv may sit under a directory the service's user cannot traverse (a clone in
    root's 0700 home), and only the namespace, not the host, is changed to reach them.
    """
    mounts = [f"mount --bind {shlex.quote(str(p))} {shlex.quote(str(p))}" for p in writable]
    for source, target in (shown or {}).items():
        there = shlex.quote(str(target))
        mounts += [f"mount --bind {shlex.quote(str(source))} {there}",
                   f"mount -o remount,bind,ro {there}"]  # fmt: skip
    script = " && ".join([*mounts, "mount -o remount,bind,ro /", "cd /", 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script,
            "confined", "setpriv", *identity, "--", *argv]  # fmt: skip


def bounding_set(unit: str) -> str:
    caps = unit_settings(UNITS / unit)["CapabilityBoundingSet"][0].split()
    return ",".join(["-all", *(f"+{c.removeprefix('CAP_').lower()}" for c in caps)])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def get(url: str, context: ssl.SSLContext | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def remediator(tmp_path: Path, tls: TlsFiles) -> Iterator[tuple[str, Path]]:
    settings = unit_settings(UNITS / "cfha-remediator.service")
    state = tmp_path / "var-lib" / settings["StateDirectory"][0]
    runtime = tmp_path / "run" / settings["RuntimeDirectory"][0]
    for directory in (state, runtime):
        directory.mkdir(parents=True)
    environment = dict(e.split("=", 1) for e in settings["Environment"])
    assert environment == {"TMPDIR": f"/run/{settings['RuntimeDirectory'][0]}"}
    token = tmp_path / "remediator.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = free_port()
    config = yaml.safe_load((DEPLOY / "config/remediator.yml").read_text())
    config.update(journal=str(state / "remediator.db"), kill_switch_file=str(state / "paused"))
    config["web"].update(
        listen_address=f"127.0.0.1:{port}",
        token_file=str(token),
        tls={"certfile": str(tls.server_cert), "keyfile": str(tls.server_key)},
    )
    (tmp_path / "remediator.yml").write_text(yaml.safe_dump(config))
    argv = [str(VENV_BIN / "cfha-remediator"), f"--config.file={tmp_path / 'remediator.yml'}"]
    identity = ["--no-new-privs", f"--bounding-set={bounding_set('cfha-remediator.service')}"]
    daemon = Daemon(
        "cfha-remediator",
        confined([*argv, "serve"], [state, runtime], identity),
        tmp_path / "remediator.log",
        env={"TMPDIR": str(runtime)},
    ).start()
    url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    try:
        wait_for(
            lambda: get(f"{url}/healthz", context, {})[0] == 200,
            f"the confined remediator\n{daemon.output()}",
        )
        yield url, state
    finally:
        daemon.stop()


def test_remediator_serves_and_journals_with_only_its_units_writable_paths(
    remediator: tuple[str, Path], tls: TlsFiles
) -> None:
    url, state = remediator
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    payload = {
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "cfha-remediator", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.example.net",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "CfHaFailCountAtThreshold", "cluster": "cfcluster",
                       "node": "hub1", "resource": "cfpgsql", "remediation": "resource_cleanup",
                       "cfha_route": "remediator"},
            "annotations": {}, "startsAt": "2026-11-24T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "0123456789abcdef",
        }],
    }  # fmt: skip
    request = urllib.request.Request(
        f"{url}/webhook",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert response.status == 202
    status, body = get(f"{url}/api/jobs", context, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and len(json.loads(body)["jobs"]) == 1
    assert (state / "remediator.db").stat().st_size > 0


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """Config files the unprivileged user can reach (pytest's tmp_path is under a 0700 one)."""
    directory = Path(tempfile.mkdtemp(prefix="cfha-sandbox-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def test_exporter_serves_as_its_unprivileged_user_on_a_read_only_system(
    readable_dir: Path, tls: TlsFiles
) -> None:
    settings = unit_settings(UNITS / "cfha-exporter.service")
    assert "ReadWritePaths" not in settings and "StateDirectory" not in settings
    tmp_path = readable_dir
    for name in ("server.crt", "server.key"):
        shutil.copy(tls.ca_cert.parent / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    password = "scrape-secret"
    import bcrypt  # noqa: PLC0415 - only here

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = yaml.safe_load((DEPLOY / "config/exporter-web.yml").read_text())
    web["tls_server_config"].update(cert_file="server.crt", key_file="server.key")
    web["basic_auth_users"] = {"prometheus": hashed}
    (tmp_path / "exporter-web.yml").write_text(yaml.safe_dump(web))
    port = free_port()
    config = yaml.safe_load((DEPLOY / "config/exporter.yml").read_text())
    config["web"]["listen_address"] = f"127.0.0.1:{port}"
    (tmp_path / "exporter.yml").write_text(yaml.safe_dump(config))
    # The venv's interpreter may live under /root (0700); the system's same-version one, with
    # this checkout and the venv's packages on the path, is what an unprivileged user can run.
    site = next((VENV_BIN.parent / "lib").glob("python3.*/site-packages"))
    code, packages = tmp_path / "code", tmp_path / "site-packages"  # mount points, 0755
    for mount_point in (code, packages):
        mount_point.mkdir()
    argv = [
        f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}", "-m", "exporter",
        f"--config.file={tmp_path / 'exporter.yml'}",
        f"--web.config.file={tmp_path / 'exporter-web.yml'}",
    ]  # fmt: skip
    user, group = settings["User"][0], settings["Group"][0]
    assert (user, group) == ("cfha-exporter", "haclient")
    # cfha-exporter does not exist on this machine: nobody stands in, with the unit's groups.
    identity = ["--reuid=nobody", f"--regid={group}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all"]  # fmt: skip
    daemon = Daemon(
        "cfha-exporter",
        confined(argv, [], identity, shown={REPO: code, site: packages}),
        tmp_path / "exporter.log",
        env={"PYTHONPATH": f"{code}:{packages}", "PYTHONDONTWRITEBYTECODE": "1"},
    ).start()
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"prometheus:{password}".encode()).decode()
    }
    try:

        def scrape() -> bytes | None:
            status, body = get(f"https://127.0.0.1:{port}/metrics", context, auth)
            return body if status == 200 else None

        body = wait_for(scrape, f"the confined exporter\n{daemon.output()}")
        assert b"cfha_exporter_collector_success" in body
        assert get(f"https://127.0.0.1:{port}/metrics", context, {})[0] == 401
    finally:
        daemon.stop()
