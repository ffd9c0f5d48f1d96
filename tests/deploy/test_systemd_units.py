"""The shipped systemd units: syntax and sandbox (systemd-analyze, no systemd running), and
that their command lines are ones the programs accept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.units import (
    DEPLOY,
    HOST_UNIT_DIR,
    INSTALL_PREFIX,
    UNITS,
    exec_start_argv,
    read_env_file,
    scratch_root,
    unit_settings,
)
from tests.support.tlsfiles import make_tls_files

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None or not HOST_UNIT_DIR.is_dir(),
    reason="systemd-analyze (Debian package systemd) is not installed",
)
VENV_BIN = Path(sys.executable).parent
C_ENV = {"LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
# Overall exposure from `systemd-analyze security`, in tenths (1.8 -> 18); lower is stricter.
EXPOSURE_LIMITS = {"cfha-exporter.service": 17, "cfha-remediator.service": 27}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    launchers = {name: VENV_BIN / name for name in ("cfha-exporter", "cfha-remediator")}
    return scratch_root(tmp_path_factory.mktemp("root"), launchers)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60, env=C_ENV, check=False
    )


@pytest.mark.parametrize("unit", sorted(EXPOSURE_LIMITS))
def test_unit_verifies_without_a_single_warning(root: Path, unit: str) -> None:
    # verify exits 0 on "Unknown key ... ignoring" and similar: any output at all is a failure.
    done = analyze("verify", f"--root={root}", f"/etc/systemd/system/{unit}")
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_verify_catches_what_these_tests_rely_on(root: Path, tmp_path: Path) -> None:
    """The checks above can fail: a typo'd key and a missing ExecStart binary both show up."""
    broken = root / "etc/systemd/system/cfha-broken.service"
    text = (UNITS / "cfha-exporter.service").read_text()
    broken.write_text(text.replace("ProtectHome=yes", "ProtectHom=yes"))
    assert "Unknown key 'ProtectHom'" in analyze("verify", f"--root={root}", str(broken)).stderr
    broken.write_text(text.replace("bin/cfha-exporter", "bin/cfha-missing"))
    done = analyze("verify", f"--root={root}", "/etc/systemd/system/cfha-broken.service")
    assert done.returncode != 0 and "is not executable" in done.stderr
    broken.unlink()


@pytest.mark.parametrize("unit", sorted(EXPOSURE_LIMITS))
def test_sandbox_exposure_stays_low(root: Path, unit: str) -> None:
    done = analyze(
        "security",
        "--offline=true",
        f"--root={root}",
        f"--threshold={EXPOSURE_LIMITS[unit]}",
        f"/etc/systemd/system/{unit}",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_exporter_sandbox_choices() -> None:
    settings = unit_settings(UNITS / "cfha-exporter.service")
    assert settings["User"] == ["cfha-exporter"]
    assert settings["Group"] == ["haclient"]  # corosync checks the effective gid only
    assert settings["SupplementaryGroups"] == ["cfha-exporter cfpostgres"]
    assert settings["NoNewPrivileges"] == ["yes"]
    assert settings["CapabilityBoundingSet"] == [""]
    assert settings["ProtectSystem"] == ["strict"]
    assert "ReadWritePaths" not in settings  # it writes nothing
    assert settings["PrivateTmp"] == ["no"]  # CFEngine's PostgreSQL socket is in /tmp
    assert settings["PrivateDevices"] == ["yes"]  # keeps the host's /dev/shm for libqb
    assert settings["SystemCallFilter"] == ["@system-service", "~@privileged"]


def test_remediator_sandbox_choices() -> None:
    """Root, but bounded: what it may ever hold and write, and the seccomp allow-list."""
    settings = unit_settings(UNITS / "cfha-remediator.service")
    assert "User" not in settings  # root: see the unit's header for why not sudo
    assert settings["NoNewPrivileges"] == ["yes"]
    caps = settings["CapabilityBoundingSet"][0].split()
    assert sorted(caps) == ["CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["ReadWritePaths"] == ["/var/cfengine/state/pg"]
    assert settings["StateDirectory"] == ["cfha"]
    assert settings["PrivateTmp"] == ["no"]
    assert settings["SystemCallFilter"] == ["@system-service"]
    assert "ProtectProc" not in settings  # the postmaster's /proc entry must stay visible


def test_exporter_command_line_is_accepted_by_the_exporter(tmp_path: Path) -> None:
    """ExecStart's flags, with the shipped /etc/default file, pass --config.check.

    The example configs stand in for /etc/cfha; the web config's certificate paths point at a
    throwaway key pair made here.
    """
    tls = make_tls_files(tmp_path / "tls")
    etc = tmp_path / "etc-cfha"
    etc.mkdir()
    shutil.copy(DEPLOY / "config/exporter.yml", etc / "exporter.yml")
    web = (DEPLOY / "config/exporter-web.yml").read_text()
    web = web.replace("cert_file: exporter.crt", f"cert_file: {tls.server_cert}")
    web = web.replace("key_file: exporter.key", f"key_file: {tls.server_key}")
    (etc / "exporter-web.yml").write_text(web)

    env = read_env_file(UNITS / "cfha-exporter.env")
    argv = exec_start_argv(UNITS / "cfha-exporter.service", env)
    assert argv[0] == f"{INSTALL_PREFIX}/bin/cfha-exporter"
    argv = [str(VENV_BIN / "cfha-exporter")] + [a.replace("/etc/cfha", str(etc)) for a in argv[1:]]
    done = subprocess.run(
        [*argv, "--config.check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=C_ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "web configuration is valid" in done.stdout


def test_remediator_command_line_is_accepted_by_the_remediator(tmp_path: Path) -> None:
    """ExecStart's flags with the shipped /etc/default file; `serve` swapped for `check-config`
    (same global flags, validates the configuration, policy, token and TLS files instead of
    serving)."""
    token = tmp_path / "remediator.token"
    token.write_text("0123456789abcdef0123456789abcdef\n")
    token.chmod(0o600)
    tls = make_tls_files(tmp_path / "tls")
    config = (
        (DEPLOY / "config/remediator.yml")
        .read_text()
        .replace("/etc/cfha/remediator.token", str(token))
        .replace("/etc/cfha/remediator.crt", str(tls.server_cert))
        .replace("/etc/cfha/remediator.key", str(tls.server_key))
    )
    (tmp_path / "remediator.yml").write_text(config)
    env = read_env_file(UNITS / "cfha-remediator.env")
    argv = exec_start_argv(UNITS / "cfha-remediator.service", env)
    assert argv[0] == f"{INSTALL_PREFIX}/bin/cfha-remediator" and "serve" in argv
    argv = [str(VENV_BIN / "cfha-remediator")] + [
        "check-config" if a == "serve" else a.replace("/etc/cfha", str(tmp_path)) for a in argv[1:]
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=C_ENV, check=False)
    assert done.returncode == 0, done.stderr
    assert "configuration valid: node hub1, cluster cfcluster" in done.stdout


def test_sysusers_snippet_creates_the_exporters_user(tmp_path: Path) -> None:
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        pytest.skip("systemd-sysusers is not installed")
    (tmp_path / "etc").mkdir()
    done = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(UNITS / "cfha.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=C_ENV,
    )
    assert done.returncode == 0, done.stderr
    passwd = {
        line.split(":")[0]: line for line in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    assert passwd["cfha-exporter"].endswith(":/nonexistent:/usr/sbin/nologin")
    units_users = {unit_settings(u).get("User", ["root"])[0] for u in UNITS.glob("*.service")}
    assert units_users - {"root"} <= set(passwd)
