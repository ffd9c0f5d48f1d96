"""deploy/cfengine/cfha.cf in Debian's CFEngine 3.21 masterfiles: cf-promises, then cf-agent in
--dry-run and --simulate=diff against a scratch work directory (the host is never changed)."""

from __future__ import annotations

import copy
import http.server
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.cfengine import (
    Workdir,
    errors,
    make_workdir,
    release_tarball,
    simulated_files,
    tools_available,
)
from tests.deploy.units import REPO

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="cf-promises/cf-agent (Debian package cfengine3) not installed"
)
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
VENV_BIN = Path(sys.executable).parent
HOST_PATHS = [Path("/etc/cfha"), Path("/opt/cfha"), Path("/etc/sysusers.d/cfha.conf")]
HOST_PATHS += [
    Path("/etc/systemd/system/cfha-exporter.service"),
    Path("/etc/default/cfha-exporter"),
]
# What --dry-run reports as an error only because the directory it would have created first
# does not exist on this machine; a real run creates it.
DRY_RUN_ONLY = ("Failed to chdir into '/etc/sysusers.d'",)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workdir]:
    releases = tmp_path_factory.mktemp("release")
    tarball = release_tarball(releases, VERSION, {"cfha-exporter": VENV_BIN / "cfha-exporter"})
    before = {p: p.exists() for p in HOST_PATHS}
    yield make_workdir(tmp_path_factory.mktemp("cfengine"), tarball)
    assert {p: p.exists() for p in HOST_PATHS} == before, "the host was changed"


def unexpected_errors(output: str) -> list[str]:
    return [e for e in errors(output) if not any(known in e for known in DRY_RUN_ONLY)]


@pytest.mark.parametrize("role", ["hub_active", "hub_passive"])
def test_cf_promises_accepts_the_policy_inside_the_mpf(workdir: Workdir, role: str) -> None:
    done = workdir.promises("--full-check", "-D", role)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
    shown = workdir.promises("--show-vars=cfha_settings\\.(version|node|peers)$")
    assert f"default:cfha_settings.version            {VERSION}" in shown.stdout
    assert '{"hub2"}' in shown.stdout  # hub1's peer, from def.json's node list


def test_cf_promises_rejects_a_broken_copy(workdir: Workdir) -> None:
    policy = workdir.masterfiles / "services/cfha/cfha.cf"
    good = policy.read_text()
    try:
        policy.write_text(good.replace("usebundle => cfha_release;", "usebundle => cfha_release"))
        assert workdir.promises().returncode != 0
    finally:
        policy.write_text(good)


def test_dry_run_plans_the_whole_install_and_changes_nothing(workdir: Workdir) -> None:
    done = workdir.agent("--dry-run", classes="hub_active")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert unexpected_errors(output) == [], output
    release = f"/opt/cfha/releases/cfha-{VERSION}"
    assert (
        f"Would execute script '/bin/sh -c 'rm -rf \"/opt/cfha/releases/.unpack-{VERSION}\""
        in output
    )
    assert f'mv "/opt/cfha/releases/.unpack-{VERSION}/cfha-{VERSION}" "{release}"' in output
    assert "Should copy '/etc/systemd/system/cfha-exporter.service'" in output
    assert "Would execute script '/bin/systemd-sysusers /etc/sysusers.d/cfha.conf'" in output
    assert "Should create file '/etc/cfha/.staging/exporter.yml'" in output
    assert "Should create file '/etc/default/cfha-exporter'" in output


def test_a_release_with_the_wrong_checksum_is_not_installed(workdir: Workdir) -> None:
    wrong = copy.deepcopy(workdir.def_json)
    wrong["vars"]["cfha"]["release_sha256"] = "0" * 64
    workdir.write_def_json(wrong)
    try:
        done = workdir.agent("--dry-run", classes="hub_active")
    finally:
        workdir.write_def_json(workdir.def_json)
    output = done.stdout + done.stderr
    assert f"def.json says '{'0' * 64}'; not installing it" in output
    assert "tar -xzf" not in output


def test_nothing_happens_without_ha_or_off_the_hubs(workdir: Workdir) -> None:
    without_ha = copy.deepcopy(workdir.def_json)
    del without_ha["classes"]
    workdir.write_def_json(without_ha)
    try:
        done = workdir.agent("--dry-run")
    finally:
        workdir.write_def_json(workdir.def_json)
    assert "cfha" not in done.stdout + done.stderr
    replication_only = workdir.agent("--dry-run", classes="ha_replication_only_node")
    assert "cfha" not in replication_only.stdout + replication_only.stderr


def test_a_wrong_node_name_is_reported(workdir: Workdir) -> None:
    stranger = copy.deepcopy(workdir.def_json)
    stranger["vars"]["cfha"]["node"] = "hub9"
    workdir.write_def_json(stranger)
    try:
        done = workdir.agent("--dry-run")
    finally:
        workdir.write_def_json(workdir.def_json)
    reported = [line for line in done.stdout.splitlines() if "node name 'hub9'" in line]
    assert len(reported) == 1, done.stdout  # one report, not one per listed node
    assert "is not in def.json cfha.nodes (hub1, hub2)" in reported[0]


def test_rendered_exporter_files_pass_the_exporters_own_check(
    workdir: Workdir, tmp_path: Path
) -> None:
    done = workdir.agent("--simulate=diff", classes="hub_active")
    rendered = simulated_files(done.stdout + done.stderr)
    config = rendered["/etc/cfha/.staging/exporter.yml"]
    assert 'node: "hub1"' in config and 'expected_standbys: ["hub2", ]' in config
    assert rendered["/etc/cfha/.staging/exporter-web.yml"] == ""
    assert 'ARGS=""' in rendered["/etc/default/cfha-exporter"]
    (tmp_path / "exporter.yml").write_text(config)
    (tmp_path / "web.yml").write_text("")
    check = subprocess.run(
        [
            str(VENV_BIN / "cfha-exporter"),
            "--config.check",
            f"--config.file={tmp_path / 'exporter.yml'}",
            f"--web.config.file={tmp_path / 'web.yml'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_rendered_remediator_config_passes_the_remediators_own_check(
    workdir: Workdir, tmp_path: Path
) -> None:
    done = workdir.agent("--simulate=diff", classes="hub_active")
    config = simulated_files(done.stdout + done.stderr)["/etc/cfha/.staging/remediator.yml"]
    assert 'node: "hub1"' in config and "dry_run: true" in config
    assert "tls:" not in config  # remediator_tls defaults to false
    token = tmp_path / "remediator.token"  # what secrets/remediator.token.cfsecret provides
    token.write_text("0123456789abcdef0123456789abcdef\n")
    token.chmod(0o600)
    staged = tmp_path / "remediator.yml"
    staged.write_text(config.replace("/etc/cfha/remediator.token", str(token)))
    check = subprocess.run(
        [str(VENV_BIN / "cfha-remediator"), f"--config.file={staged}", "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_inventory_attributes(workdir: Workdir) -> None:
    done = workdir.agent(
        "--dry-run", "--show-evaluated-vars=cfha_inventory\\.", classes="hub_active"
    )
    for attribute in ("cfha version", "cfha exporter state", "cfha remediator state",
                      "cfha remediation", "cfha hub role"):  # fmt: skip
        assert f"attribute_name={attribute}" in done.stdout, done.stdout
    role = [line for line in done.stdout.splitlines() if "cfha_inventory.hub_role" in line]
    assert role and " active " in role[0]


def test_secrets_are_decrypted_by_the_command_the_policy_runs(
    workdir: Workdir, tmp_path: Path
) -> None:
    """A cf-secret file encrypted for this hub's key, decrypted by the policy's own command line."""
    secrets = workdir.masterfiles / "services/cfha/secrets"
    secrets.mkdir()
    plain = tmp_path / "token"
    plain.write_text("a-bearer-token-of-32-characters!\n")
    encrypted = secrets / "remediator.token.cfsecret"
    public_key = workdir.path / "ppkeys/localhost.pub"
    try:
        made = workdir.run_as_hub(
            ["cf-secret", "encrypt", "-k", str(public_key), "-o", str(encrypted), str(plain)]
        )
        assert made.returncode == 0, made.stderr
        (secrets / "exporter-web.yml.cfsecret").write_bytes(encrypted.read_bytes())
        done = workdir.agent("--dry-run", classes="hub_active")
        output = done.stdout + done.stderr
        commands = re.findall(r"Would execute script '(\S+/cf-secret decrypt [^']+)'", output)
        targets = {shlex.split(c)[3] for c in commands}
        # A YAML secret is staged for validation; anything else goes straight to /etc/cfha.
        expected = {"/etc/cfha/remediator.token", "/etc/cfha/.staging/exporter-web.yml"}
        assert targets == expected, output
        (command,) = [c for c in commands if "remediator.token" in c]
        argv = shlex.split(command)
        argv[argv.index("-o") + 1] = str(tmp_path / "decrypted")
        decrypted = workdir.run_as_hub(argv)
        assert decrypted.returncode == 0, decrypted.stderr
        assert (tmp_path / "decrypted").read_text() == plain.read_text()
    finally:
        for secret in secrets.iterdir():
            secret.unlink()
        secrets.rmdir()


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory everyone may traverse (pytest's tmp_path sits under a 0700 one)."""
    parent = Path(tempfile.mkdtemp(prefix="cfha-acl-"))
    parent.chmod(0o755)
    try:
        yield parent
    finally:
        shutil.rmtree(parent)


def test_acls_grant_search_and_read_and_nothing_else(
    workdir: Workdir, open_parent: Path, tmp_path: Path
) -> None:
    """The policy's `cfha_traverse` and `cfha_read` ACL bodies, applied for real to scratch files.

    `nobody` stands in for cfha-exporter: it must be able to read the one file and nothing more.
    """
    private = open_parent / "state"
    private.mkdir(mode=0o700)
    wanted = private / "master_hub.dat"
    wanted.write_text("192.168.100.10\n")
    wanted.chmod(0o600)
    (private / "other.dat").write_text("not for the exporter\n")
    (private / "other.dat").chmod(0o600)
    policy = tmp_path / "acl.cf"
    stdlib = workdir.masterfiles / "lib/stdlib.cf"
    cfha = workdir.masterfiles / "services/cfha/cfha.cf"
    policy.write_text(
        f'body common control {{ inputs => {{ "{stdlib}", "{cfha}" }}; '
        'bundlesequence => { "t" }; }\n'
        f'bundle agent t {{ files: "{private}/." acl => cfha_traverse("nobody");\n'
        f'  "{wanted}" acl => cfha_read("nobody"); }}\n'
    )
    done = workdir.run_as_hub(["cf-agent", "-K", "-w", str(workdir.path), "-f", str(policy)])
    assert done.returncode == 0 and errors(done.stdout + done.stderr) == [], done.stdout
    probe = f"""
import os, sys
assert open({str(wanted)!r}).read() == "192.168.100.10\\n"
for forbidden in (lambda: os.listdir({str(private)!r}),
                  lambda: open({str(private / "other.dat")!r}).read(),
                  lambda: open({str(wanted)!r}, "a")):
    try:
        forbidden()
    except PermissionError:
        continue
    sys.exit(3)
"""
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    checked = subprocess.run(
        [*as_nobody, sys.executable, "-c", probe], capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert private.stat().st_mode & 0o777 == 0o710  # the ACL mask: search only
    assert wanted.stat().st_mode & 0o777 == 0o640  # the ACL mask: read only


@pytest.fixture
def status_server() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP server answering /api/status with the body the test puts in `bodies`."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[-1] if bodies else b""
            self.send_response(200 if body else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/status", bodies
    finally:
        server.shutdown()
        server.server_close()


def inventory_vars(workdir: Workdir, url: str) -> dict[str, str]:
    settings = copy.deepcopy(workdir.def_json)
    settings["vars"]["cfha"]["status_url"] = url
    workdir.write_def_json(settings)
    try:
        done = workdir.run_as_hub([
            "cf-agent", "-K", "-w", str(workdir.path), "-f",
            str(workdir.masterfiles / "promises.cf"), "-b", "cfha_ha_inventory", "--dry-run",
            "--show-evaluated-vars=cfha_ha_inventory\\.(verdict|reasons|mission_portal)$",
        ])  # fmt: skip
    finally:
        workdir.write_def_json(workdir.def_json)
    assert done.returncode == 0, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        match = re.match(r"default:cfha_ha_inventory\.(\w+)\s+(.*?)\s+(source=.*)$", line)
        if match:
            found[match.group(1)] = f"{match.group(2)} | {match.group(3)}"
    return found


def test_the_verdict_becomes_inventory(
    workdir: Workdir, status_server: tuple[str, list[bytes]]
) -> None:
    url, bodies = status_server
    bodies.append(json.dumps({
        "status": "degraded",
        "reasons": [{"code": "replication_not_streaming", "details": ["x"]},
                    {"code": "hub_keys_missing", "details": []}],
        "mission_portal": {"status": "ok", "summary": "OK, hub1 active, hub2 passive"},
    }).encode())  # fmt: skip
    found = inventory_vars(workdir, url)
    assert found["verdict"].startswith("degraded ")
    assert found["reasons"].startswith('{"replication_not_streaming","hub_keys_missing"}')
    assert found["mission_portal"].startswith("OK, hub1 active, hub2 passive ")
    for name, attribute in (("verdict", "cfha HA verdict"), ("reasons", "cfha HA reasons"),
                            ("mission_portal", "cfha Mission Portal view")):  # fmt: skip
        assert f"inventory,attribute_name={attribute}" in found[name], found[name]


def test_no_verdict_is_inventoried_as_unknown(
    workdir: Workdir, status_server: tuple[str, list[bytes]]
) -> None:
    url, _ = status_server  # answers 503: the exporter has no status
    found = inventory_vars(workdir, url)
    assert found["verdict"].startswith("unknown ") and found["mission_portal"].startswith("unknown")
    garbage = inventory_vars(workdir, url.replace("/api/status", "/nowhere") + ":0")
    assert garbage["verdict"].startswith("unknown ")
