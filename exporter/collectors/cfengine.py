"""CFEngine Enterprise HA files on this hub: ha_info.json, master_hub.dat and the ha_enabled marker.

Example output on hub1 while it is the active hub::

    cfha_cfengine_ha_enabled{cluster="cfcluster",node="hub1"} 1.0
    cfha_cfengine_file_state{cluster="cfcluster",file="master_hub.dat",node="hub1",state="ok"} 1.0
    cfha_cfengine_ha_hubs{cluster="cfcluster",node="hub1"} 2.0
    cfha_cfengine_ha_hub_local{cluster="cfcluster",hub_ip="10.250.5.1",node="hub1"} 1.0
    cfha_cfengine_master_hub_info{cluster="cfcluster",ip="10.250.5.1",node="hub1"} 1.0
    cfha_cfengine_master_hub_is_local{cluster="cfcluster",node="hub1"} 1.0

A missing or malformed file is an observation (`file_state`), not a collector failure: the HA
verdict turns it into a reason. A file that exists but cannot be read fails the collector
(`permission`), and so does a missing work directory (`unavailable`: CFEngine is not installed).
Whether master_hub.dat names the *primary* is judged by the verdict, which also knows the roles.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar, TypeVar

from pydantic import Field

from clusterstate.parsers.cfengine_files import (
    CfengineFileError,
    HaHub,
    local_addresses_from_proc,
    parse_ha_info,
    parse_master_hub,
)
from exporter.scrape import CollectorError
from servicekit.config import CollectorSettings
from servicekit.metrics import Kind, MetricSpec, MetricWriter

_T = TypeVar("_T")

HA_INFO = PurePosixPath("masterfiles/cfe_internal/enterprise/ha/ha_info.json")
MASTER_HUB = PurePosixPath("state/master_hub.dat")
HA_ENABLED = PurePosixPath("httpd/htdocs/ha_enabled")
FILES = {"ha_info.json": HA_INFO, "master_hub.dat": MASTER_HUB, "ha_enabled": HA_ENABLED}

FILE_STATES = ("ok", "missing", "invalid", "unreadable")
FILE_STATE_HELP = (
    "present and well-formed",
    "does not exist",
    "exists but its content is not what CFEngine writes (see the exporter log)",
    "exists but cannot be read (permissions, I/O error)",
)


class CfengineConfig(CollectorSettings):
    workdir: Path = Field(
        default=Path("/var/cfengine"),
        description="CFEngine's work directory; the HA files are read relative to it.",
    )


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
class CfengineFacts:
    """What the HA files on this hub say."""

    file_states: dict[str, str]  # file name -> one of FILE_STATES
    errors: dict[str, str]  # file name -> why it is not ok
    hubs: tuple[HaHub, ...] | None  # None: ha_info.json not usable
    master_hub_ip: str | None
    local_ips: frozenset[str]

    @property
    def ha_enabled(self) -> bool:
        return self.file_states.get("ha_enabled") == "ok"

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


N = ("node",)
ENABLED = MetricSpec(
    "cfha_cfengine_ha_enabled",
    "1 if the ha_enabled marker exists (policy creates it when HA is enabled; Mission Portal "
    "shows HA status only then).",
    labels=N,
)
FILE_STATE = MetricSpec(
    "cfha_cfengine_file_state",
    "State of each CFEngine HA file on this hub.",
    kind=Kind.STATESET,
    labels=(*N, "file"),
    states=FILE_STATES,
    state_help=FILE_STATE_HELP,
)
FILE_MTIME = MetricSpec(
    "cfha_cfengine_file_mtime_timestamp_seconds",
    "When each HA file last changed (Unix time); master_hub.dat changes after a failover.",
    labels=(*N, "file"),
)
HUBS = MetricSpec(
    "cfha_cfengine_ha_hubs",
    "Hubs listed in ha_info.json (absent when the file is not usable).",
    labels=N,
)
HUB_IN_CLUSTER = MetricSpec(
    "cfha_cfengine_ha_hub_in_cluster",
    "Per hub of ha_info.json: 1 if is_in_cluster (an HA pair member), 0 for a "
    "replication-only node.",
    labels=(*N, "hub_ip"),
)
HUB_LOCAL = MetricSpec(
    "cfha_cfengine_ha_hub_local",
    "Per hub of ha_info.json: 1 for this hub's own entry (one of its addresses).",
    labels=(*N, "hub_ip"),
)
HUB_INFO = MetricSpec(
    "cfha_cfengine_ha_hub_info",
    "Per hub of ha_info.json: its host key as cfdb stores it.",
    kind=Kind.INFO,
    labels=(*N, "hub_ip", "hostkey"),
)
MASTER_INFO = MetricSpec(
    "cfha_cfengine_master_hub_info",
    "The active hub's IP as master_hub.dat holds it: the hub clients follow.",
    kind=Kind.INFO,
    labels=(*N, "ip"),
)
MASTER_LOCAL = MetricSpec(
    "cfha_cfengine_master_hub_is_local",
    "1 if master_hub.dat names this hub (compare with cfha_pg_role: only the primary should "
    "be named).",
    labels=N,
)
MASTER_LISTED = MetricSpec(
    "cfha_cfengine_master_hub_listed",
    "1 if master_hub.dat names a hub of ha_info.json, 0 if clients follow an unknown address.",
    labels=N,
)


class CfengineCollector:
    name: ClassVar[str] = "cfengine"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        ENABLED, FILE_STATE, FILE_MTIME, HUBS, HUB_IN_CLUSTER, HUB_LOCAL, HUB_INFO,
        MASTER_INFO, MASTER_LOCAL, MASTER_LISTED,
    )  # fmt: skip

    def __init__(
        self,
        config: CfengineConfig,
        node: str,
        local_addresses: Callable[[], frozenset[str]] = read_local_addresses,
    ) -> None:
        self._workdir = config.workdir
        self._node = node
        self._local_addresses = local_addresses

    def collect(self, out: MetricWriter) -> CfengineFacts:
        states: dict[str, str] = {}
        errors: dict[str, str] = {}
        texts: dict[str, str] = {}
        mtimes: dict[str, float] = {}
        for name, relative in FILES.items():
            path = self._workdir / relative
            try:
                mtimes[name] = path.stat().st_mtime
                texts[name] = path.read_text(encoding="utf-8", errors="replace")
                states[name] = "ok"
            except FileNotFoundError:
                states[name] = "missing"
                errors[name] = f"{path} does not exist"
            except OSError as exc:
                states[name] = "unreadable"
                errors[name] = f"{path}: {exc.strerror or exc}"
                if exc.errno == errno.ENOTDIR:
                    states[name] = "missing"
        hubs = self._parse(texts, "ha_info.json", parse_ha_info, states, errors)
        master = self._parse(texts, "master_hub.dat", parse_master_hub, states, errors)
        facts = CfengineFacts(
            file_states=states,
            errors=errors,
            hubs=hubs,
            master_hub_ip=master,
            local_ips=self._local_addresses(),
        )
        self._write(out, facts, mtimes)
        if not self._workdir.is_dir():
            raise CollectorError(
                "unavailable",
                f"{self._workdir} does not exist: CFEngine is not installed here",
                partial=out,
                facts=facts,
            )
        unreadable = sorted(n for n, s in states.items() if s == "unreadable")
        if unreadable:
            detail = "; ".join(errors[n] for n in unreadable)
            raise CollectorError("permission", detail, partial=out, facts=facts)
        return facts

    @staticmethod
    def _parse(
        texts: dict[str, str],
        name: str,
        parser: Callable[[str], _T],
        states: dict[str, str],
        errors: dict[str, str],
    ) -> _T | None:
        if name not in texts:
            return None
        try:
            return parser(texts[name])
        except CfengineFileError as exc:
            states[name] = "invalid"
            errors[name] = str(exc)
            return None

    def _write(self, out: MetricWriter, f: CfengineFacts, mtimes: dict[str, float]) -> None:
        node = self._node
        out.gauge(ENABLED, 1.0 if f.ha_enabled else 0.0, node=node)
        for name in FILES:
            out.state(FILE_STATE, f.file_states[name], node=node, file=name)
            out.gauge(FILE_MTIME, mtimes.get(name), node=node, file=name)
        local = f.local_hub
        if f.hubs is not None:
            out.gauge(HUBS, len(f.hubs), node=node)
            for hub in f.hubs:
                out.gauge(
                    HUB_IN_CLUSTER, 1.0 if hub.is_in_cluster else 0.0, node=node, hub_ip=hub.ip
                )
                out.gauge(HUB_LOCAL, 1.0 if hub is local else 0.0, node=node, hub_ip=hub.ip)
                out.info(HUB_INFO, node=node, hub_ip=hub.ip, hostkey=hub.hostkey)
        if f.master_hub_ip is not None:
            out.info(MASTER_INFO, node=node, ip=f.master_hub_ip)
            is_local = f.master_hub_ip in f.local_ips
            out.gauge(MASTER_LOCAL, 1.0 if is_local else 0.0, node=node)
            if f.hubs is not None:
                listed = f.hub_by_ip(f.master_hub_ip) is not None
                out.gauge(MASTER_LISTED, 1.0 if listed else 0.0, node=node)
