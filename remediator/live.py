"""The live `ClusterReader`: one snapshot from crm_mon, cibadmin, corosync, PostgreSQL and the
local files, read through the shared parsers (`clusterstate.parsers`), the ones the exporter uses.

Every read goes through the CommandRunner (argv, timeout, C locale); pacemaker tools honour
`CIB_file`, which is how the offline CIB states drive this reader in tests. crm_mon and cibadmin
are required (without them there is no snapshot); corosync's view of quorum is combined with
pacemaker's (either saying "no quorum" is no quorum); PostgreSQL and file reads that fail become
unknown facts, which the guard refuses on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.cib_model import CibConfig
from clusterstate.parsers.corosync import CorosyncParseError, parse_quorumtool
from clusterstate.parsers.crm_mon import (
    CRM_MON_ARGV,
    ClusterStatus,
    CrmMonParseError,
    parse_crm_mon,
)
from clusterstate.parsers.pcmk_values import Role
from clusterstate.tools import CommandError, CommandRunner, SubprocessRunner
from remediator.cluster import (
    ClusterSnapshot,
    FailCount,
    LocalHost,
    LocationConstraint,
    NodeState,
    PgsqlParams,
    ResourceFailure,
    ResourceState,
    SnapshotError,
)
from remediator.config import RemediatorConfig
from remediator.live_host import probe_host
from remediator.live_pg import PgReader
from remediator.lock import ClusterLock, LockError, parse_lock
from remediator.services import Services

log = logging.getLogger(__name__)
HostProbe = Callable[[str, str], LocalHost]


def system_zone() -> tzinfo:
    """The zone crm_mon prints its ctime() times in: $TZ, else /etc/localtime's, else UTC."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        names.append(str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2])
    for name in names:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")


class LiveClusterReader:
    def __init__(
        self,
        config: RemediatorConfig,
        runner: CommandRunner,
        pg: PgReader,
        *,
        local_tz: tzinfo | None = None,
        host_probe: HostProbe = probe_host,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._runner = runner
        self._pg = pg
        self._tz = local_tz or system_zone()
        self._probe = host_probe
        self._clock = clock

    def _output(self, argv: tuple[str, ...], *, accept: tuple[int, ...] = (0,)) -> bytes:
        try:
            result = self._runner.run(argv, timeout=self._config.tools.read_timeout_seconds)
        except CommandError as exc:
            raise SnapshotError(f"{argv[0]}: {exc.reason}: {exc}") from exc
        if result.returncode not in accept or not result.stdout.strip():
            raise SnapshotError(f"{argv[0]} exited {result.returncode}: {result.stderr_tail(300)}")
        return result.stdout

    def snapshot(self) -> ClusterSnapshot:
        tools = self._config.tools
        taken_at = self._clock()
        crm_mon = (tools.crm_mon, *CRM_MON_ARGV[1:])
        try:
            # crm_mon exits non-zero for some warnings but still prints the whole document.
            status = parse_crm_mon(self._output(crm_mon, accept=(0, 1, 2)), local_tz=self._tz)
            cib_xml = self._output((tools.cibadmin, "--query"))
            cib = parse_cib(cib_xml, local_tz=self._tz)
            lock = parse_lock(cib_xml)
        except (CrmMonParseError, CibParseError, LockError) as exc:
            raise SnapshotError(f"cannot parse the cluster state: {exc}") from exc
        errors: list[str] = []
        pgsql = self._pgsql_params(cib)
        if pgsql is None:
            errors.append(f"no primitive {self._config.guard.pgsql_resource} in the CIB")
        summary = status.summary
        options = summary.options if summary else None
        host = None
        if pgsql is not None and pgsql.pgdata and pgsql.tmpdir:
            host = self._probe(pgsql.pgdata, pgsql.tmpdir)
        return ClusterSnapshot(
            taken_at=taken_at,
            local_node=self._config.node_name,
            nodes=tuple(
                NodeState(n.name, n.online, n.unclean, n.pending, n.standby, n.maintenance)
                for n in status.nodes
            ),
            resources=_resources(status),
            quorate=self._quorate(status, errors),
            fencing_enabled=options.fencing_enabled if options else cib.fencing_enabled,
            maintenance_mode=options.maintenance_mode if options else None,
            cib_last_written=cib.last_written,
            failures=tuple(
                ResourceFailure(f.resource_id, f.node, f.task, f.exitreason, f.last_rc_change)
                for f in status.failures
                if f.node is not None
            ),
            fail_counts=tuple(
                FailCount(h.resource_id, h.node, h.fail_count, h.migration_threshold)
                for h in status.history
                if h.fail_count > 0
            ),
            node_attributes=_attributes(status, cib),
            constraints=tuple(
                LocationConstraint(
                    c.id,
                    c.resource or "",
                    c.node,
                    _score(c.score),
                    c.role.value if c.role else None,
                    c.expires_at,
                )
                for c in cib.locations
            ),
            last_promotion=_last_promotion(status, pgsql.resource if pgsql else None),
            pgsql=pgsql,
            pg_local=self._pg.local(pgsql) if pgsql else None,
            pg_primary=self._pg.primary(pgsql) if pgsql else None,
            host=host,
            lock=lock,
            errors=tuple(errors),
        )

    def _quorate(self, status: ClusterStatus, errors: list[str]) -> bool | None:
        """Pacemaker's and corosync's views; either one saying "no quorum" is no quorum."""
        dc = status.summary.dc if status.summary else None
        pacemaker = dc.with_quorum if dc is not None and dc.present else None
        corosync = None
        try:
            text = self._output((self._config.tools.corosync_quorumtool, "-s"), accept=(0, 2))
            corosync = parse_quorumtool(text.decode("utf-8", "replace")).quorate
        except (SnapshotError, CorosyncParseError) as exc:
            errors.append(f"corosync quorum: {exc}")
        views = [v for v in (pacemaker, corosync) if v is not None]
        if not views:
            return None
        return all(views)

    def _pgsql_params(self, cib: CibConfig) -> PgsqlParams | None:
        primitive = cib.primitive(self._config.guard.pgsql_resource)
        if primitive is None:
            return None
        attrs = primitive.instance_attributes
        port = attrs.get("pgport", "")
        return PgsqlParams(
            resource=primitive.id,
            clone=primitive.clone_id,
            pgdata=attrs.get("pgdata"),
            tmpdir=attrs.get("tmpdir"),
            pgdba=attrs.get("pgdba"),
            pgctl=attrs.get("pgctl"),
            master_ip=attrs.get("master_ip"),
            repuser=attrs.get("repuser"),
            pgport=int(port) if port.isdigit() else None,
            socketdir=attrs.get("socketdir"),
        )


def _score(score: float | None) -> str:
    if score is None:
        return ""
    if score in (float("inf"), float("-inf")):
        return "INFINITY" if score > 0 else "-INFINITY"
    return f"{score:g}"


@dataclass
class _Accumulated:
    clone: str | None
    active: set[str] = field(default_factory=set)
    promoted: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    managed: bool = True
    blocked: bool = False


def _resources(status: ClusterStatus) -> tuple[ResourceState, ...]:
    """Each primitive with every node its instances run, are promoted or failed on."""
    states: dict[str, _Accumulated] = {}
    for instance in status.instances:
        p = instance.primitive
        entry = states.setdefault(instance.resource_id, _Accumulated(instance.clone_id))
        if p.active:
            entry.active.update(p.nodes)
        if p.role is Role.PROMOTED:
            entry.promoted.update(p.nodes)
        if p.failed:
            entry.failed.update(p.nodes)
        entry.managed = entry.managed and p.managed
        entry.blocked = entry.blocked or p.blocked
    return tuple(
        ResourceState(
            rid,
            e.clone,
            tuple(sorted(e.active)),
            tuple(sorted(e.promoted)),
            tuple(sorted(e.failed)),
            e.managed,
            e.blocked,
        )
        for rid, e in states.items()
    )


def _attributes(status: ClusterStatus, cib: CibConfig) -> Mapping[str, Mapping[str, str]]:
    """crm_mon's attributes, plus the permanent ones of nodes crm_mon does not list (offline)."""
    merged: dict[str, dict[str, str]] = {}
    for node in cib.nodes:
        merged[node.uname] = dict(node.attributes)
    for name, attrs in status.node_attributes.items():
        merged.setdefault(name, {}).update(attrs)
    return merged


def _last_promotion(status: ClusterStatus, rsc: str | None) -> float | None:
    """When the current primary became primary, from live operation history: the newest
    `promote`, or the first promoted monitor result (rc 8) when history was cleaned since."""
    if rsc is None:
        return None
    primaries = set(status.promoted_nodes(rsc))
    times = [
        op.last_rc_change
        for h in status.history
        if h.resource_id == rsc and h.node in primaries
        for op in h.operations
        if op.last_rc_change is not None
        and (op.task == "promote" or (op.task == "monitor" and op.rc == 8))
    ]
    return max(times, default=None)


def live_services(config: RemediatorConfig, runner: CommandRunner | None = None) -> Services:
    runner = runner or SubprocessRunner()
    reader = LiveClusterReader(config, runner, PgReader(config.postgres))
    lock = ClusterLock(
        runner, config.tools.cibadmin, config.node_name, config.tools.read_timeout_seconds
    )
    return Services(runner=runner, reader=reader, lock=lock)
