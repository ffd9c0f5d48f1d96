"""A scratch CFEngine work directory holding Debian's masterfiles (3.21) plus cfha's policy.

Nothing here touches the host's CFEngine: every cf-promises / cf-agent call passes `-w` with the
scratch directory, and the agent only ever runs with --dry-run or --simulate (the latter makes
its changes in a chroot under the work directory and prints them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.units import DEPLOY

DEBIAN_MASTERFILES = Path("/usr/share/cfengine3/masterfiles")
C_ENV = {"LANG": "C", "LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# ha_info.json as the HA guide has it on both hubs: hub IP -> key hash, replication IP.
HA_INFO = {
    "192.168.100.10": {"sha": "0f1e2d3c", "internal_ip": "192.168.10.10", "is_in_cluster": True},
    "192.168.100.11": {"sha": "4b5a6978", "internal_ip": "192.168.10.11", "is_in_cluster": True},
}


def tools_available() -> bool:
    return (
        all(shutil.which(t) for t in ("cf-promises", "cf-agent", "cf-key"))
        and (DEBIAN_MASTERFILES / "promises.cf").is_file()
    )


@dataclass
class Workdir:
    path: Path
    def_json: dict[str, Any]

    @property
    def masterfiles(self) -> Path:
        return self.path / "masterfiles"

    def write_def_json(self, data: dict[str, Any]) -> None:
        (self.masterfiles / "def.json").write_text(json.dumps(data, indent=2))

    def promises(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run("cf-promises", "-f", str(self.masterfiles / "promises.cf"), *args)

    def agent(self, *args: str, classes: str = "") -> subprocess.CompletedProcess[str]:
        """cf-agent on cfha's bundle only; `args` must include --dry-run or --simulate."""
        assert "--dry-run" in args or any(a.startswith("--simulate") for a in args)
        defined = ",".join(filter(None, ["systemd", "disable_inventory_package_refresh", classes]))
        return self._run(
            "cf-agent", "-K", "-f", str(self.masterfiles / "promises.cf"),
            "-b", "cfha_main", "-D", defined, *args,
        )  # fmt: skip

    def run_as_hub(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Any CFEngine tool, with this work directory standing in for /var/cfengine."""
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**C_ENV, "CFENGINE_TEST_OVERRIDE_WORKDIR": str(self.path)},
            cwd=self.path,
        )

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, "-w", str(self.path), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**C_ENV, "CFENGINE_TEST_OVERRIDE_WORKDIR": str(self.path)},
            cwd=self.path,
        )


def release_tarball(directory: Path, version: str, launchers: dict[str, Path]) -> Path:
    """A tarball shaped like deploy/make-release's: cfha-VERSION/bin/<launchers>."""
    top = directory / f"cfha-{version}"
    (top / "bin").mkdir(parents=True)
    for name, target in launchers.items():
        launcher = top / "bin" / name
        launcher.write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
        launcher.chmod(0o755)
    tarball = directory / f"cfha-{version}.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(top, arcname=top.name)
    return tarball


def make_workdir(path: Path, tarball: Path) -> Workdir:
    """A hub's work dir: keys, am_policy_hub, masterfiles with cfha put in by make-masterfiles."""
    (path / "bin").mkdir(parents=True)
    for tool in ("cf-promises", "cf-secret"):  # the hub's /var/cfengine/bin has them
        os.symlink(shutil.which(tool) or tool, path / "bin" / tool)
    (path / "ppkeys").mkdir(mode=0o700)
    (path / "state").mkdir()
    (path / "state/am_policy_hub").touch()  # makes the agent define policy_server
    (path / "policy_server.dat").write_text("192.168.100.10\n")
    keys = subprocess.run(
        ["cf-key", "-f", str(path / "ppkeys/localhost")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**C_ENV, "CFENGINE_TEST_OVERRIDE_WORKDIR": str(path)},
    )
    assert keys.returncode == 0, keys.stderr
    shutil.copytree(DEBIAN_MASTERFILES, path / "masterfiles", symlinks=True)
    ha_info = path / "masterfiles/cfe_internal/enterprise/ha/ha_info.json"
    ha_info.parent.mkdir(parents=True, exist_ok=True)
    ha_info.write_text(json.dumps(HA_INFO, indent=2))
    made = subprocess.run(
        [str(DEPLOY / "make-masterfiles"), str(path / "masterfiles"), str(tarball)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=C_ENV,
    )
    assert made.returncode == 0, made.stderr
    def_json = json.loads(made.stdout)
    def_json["classes"] = {"enable_cfengine_enterprise_hub_ha": ["any::"]}
    def_json["vars"]["cfha"]["node"] = "hub1"
    workdir = Workdir(path, def_json)
    workdir.write_def_json(def_json)
    return workdir


SEPARATOR = re.compile(r"^={20,}$", re.MULTILINE)


def simulated_files(output: str) -> dict[str, str]:
    """Contents of the new files that `cf-agent --simulate=diff` prints, by path."""
    files = {}
    for block in SEPARATOR.split(output):
        header = re.match(r"\s*'([^']+)' is a regular file", block)
        if header and "Contents of the file:\n" in block:
            files[header.group(1)] = block.split("Contents of the file:\n", 1)[1]
    return files


def errors(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.lstrip().startswith("error:")]
