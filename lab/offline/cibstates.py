"""Offline pacemaker states of a CFEngine-shaped cluster, made with the real pacemaker tools.

Each state is a saved CIB (status section included) that ``CIB_file=... crm_mon`` reads as if
it were a live cluster. They follow lab-feasibility section 3: the configuration is written with
``pcs -f``, ``crm_attribute`` and ``cibadmin`` on a file, and ``crm_simulate`` runs the
transitions (start, promote, failures, node loss). The cluster is CFEngine's: the promotable
clone ``mscfpgsql`` of ``cfpgsql`` (ocf:heartbeat:pgsql, async replication) and the group
``cfengine`` holding the floating IP ``cfvirtip``, plus the node attributes the pgsql agent
would have written in each situation (the simulation runs no agent).

Determinism: crm_simulate stamps every operation with the wall clock, and nothing sets
``cib-last-written``. The builder writes ``cib-last-written`` itself (as ctime() text in
``PCMK_TZ``, the way a live cluster writes it) and re-stamps the times each crm_simulate run
wrote with that step's fixed time, so every state is the same on every run.

``CibStates(root)`` builds each state once, on first use; tests get one per session from the
``cib_states`` fixture. Building needs crm_simulate, crm_attribute, cibadmin and pcs; without
them `MissingToolsError` says which are missing (the tests' `cib_states` fixture skips on it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from clusterstate.parsers.crm_mon import CRM_MON_ARGV
from lab.offline.ctime import ctime_text as _ctime_text

PCMK_TZ = "Europe/Berlin"
"""The zone the simulated hubs run in: not UTC, and in summer time on the pinned dates."""

_ZONE = ZoneInfo(PCMK_TZ)


def _at(hour: int, minute: int) -> int:
    return int(datetime(2026, 7, 14, hour, minute, tzinfo=_ZONE).timestamp())


BASE_AT = _at(10, 0)
"""Configuration written and both hubs started (CEST, UTC+2)."""
HEALTHY_AT = _at(10, 5)
"""Promotion of hub1, start of the floating IP."""
INCIDENT_AT = _at(11, 30)
"""The step that makes each non-healthy state (failure, node loss, ban, ...)."""

TOOLS = ("crm_simulate", "crm_attribute", "cibadmin", "crm_resource", "crm_mon", "pcs")
_TIMEOUT = 60.0


def ctime_text(epoch: int, zone: ZoneInfo = _ZONE) -> str:
    """``epoch`` as C ctime() prints it in ``zone`` ("Tue Jul 14 10:00:00 2026")."""
    return _ctime_text(epoch, zone)


def tool_env(cib: Path | None = None, tz: str = PCMK_TZ) -> dict[str, str]:
    """The environment pacemaker tools run with: C locale, a time zone, optionally CIB_file."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LANG": "C",
        "LC_ALL": "C",
        "TZ": tz,
    }
    if cib is not None:
        env["CIB_file"] = str(cib)
    return env


def run_tool(argv: Sequence[str], *, cib: Path | None = None, tz: str = PCMK_TZ) -> bytes:
    """Run one pacemaker tool; a failure raises with its stderr."""
    result = subprocess.run(
        list(argv), env=tool_env(cib, tz), capture_output=True, timeout=_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def crm_mon_xml(cib: Path, *, tz: str = PCMK_TZ) -> bytes:
    """``crm_mon`` with the exporter's argv (``CRM_MON_ARGV``) on a saved CIB."""
    return run_tool(CRM_MON_ARGV, cib=cib, tz=tz)


def cibadmin_query(cib: Path) -> bytes:
    """``cibadmin --query`` on a saved CIB."""
    return run_tool(["cibadmin", "--query"], cib=cib)


class MissingToolsError(RuntimeError):
    """A pacemaker command-line tool the states are built with is not installed."""


def missing_pacemaker_tools() -> list[str]:
    """The tools of `TOOLS` not installed here (empty when every one is)."""
    return [tool for tool in TOOLS if shutil.which(tool, path=tool_env()["PATH"]) is None]


def _restamp(cib: Path, fresh_since: float, at: int) -> None:
    """Give every time crm_simulate took from the wall clock (>= ``fresh_since``) the time
    ``at``: operation results and the last-failure node attributes it wrote."""
    tree = etree.parse(str(cib))
    for op in tree.iter("lrm_rsc_op"):
        for name in ("last-rc-change", "last-run"):
            value = op.get(name)
            if value is not None and value.isdigit() and int(value) >= fresh_since:
                op.set(name, str(at))
    for nvpair in tree.iter("nvpair"):
        value = nvpair.get("value") or ""
        if (
            (nvpair.get("name") or "").startswith("last-failure-")
            and value.isdigit()
            and int(value) >= fresh_since
        ):
            nvpair.set("value", str(at))
    tree.write(str(cib), xml_declaration=False, encoding="utf-8")


class CibStates:
    """Builds the CFEngine-shaped pacemaker states under ``root``, each once, on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _state(self, name: str, build: Callable[[Path], None]) -> Path:
        if name not in self._built:
            missing = missing_pacemaker_tools()
            if missing:
                raise MissingToolsError(
                    f"pacemaker tools not installed: {', '.join(missing)} (scripts/ensure-debs)"
                )
            path = self.root / f"{name}.xml"
            build(path)
            self._built[name] = path
        return self._built[name]

    def _simulate(
        self, source: Path, target: Path, at: int, *extra: str, transition: bool = True
    ) -> None:
        """Inject ``extra`` events; with ``transition`` also run the scheduler's reaction."""
        started = time.time() - 1
        run_tool(
            [
                "crm_simulate",
                "--xml-file",
                str(source),
                *extra,
                *(["--simulate"] if transition else []),
                "--save-output",
                str(target),
            ]
        )
        _restamp(target, started, at)

    def _copy(self, source: Path, target: Path) -> None:
        shutil.copyfile(source, target)

    @staticmethod
    def _attrs(cib: Path, node: str, values: dict[str, str], lifetime: str = "reboot") -> None:
        for name, value in values.items():
            run_tool(
                [
                    "crm_attribute",
                    "--node",
                    node,
                    "--name",
                    name,
                    f"--update={value}",
                    "--lifetime",
                    lifetime,
                ],
                cib=cib,
            )

    @staticmethod
    def _written(cib: Path, at: int) -> None:
        """A configuration change at ``at`` made on hub1 by the controller."""
        run_tool(
            [
                "cibadmin",
                "--modify",
                "--xml-text",
                f'<cib cib-last-written="{ctime_text(at)}" update-origin="hub1" '
                'update-client="crmd" update-user="hacluster"/>',
            ],
            cib=cib,
        )

    def _agent_primary(self, cib: Path, node: str) -> None:
        """What the pgsql agent writes for a primary (lab-feasibility 4b, cfengine-ha 1)."""
        self._attrs(
            cib,
            node,
            {
                "cfpgsql-status": "PRI",
                "master-cfpgsql": "1000",
                "cfpgsql-master-baseline": "0000000005000060",
                "cfpgsql-receiver-status": "normal (master)",
            },
        )
        self._attrs(cib, node, {"cfpgsql-data-status": "LATEST"}, lifetime="forever")

    def _agent_stopped(self, cib: Path, node: str) -> None:
        """What the agent's stop leaves (STOP, score -INFINITY, no receiver status, no
        baseline), and the DISCONNECT the primary then writes for that node."""
        self._attrs(cib, node, {"cfpgsql-status": "STOP", "master-cfpgsql": "-INFINITY"})
        for name in ("cfpgsql-receiver-status", "cfpgsql-master-baseline"):
            run_tool(
                [
                    "crm_attribute",
                    "--node",
                    node,
                    "--name",
                    name,
                    "--delete",
                    "--lifetime",
                    "reboot",
                ],
                cib=cib,
            )
        self._attrs(cib, node, {"cfpgsql-data-status": "DISCONNECT"}, lifetime="forever")

    @staticmethod
    def _dc(cib: Path, node_id: str) -> None:
        """The surviving partition elected node ``node_id`` as its DC."""
        run_tool(["cibadmin", "--modify", "--xml-text", f'<cib dc-uuid="{node_id}"/>'], cib=cib)

    # -- base and healthy ------------------------------------------------------------------

    def _build_base(self, path: Path) -> None:
        """Two hubs, CFEngine's resources and constraints, both hubs just started."""
        config = self.root / "config.xml"
        config.write_bytes(run_tool(["cibadmin", "--empty"]))
        for node_id, uname in (("1", "hub1"), ("2", "hub2")):
            run_tool(
                [
                    "cibadmin",
                    "--create",
                    "--scope",
                    "nodes",
                    "--xml-text",
                    f'<node id="{node_id}" uname="{uname}"/>',
                ],
                cib=config,
            )
        for name, value in (
            ("stonith-enabled", "false"),
            ("no-quorum-policy", "ignore"),
            ("cluster-infrastructure", "corosync"),
            ("dc-version", "2.1.5-a3f44794f94"),
            ("cluster-name", "cfcluster"),
        ):
            run_tool(
                ["crm_attribute", "--type", "crm_config", "--name", name, f"--update={value}"],
                cib=config,
            )
        run_tool(
            [
                "cibadmin",
                "--create",
                "--scope",
                "configuration",
                "--xml-text",
                '<rsc_defaults><meta_attributes id="rsc_defaults-meta_attributes">'
                '<nvpair id="rsc_defaults-stickiness" name="resource-stickiness" '
                'value="INFINITY"/><nvpair id="rsc_defaults-migration-threshold" '
                'name="migration-threshold" value="1"/></meta_attributes></rsc_defaults>',
            ],
            cib=config,
        )
        run_tool(
            [
                "pcs",
                "-f",
                str(config),
                "resource",
                "create",
                "cfpgsql",
                "ocf:heartbeat:pgsql",
                "pgctl=/var/cfengine/bin/pg_ctl",
                "psql=/var/cfengine/bin/psql",
                "pgdata=/var/cfengine/state/pg/data",
                "pgdb=cfdb",
                "pgdba=cfpostgres",
                "repuser=cfpostgres",
                "tmpdir=/var/cfengine/state/pg/tmp",
                "rep_mode=async",
                "node_list=hub1 hub2",
                "master_ip=192.168.100.100",
                "restart_on_promote=true",
                "check_wal_receiver=true",
                "config=/var/cfengine/state/pg/data/postgresql.conf",
                "op",
                "start",
                "timeout=120s",
                "op",
                "stop",
                "timeout=120s",
                "op",
                "promote",
                "timeout=120s",
                "op",
                "demote",
                "timeout=120s",
                "op",
                "monitor",
                "interval=4s",
                "timeout=60s",
                "on-fail=restart",
                "op",
                "monitor",
                "interval=3s",
                "timeout=60s",
                "on-fail=restart",
                "role=Promoted",
                "promotable",
                "mscfpgsql",
                "promoted-max=1",
                "promoted-node-max=1",
                "clone-max=2",
                "clone-node-max=1",
                "notify=true",
            ]
        )
        run_tool(
            [
                "pcs",
                "-f",
                str(config),
                "resource",
                "create",
                "cfvirtip",
                "ocf:heartbeat:IPaddr2",
                "ip=192.168.100.100",
                "cidr_netmask=24",
                "op",
                "monitor",
                "interval=10s",
                "--group",
                "cfengine",
            ]
        )
        for constraint in (
            '<rsc_colocation id="colocation-cfengine-mscfpgsql-INFINITY" rsc="cfengine" '
            'with-rsc="mscfpgsql" with-rsc-role="Promoted" score="INFINITY"/>',
            '<rsc_order id="order-mscfpgsql-cfengine-mandatory" first="mscfpgsql" '
            'first-action="promote" then="cfengine" then-action="start" kind="Mandatory" '
            'symmetrical="false"/>',
            '<rsc_order id="order-mscfpgsql-cfengine-optional" first="mscfpgsql" '
            'first-action="demote" then="cfengine" then-action="stop" kind="Optional" '
            'symmetrical="false"/>',
        ):
            run_tool(
                ["cibadmin", "--create", "--scope", "constraints", "--xml-text", constraint],
                cib=config,
            )
        run_tool(
            ["cibadmin", "--modify", "--xml-text", '<cib have-quorum="1" dc-uuid="1"/>'], cib=config
        )
        self._written(config, BASE_AT)
        self._simulate(config, path, BASE_AT, "--node-up", "hub1", "--node-up", "hub2")

    def base(self) -> Path:
        """Configured, both hubs up, both instances unpromoted, no promotion scores yet."""
        return self._state("base", self._build_base)

    def _build_healthy(self, path: Path) -> None:
        scored = self.root / "scored.xml"
        self._copy(self.base(), scored)
        self._agent_primary(scored, "hub1")
        self._attrs(
            scored,
            "hub2",
            {
                "cfpgsql-status": "HS:async",
                "master-cfpgsql": "100",
                "cfpgsql-receiver-status": "normal",
            },
        )
        self._attrs(scored, "hub2", {"cfpgsql-data-status": "STREAMING|ASYNC"}, lifetime="forever")
        self._simulate(scored, path, HEALTHY_AT)

    def healthy(self) -> Path:
        """hub1 primary (Promoted, PRI, holds the IP), hub2 streaming standby (HS:async)."""
        return self._state("healthy", self._build_healthy)

    # -- incidents, each from healthy ------------------------------------------------------

    def _from_healthy(
        self,
        path: Path,
        prepare: Callable[[Path], None],
        *simulate: str,
        after: Callable[[Path], None] | None = None,
    ) -> None:
        work = self.root / f"{path.stem}.work.xml"
        self._copy(self.healthy(), work)
        prepare(work)
        self._simulate(work, path, INCIDENT_AT, *simulate)
        if after is not None:
            after(path)
            converged = self.root / f"{path.stem}.converged.xml"
            self._simulate(path, converged, INCIDENT_AT)
            shutil.move(converged, path)

    def failed_standby_monitor(self) -> Path:
        """hub2's standby monitor failed (rc 1): fail-count 1, migration-threshold 1 -> stopped."""
        return self._state(
            "failed_standby_monitor",
            lambda path: self._from_healthy(
                path,
                lambda cib: None,
                "--op-inject",
                "cfpgsql_monitor_4000@hub2=1",
                after=lambda cib: self._agent_stopped(cib, "hub2"),
            ),
        )

    def failover(self) -> Path:
        """hub1's primary monitor found PostgreSQL gone (rc 7): hub2 promoted, IP moved."""

        def agents(cib: Path) -> None:
            self._agent_stopped(cib, "hub1")
            self._agent_primary(cib, "hub2")

        return self._state(
            "failover",
            lambda path: self._from_healthy(
                path, lambda cib: None, "--op-inject", "cfpgsql_monitor_3000@hub1=7", after=agents
            ),
        )

    def node_down(self) -> Path:
        """hub1 left the cluster cleanly: hub2 promoted and holds the IP."""

        def agents(cib: Path) -> None:
            self._agent_primary(cib, "hub2")
            self._attrs(cib, "hub1", {"cfpgsql-data-status": "DISCONNECT"}, lifetime="forever")

        return self._state(
            "node_down",
            lambda path: self._from_healthy(
                path, lambda cib: self._dc(cib, "2"), "--node-down", "hub1", after=agents
            ),
        )

    def unclean_node(self) -> Path:
        """Fencing enabled with no device, hub1 failed: UNCLEAN, its resources stay unknown."""

        def enable_fencing(cib: Path) -> None:
            run_tool(
                [
                    "crm_attribute",
                    "--type",
                    "crm_config",
                    "--name",
                    "stonith-enabled",
                    "--update=true",
                ],
                cib=cib,
            )
            self._written(cib, INCIDENT_AT)
            self._dc(cib, "2")

        return self._state(
            "unclean_node",
            lambda path: self._from_healthy(path, enable_fencing, "--node-fail", "hub1"),
        )

    def leftover_ban(self) -> Path:
        """``crm_resource --ban mscfpgsql hub2`` left behind: hub2's standby is stopped."""

        def ban(cib: Path) -> None:
            run_tool(
                ["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub2"], cib=cib
            )
            self._written(cib, INCIDENT_AT)

        return self._state(
            "leftover_ban",
            lambda path: self._from_healthy(
                path, ban, after=lambda cib: self._agent_stopped(cib, "hub2")
            ),
        )

    def maintenance_mode(self) -> Path:
        """``maintenance-mode=true``: nothing is managed, everything keeps running."""

        def maintenance(cib: Path) -> None:
            run_tool(
                [
                    "crm_attribute",
                    "--type",
                    "crm_config",
                    "--name",
                    "maintenance-mode",
                    "--update=true",
                ],
                cib=cib,
            )
            self._written(cib, INCIDENT_AT)

        return self._state("maintenance_mode", lambda path: self._from_healthy(path, maintenance))

    def node_standby(self) -> Path:
        """``pcs node standby hub2``: hub2's standby instance is stopped."""

        def standby(cib: Path) -> None:
            run_tool(["pcs", "-f", str(cib), "node", "standby", "hub2"])
            self._written(cib, INCIDENT_AT)

        return self._state(
            "node_standby",
            lambda path: self._from_healthy(
                path, standby, after=lambda cib: self._agent_stopped(cib, "hub2")
            ),
        )

    def standby_onfail(self) -> Path:
        """hub2's standby monitor failed where the operation says ``on-fail=standby``: pacemaker
        puts hub2 in standby (``standby_onfail``) and stops its instance."""

        def on_fail_standby(cib: Path) -> None:
            run_tool(
                [
                    "cibadmin",
                    "--modify",
                    "--xml-text",
                    '<op id="cfpgsql-monitor-interval-4s" on-fail="standby"/>',
                ],
                cib=cib,
            )
            self._written(cib, INCIDENT_AT)

        return self._state(
            "standby_onfail",
            lambda path: self._from_healthy(
                path,
                on_fail_standby,
                "--op-inject",
                "cfpgsql_monitor_4000@hub2=1",
                after=lambda cib: self._agent_stopped(cib, "hub2"),
            ),
        )

    def vip_multi_active(self) -> Path:
        """A probe found ``cfvirtip`` running on hub2 as well, before pacemaker reacted: the
        floating IP is active on both hubs (a primitive's split brain)."""
        return self._state(
            "vip_multi_active",
            lambda path: self._simulate(
                self.healthy(),
                path,
                INCIDENT_AT,
                "--op-inject",
                "cfvirtip_monitor_0@hub2=0",
                transition=False,
            ),
        )

    NAMES = (
        "healthy",
        "failed_standby_monitor",
        "failover",
        "node_down",
        "unclean_node",
        "leftover_ban",
        "maintenance_mode",
        "node_standby",
        "standby_onfail",
        "vip_multi_active",
    )
    """Every state this class builds."""

    def all_states(self) -> dict[str, Path]:
        """Every state by name (building what is not built yet)."""
        return {name: getattr(self, name)() for name in self.NAMES}
