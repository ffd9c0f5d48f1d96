"""The lab's PostgreSQL: which major, where its programs are, the CFEngine layout of 18 (no lab)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lab import pglayout, procs
from lab.config import LabConfig
from lab.offline.pginstall import PgUnavailable, pg_install, run_as_db_user
from lab.state import LabState, from_json, to_json


def test_each_major_has_its_own_layout() -> None:
    debian, cfengine = pglayout.for_major(15), pglayout.for_major(18)
    assert debian.tool("pg_ctl") == "/usr/lib/postgresql/15/bin/pg_ctl"
    assert debian.layout == "Debian"
    assert cfengine.tool("pg_ctl") == "/var/cfengine/bin/pg_ctl"
    assert cfengine.layout == "CFEngine"
    with pytest.raises(pglayout.LabPgError, match="not 16"):
        pglayout.for_major(16)


def test_where_a_nodes_programs_are_on_the_host() -> None:
    hub2 = LabConfig.for_id(4, Path("/srv/labs")).node("hub2")
    assert pglayout.for_major(18).server_on_host(hub2) == Path(
        "/srv/labs/cfha-lab-4/hub2/cfengine/bin/postgres"
    )
    # Debian's programs are the host's own, seen as they are inside the nodes.
    assert pglayout.for_major(15).server_on_host(hub2) == Path(
        "/usr/lib/postgresql/15/bin/postgres"
    )


def test_status_line_names_the_major_the_layout_and_both_hubs() -> None:
    cfg = LabConfig.for_id(4, Path("/srv/labs"))
    assert pglayout.for_major(18, "18.6").describe(cfg.nodes) == (
        "PostgreSQL 18 (18.6), CFEngine's layout: /var/cfengine/bin (on the host:"
        " /srv/labs/cfha-lab-4/hub1/cfengine/bin, /srv/labs/cfha-lab-4/hub2/cfengine/bin)"
    )
    assert pglayout.for_major(15).describe(cfg.nodes) == (
        "PostgreSQL 15, Debian's layout: /usr/lib/postgresql/15/bin"
    )


@pytest.mark.parametrize(("raw", "major"), [(None, 15), ("", 15), ("15", 15), ("18", 18)])
def test_major_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, major: int
) -> None:
    if raw is None:
        monkeypatch.delenv(pglayout.MAJOR_ENV, raising=False)
    else:
        monkeypatch.setenv(pglayout.MAJOR_ENV, raw)
    assert pglayout.major_from_env() == major


@pytest.mark.parametrize("raw", ["17", "eighteen"])
def test_a_major_the_lab_does_not_run_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(pglayout.MAJOR_ENV, raw)
    with pytest.raises(pglayout.LabPgError, match=f"CFHA_LAB_PG={raw!r}"):
        pglayout.major_from_env()


def test_the_state_keeps_the_major() -> None:
    state = LabState(3, "/tmp/cfha-lab-3", "up", 42, pg_major=18, pg_version="18.6")
    assert from_json(json.loads(json.dumps(to_json(state)))) == state


def test_a_state_from_before_the_major_was_recorded_is_a_15_lab() -> None:
    data = to_json(LabState(3, "/tmp/cfha-lab-3", "up", 42, pg_major=18))
    del data["postgres"]
    assert from_json(data) == replace(LabState(3, "/tmp/cfha-lab-3", "up", 42), pg_major=15)


@pytest.fixture(scope="module")
def laid_out() -> Iterator[Path]:
    """PostgreSQL 18 laid out for one hub under a temporary lab root: its /var/cfengine."""
    try:
        pg_install(18)
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    if shutil.which("patchelf") is None:
        pytest.skip("patchelf is not installed (make deps)")
    # Not under pytest's 0700 temporary directory: the database user runs the copies.
    base = Path(tempfile.mkdtemp(prefix="cfha-pglayout-"))
    try:
        base.chmod(0o755)
        node = LabConfig.for_id(5, base).node("hub1")
        node.cfengine_host_dir.mkdir(parents=True)
        for parent in (node.root.parent, node.root):
            parent.chmod(0o755)
        pglayout.install(18, node)
        yield node.cfengine_host_dir
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_18_is_laid_out_as_real_files_in_bin_lib_share(laid_out: Path) -> None:
    for program in ("postgres", "pg_ctl", "initdb", "psql", "pg_basebackup", "pg_rewind"):
        path = laid_out / "bin" / program
        assert path.is_file() and not path.is_symlink() and os.access(path, os.X_OK), path
    assert (laid_out / "lib/plpgsql.so").is_file()
    assert (laid_out / "lib/libpqwalreceiver.so").is_file()
    assert any(p.name.startswith("libpq") for p in (laid_out / "lib").iterdir())
    assert (laid_out / "share/postgres.bki").is_file()
    assert not any(p.is_symlink() for p in laid_out.rglob("*"))


def test_18_finds_its_libraries_and_share_relative_to_bin(laid_out: Path) -> None:
    """The copies run from where they are (here the host path of a hub's /var/cfengine), as the
    database user, with libpq from ../lib: nothing of the wheel's own tree is needed."""
    done = run_as_db_user([str(laid_out / "bin/psql"), "--version"], timeout=60)
    assert done.returncode == 0 and "18." in done.stdout, done.stderr
    ldd = subprocess.run(
        ["ldd", str(laid_out / "bin/pg_basebackup")], capture_output=True, text=True, check=True
    ).stdout
    libpq = next(line for line in ldd.splitlines() if "libpq" in line)
    assert f"=> {laid_out}/bin/../lib/libpq" in libpq, libpq
    walreceiver = subprocess.run(
        ["ldd", str(laid_out / "lib/libpqwalreceiver.so")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"=> {laid_out}/lib/libpq" in walreceiver, walreceiver
    pg_config = run_as_db_user(
        [str(laid_out / "bin/pg_config"), "--sharedir", "--pkglibdir"], timeout=60
    )
    assert pg_config.stdout.split() == [str(laid_out / "share"), str(laid_out / "lib")]


def test_a_process_is_known_by_the_file_it_runs_not_by_a_path_string(tmp_path: Path) -> None:
    sleeper = tmp_path / "sleep"
    shutil.copy("/bin/sleep", sleeper)
    twin = tmp_path / "twin"
    shutil.copy("/bin/sleep", twin)  # the same bytes, another file
    proc = subprocess.Popen([str(sleeper), "30"])
    try:
        assert procs.runs_file(proc.pid, sleeper)
        assert not procs.runs_file(proc.pid, twin)
        assert not procs.runs_file(proc.pid, tmp_path / "absent")
    finally:
        proc.kill()
        proc.wait()
    assert not procs.runs_file(proc.pid, sleeper)
