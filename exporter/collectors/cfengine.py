"""CFEngine Enterprise HA files on this hub: ha_info.json (the copy the agent reads, and
masterfiles'), master_hub.dat, ha.cfg and the markers ha_enabled and am_policy_hub.

Example output on hub1 while it is the active hub::

    cfha_cfengine_ha_enabled{cluster="cfcluster",node="hub1"} 1.0
    cfha_cfengine_file_state{cluster="cfcluster",file="ha.cfg",node="hub1",state="ok"} 1.0
    cfha_cfengine_file_digest{cluster="cfcluster",file="ha_info.json",node="hub1"} 1.2e+14
    cfha_cfengine_ha_hubs{cluster="cfcluster",node="hub1"} 2.0
    cfha_cfengine_ha_hub_local{cluster="cfcluster",hub_ip="10.250.5.1",node="hub1"} 1.0
    cfha_cfengine_master_hub_info{cluster="cfcluster",ip="10.250.5.1",node="hub1"} 1.0
    cfha_cfengine_master_hub_is_local{cluster="cfcluster",node="hub1"} 1.0

The files are read by `clusterstate.cfengine`. A missing or malformed file is an observation
(`file_state`), not a collector failure: the HA verdict turns it into a reason. A file that
exists but cannot be read fails the collector (`permission`), and so does a missing work
directory (`unavailable`: CFEngine is not installed). The digests let the alert rules compare
the two hubs' copies; whether master_hub.dat names the *primary* is judged by the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from clusterstate.cfengine import (
    DIGESTED,
    FILE_STATE_HELP,
    FILE_STATES,
    FILES,
    HA_ENABLED,
    HA_INFO,
    HA_INFO_MASTERFILES,
    MASTER_HUB,
    CfengineFiles,
    read_cfengine_files,
    read_local_addresses,
)
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

__all__ = [
    "HA_ENABLED",
    "HA_INFO",
    "HA_INFO_MASTERFILES",
    "MASTER_HUB",
    "CfengineCollector",
    "CfengineConfig",
    "CfengineFiles",
    "read_local_addresses",
]


class CfengineConfig(CollectorSettings):
    workdir: Path = setting(
        default=Path("/var/cfengine"),
        description="CFEngine's work directory; the HA files are read relative to it.",
    )


N = ("node",)
ENABLED = MetricSpec(
    "cfha_cfengine_ha_enabled",
    "1 if the ha_enabled marker exists (policy creates it when HA is enabled; Mission Portal "
    "shows HA status only then).",
    labels=N,
)
FILE_STATE = MetricSpec(
    "cfha_cfengine_file_state",
    "State of each CFEngine HA file on this hub: ha_info.json (the copy under inputs the agent "
    "reads), masterfiles/ha_info.json, master_hub.dat, ha_enabled, ha.cfg, am_policy_hub.",
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
FILE_DIGEST = MetricSpec(
    "cfha_cfengine_file_digest",
    "A 48-bit digest of ha_info.json (both copies) and ha.cfg, for the alert rules to compare "
    "across the hubs (absent while the file cannot be read).",
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
        ENABLED, FILE_STATE, FILE_MTIME, FILE_DIGEST, HUBS, HUB_IN_CLUSTER, HUB_LOCAL, HUB_INFO,
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

    def collect(self, out: MetricWriter) -> CfengineFiles:
        facts = read_cfengine_files(self._workdir, self._local_addresses)
        self._write(out, facts)
        if not facts.workdir_present:
            raise CollectorError(
                "unavailable",
                f"{self._workdir} does not exist: CFEngine is not installed here",
                partial=out,
                facts=facts,
            )
        unreadable = sorted(n for n, s in facts.file_states.items() if s == "unreadable")
        if unreadable:
            detail = "; ".join(facts.errors[n] for n in unreadable)
            raise CollectorError("permission", detail, partial=out, facts=facts)
        return facts

    def _write(self, out: MetricWriter, f: CfengineFiles) -> None:
        node = self._node
        out.gauge(ENABLED, 1.0 if f.ha_enabled else 0.0, node=node)
        for name in FILES:
            out.state(FILE_STATE, f.file_states[name], node=node, file=name)
            out.gauge(FILE_MTIME, f.mtimes.get(name), node=node, file=name)
        for name in DIGESTED:
            out.gauge(FILE_DIGEST, f.digests.get(name), node=node, file=name)
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
