"""CFEngine's HA files on this hub, read once per scrape: the exporter publishes, the verdict
judges.

Paths are relative to CFEngine's work directory (`/var/cfengine`):

- `ha_info.json`: inputs/cfe_internal/enterprise/ha/, the hubs as the agent reads them (the
  copy it was loaded from, `$(this.promise_dirname)` in ha_def.cf);
- `masterfiles/ha_info.json`: what update.cf copies into inputs (they differ when it fails);
- `master_hub.dat` (state/): the active hub's IP, the hub clients follow;
- `ha_enabled` (httpd/htdocs/): Mission Portal shows HA status only when it exists;
- `ha.cfg`: how the agent tells active from passive (Mission Portal's mapping);
- `am_policy_hub` (state/): ha_update.cf's marker that this host is a hub of ha_info.json.

A missing or malformed file is a fact (its state), never an exception; only the digests of the
files two hubs must agree on (`DIGESTED`) are kept, for the alert rules to compare.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

from clusterstate.digest import Digester
from clusterstate.parsers.cfengine_files import (
    CfengineFileError,
    HaCfg,
    HaHub,
    local_addresses_from_proc,
    parse_ha_cfg,
    parse_ha_info,
    parse_master_hub,
)

_T = TypeVar("_T")

HA_DIR = PurePosixPath("cfe_internal/enterprise/ha/ha_info.json")
HA_INFO = PurePosixPath("inputs") / HA_DIR
HA_INFO_MASTERFILES = PurePosixPath("masterfiles") / HA_DIR
MASTER_HUB = PurePosixPath("state/master_hub.dat")
HA_ENABLED = PurePosixPath("httpd/htdocs/ha_enabled")
HA_CFG = PurePosixPath("ha.cfg")
POLICY_HUB_MARKER = PurePosixPath("state/am_policy_hub")
FILES: dict[str, PurePosixPath] = {
    "ha_info.json": HA_INFO,
    "masterfiles/ha_info.json": HA_INFO_MASTERFILES,
    "master_hub.dat": MASTER_HUB,
    "ha_enabled": HA_ENABLED,
    "ha.cfg": HA_CFG,
    "am_policy_hub": POLICY_HUB_MARKER,
}
MARKERS = frozenset({"ha_enabled", "am_policy_hub"})
"""Files whose existence is the fact: only stat()ed, never opened."""
DIGESTED = ("ha_info.json", "masterfiles/ha_info.json", "ha.cfg")
"""Files both hubs must hold identically (compared across hubs by the alert rules)."""

FILE_STATES = ("ok", "missing", "invalid", "unreadable")
FILE_STATE_HELP = (
    "present and well-formed",
    "does not exist",
    "exists but its content is not what CFEngine writes (see the exporter log)",
    "exists but cannot be read (permissions, I/O error)",
)


@dataclass(frozen=True)
class CfengineFiles:
    """What the HA files on this hub say."""

    file_states: Mapping[str, str]  # file name -> one of FILE_STATES
    errors: Mapping[str, str]  # file name -> why it is not ok
    hubs: tuple[HaHub, ...] | None  # the inputs copy of ha_info.json; None: not usable
    master_hub_ip: str | None
    local_ips: frozenset[str]
    ha_cfg: HaCfg | None = None
    mtimes: Mapping[str, float] = field(default_factory=dict)
    digests: Mapping[str, int] = field(default_factory=dict)  # DIGESTED files that were read
    workdir_present: bool = True

    @property
    def ha_enabled(self) -> bool:
        return self.file_states.get("ha_enabled") == "ok"

    @property
    def policy_hub_marker(self) -> bool | None:
        """am_policy_hub exists (None: could not be checked)."""
        state = self.file_states.get("am_policy_hub")
        return None if state in (None, "unreadable") else state == "ok"

    @property
    def ha_info_drift(self) -> bool | None:
        """The inputs copy of ha_info.json differs from masterfiles' (None: one is not read)."""
        a, b = self.digests.get("ha_info.json"), self.digests.get("masterfiles/ha_info.json")
        return None if a is None or b is None else a != b

    @property
    def local_hub(self) -> HaHub | None:
        """This hub's own ha_info.json entry (by its addresses)."""
        for hub in self.hubs or ():
            if hub.ip in self.local_ips or hub.internal_ip in self.local_ips:
                return hub
        return None

    @property
    def cluster_hubs(self) -> tuple[HaHub, ...]:
        return tuple(h for h in self.hubs or () if h.is_in_cluster)

    def hub_by_ip(self, ip: str) -> HaHub | None:
        return next((h for h in self.hubs or () if ip in (h.ip, h.internal_ip)), None)


def read_local_addresses() -> frozenset[str]:
    """This network namespace's addresses; empty when /proc cannot be read."""
    try:
        fib = Path("/proc/net/fib_trie").read_text()
    except OSError:
        fib = ""
    try:
        inet6 = Path("/proc/net/if_inet6").read_text()
    except OSError:
        inet6 = ""
    return local_addresses_from_proc(fib, inet6)


@dataclass(frozen=True)
class _Read:
    state: str
    data: bytes | None = None
    mtime: float | None = None
    error: str | None = None


def _read(path: Path, content: bool = True) -> _Read:
    try:
        mtime = path.stat().st_mtime
        return _Read("ok", path.read_bytes() if content else None, mtime)
    except (FileNotFoundError, NotADirectoryError):
        return _Read("missing", error=f"{path} does not exist")
    except OSError as exc:
        state = "missing" if exc.errno == errno.ENOTDIR else "unreadable"
        return _Read(state, error=f"{path}: {exc.strerror or exc}")


def read_ha_info(path: Path) -> tuple[tuple[HaHub, ...] | None, tuple[str, str] | None]:
    """The hubs of one ha_info.json, or why not as (failure reason, message)."""
    got = _read(path)
    if got.data is None:
        reason = "unavailable" if got.state == "missing" else "permission"
        return None, (reason, got.error or str(path))
    try:
        return parse_ha_info(got.data.decode("utf-8", errors="replace")), None
    except CfengineFileError as exc:
        return None, ("parse", f"{path}: {exc}")


def read_cfengine_files(
    workdir: Path,
    local_addresses: Callable[[], frozenset[str]] = read_local_addresses,
    digester: Digester | None = None,
) -> CfengineFiles:
    """Every HA file under `workdir`; never raises."""
    digester = digester or Digester()
    states: dict[str, str] = {}
    errors: dict[str, str] = {}
    mtimes: dict[str, float] = {}
    digests: dict[str, int] = {}
    texts: dict[str, str] = {}
    for name, relative in FILES.items():
        got = _read(workdir / relative, content=name not in MARKERS)
        states[name] = got.state
        if got.error is not None:
            errors[name] = got.error
        if got.mtime is not None:
            mtimes[name] = got.mtime
        if got.data is not None:
            texts[name] = got.data.decode("utf-8", errors="replace")
            if name in DIGESTED:
                digests[name] = digester.of_bytes(got.data)
    parse_errors: dict[str, str] = {}
    hubs = _parse(texts, "ha_info.json", parse_ha_info, parse_errors)
    _parse(texts, "masterfiles/ha_info.json", parse_ha_info, parse_errors)
    master = _parse(texts, "master_hub.dat", parse_master_hub, parse_errors)
    ha_cfg = _parse(texts, "ha.cfg", parse_ha_cfg, parse_errors)
    for name, message in parse_errors.items():
        states[name] = "invalid"
        errors[name] = message
    return CfengineFiles(
        file_states=states,
        errors=errors,
        hubs=hubs,
        master_hub_ip=master,
        local_ips=local_addresses(),
        ha_cfg=ha_cfg,
        mtimes=mtimes,
        digests=digests,
        workdir_present=workdir.is_dir(),
    )


def _parse(
    texts: Mapping[str, str], name: str, parser: Callable[[str], _T], errors: dict[str, str]
) -> _T | None:
    if name not in texts:
        return None
    try:
        return parser(texts[name])
    except CfengineFileError as exc:
        errors[name] = str(exc)
        return None
