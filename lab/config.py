"""Everything about one lab that follows from its instance id: names, addresses, paths.

Pure: no side effects. Two labs with different ids share nothing (namespaces, links,
directories, ports), so they can run side by side on one machine.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

MAX_LAB_ID = 20
NODE_NAMES: tuple[str, str] = ("hub1", "hub2")
CLUSTER_NAME = "cfcluster"
PG_PORT = 5432
PG_OS_USER = "postgres"
# Each lab creates its own directory here (cfha-lab-<id>), exclusively, and removes it at down.
DEFAULT_ROOT_BASE = Path("/tmp")  # noqa: S108

# Paths as a CFEngine hub sees them, inside each node's own mount namespace.
CFENGINE_DIR = Path("/var/cfengine")
PG_STATE_DIR = CFENGINE_DIR / "state/pg"
PGDATA = PG_STATE_DIR / "data"
PG_TMPDIR = PG_STATE_DIR / "tmp"  # the pgsql agent's tmpdir: PGSQL.lock, recovery.conf
PG_SOCKET_DIR = PG_STATE_DIR
PG_ARCHIVE_DIR = PGDATA / "pg_arch"
PG_LOGFILE = Path("/var/log/postgresql.log")
HA_INFO_JSON = CFENGINE_DIR / "masterfiles/cfe_internal/enterprise/ha/ha_info.json"
HA_INFO_INPUTS = CFENGINE_DIR / "inputs/cfe_internal/enterprise/ha/ha_info.json"
MASTER_HUB_DAT = CFENGINE_DIR / "state/master_hub.dat"
HA_ENABLED = CFENGINE_DIR / "httpd/htdocs/ha_enabled"
HA_CFG = CFENGINE_DIR / "ha.cfg"
POLICY_HUB_MARKER = CFENGINE_DIR / "state/am_policy_hub"
PPKEYS = CFENGINE_DIR / "ppkeys"
PPKEYS_HUBS = CFENGINE_DIR / "ppkeys_hubs"
HTDOCS = CFENGINE_DIR / "httpd/htdocs"
# /opt is the host's in every node (no bind mount): the notification scripts ha.cf syncs from
# /opt/cfengine/notification_scripts live under the node's own /var/cfengine instead, and the
# lab's exporters are told so (lab.product.stackconfig).
NOTIFICATION_SCRIPTS = CFENGINE_DIR / "notification_scripts"
CF_HUB_PID = CFENGINE_DIR / "cf-hub.pid"
CF_SERVERD_PID = CFENGINE_DIR / "cf-serverd.pid"
# A lab flag: the cf-hub stand-in keeps its pid file on a passive hub too (lab/cfhub.py).
CF_HUB_EVERYWHERE = CFENGINE_DIR / "cfha-lab-cf-hub-everywhere"
PGSQL_LOCK = PG_TMPDIR / "PGSQL.lock"

# Host directories that each node sees as its own copy (bind mounts in its mount namespace).
# Key: the subdirectory of the node's root on the host; value: the path inside the node.
NODE_BIND_DIRS: dict[str, Path] = {
    "cfengine": CFENGINE_DIR,
    "etc-corosync": Path("/etc/corosync"),
    "var-lib-pacemaker": Path("/var/lib/pacemaker"),
    "var-lib-corosync": Path("/var/lib/corosync"),
    "log-pacemaker": Path("/var/log/pacemaker"),
    "log-corosync": Path("/var/log/corosync"),
}

OCF_SHELLFUNCS = Path("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs")


class LabConfigError(ValueError):
    """An invalid lab id or node name."""


def lab_id_from_env(default: int = 0) -> int:
    raw = os.environ.get("CFHA_LAB_ID", "")
    if not raw:
        return default
    try:
        return check_lab_id(int(raw))
    except ValueError as err:
        raise LabConfigError(f"CFHA_LAB_ID={raw!r}: {err}") from err


def check_lab_id(lab_id: int) -> int:
    if not 0 <= lab_id <= MAX_LAB_ID:
        raise LabConfigError(f"lab id must be 0..{MAX_LAB_ID}, got {lab_id}")
    return lab_id


@dataclass(frozen=True)
class NodeSpec:
    """One hub: its pacemaker name (= its hostname), address and host-side directories."""

    name: str
    nodeid: int
    address: str
    link: str  # the veth end inside this node's network namespace
    root: Path  # host directory holding everything of this node

    @property
    def cfengine_host_dir(self) -> Path:
        """The host path of this node's /var/cfengine."""
        return self.root / "cfengine"

    def host_path(self, inside: Path) -> Path:
        """Where a path under /var/cfengine inside the node lives on the host."""
        return self.cfengine_host_dir / inside.relative_to(CFENGINE_DIR)

    @property
    def pgdata_host(self) -> Path:
        return self.host_path(PGDATA)

    @property
    def tmpdir_host(self) -> Path:
        return self.host_path(PG_TMPDIR)

    @property
    def lock_host(self) -> Path:
        return self.host_path(PGSQL_LOCK)

    @property
    def socket_dir_host(self) -> Path:
        return self.host_path(PG_SOCKET_DIR)

    @property
    def var_upper(self) -> Path:
        """Upper layer of the overlay this node mounts over /var (its private /var changes)."""
        return self.root / "var-upper"

    @property
    def var_work(self) -> Path:
        return self.root / "var-work"

    @property
    def logs(self) -> Path:
        """Logs of the processes the lab starts in this node (corosync, pacemakerd, holder)."""
        return self.root / "logs"

    @property
    def pg_log_host(self) -> Path:
        return self.var_upper / PG_LOGFILE.relative_to("/var")

    @property
    def pacemaker_log_host(self) -> Path:
        return self.root / "log-pacemaker/pacemaker.log"

    @property
    def corosync_log_host(self) -> Path:
        return self.root / "log-corosync/corosync.log"

    @property
    def hostkey_sha(self) -> str:
        """The node's CFEngine key hash (64 hex), as in ha_info.json; stable for a given node."""
        return hashlib.sha256(f"cfha-lab {self.root} {self.name}".encode()).hexdigest()

    @property
    def hostkey(self) -> str:
        return f"SHA={self.hostkey_sha}"

    def pg_dsn(self, dbname: str = "cfdb") -> str:
        """libpq connection string to use *inside* this node (Unix socket, as a CFEngine hub)."""
        return f"host={PG_SOCKET_DIR} port={PG_PORT} user={PG_OS_USER} dbname={dbname}"

    def pg_dsn_host(self, dbname: str = "cfdb") -> str:
        """libpq connection string for a process on the host (the same socket, from outside)."""
        return f"host={self.socket_dir_host} port={PG_PORT} user={PG_OS_USER} dbname={dbname}"


@dataclass(frozen=True)
class LabConfig:
    lab_id: int
    root: Path

    @classmethod
    def for_id(cls, lab_id: int, root_base: Path = DEFAULT_ROOT_BASE) -> LabConfig:
        check_lab_id(lab_id)
        return cls(lab_id=lab_id, root=root_base / f"cfha-lab-{lab_id}")

    @property
    def subnet(self) -> str:
        return f"10.250.{self.lab_id}.0/24"

    @property
    def vip(self) -> str:
        return f"10.250.{self.lab_id}.100"

    @property
    def prefix_len(self) -> int:
        return 24

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "state.lock"

    @property
    def label(self) -> str:
        """Short prefix for names of this lab's objects (links, hostkeys' seeds)."""
        return f"cfha{self.lab_id}"

    @property
    def nodes(self) -> tuple[NodeSpec, NodeSpec]:
        first, second = (self._node(i) for i in (1, 2))
        return first, second

    def _node(self, nodeid: int) -> NodeSpec:
        name = NODE_NAMES[nodeid - 1]
        return NodeSpec(
            name=name,
            nodeid=nodeid,
            address=f"10.250.{self.lab_id}.{nodeid}",
            link=f"{self.label}h{nodeid}",
            root=self.root / name,
        )

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise LabConfigError(f"unknown node {name!r}; nodes are {', '.join(NODE_NAMES)}")

    def other(self, name: str) -> NodeSpec:
        self.node(name)
        return next(spec for spec in self.nodes if spec.name != name)
