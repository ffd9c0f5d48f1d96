"""The lab's view of itself: a typed snapshot, the health verdict and the `lab status` text.

The lab reads its cluster as the product does, through `clusterstate` (one reading: a lab that
judged health with a parser of its own could call healthy what the exporter calls broken):
pacemaker through `PacemakerReader` run inside a node, each hub's PostgreSQL through
`read_postgres` on the node's socket. `health_problems` is pure; `gather` collects the facts
(plus what only the host sees: the VIP on the nodes' links, files under each /var/cfengine).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from clusterstate.pacemaker import PacemakerDown, PacemakerReader, PacemakerSettings
from clusterstate.pacemaker_state import PacemakerState, ResourcePlacement
from clusterstate.parsers.crm_mon_model import Node
from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import PgsqlAgentView, PgsqlStatus, ReplicationState, SyncState
from clusterstate.pg import PgSession, PgSettings
from clusterstate.postgres import PgFacts
from clusterstate.postgres_read import PostgresUnreadable, read_postgres
from lab.config import MASTER_HUB_DAT, NodeSpec
from lab.nodes import LabNodes
from lab.state import Tracked

DATABASE = "cfpgsql"
VIP = "cfvirtip"
# The lab's tools run under load next to other labs: wider than the exporter's defaults.
PACEMAKER = PacemakerSettings(
    crm_mon_timeout_seconds=15, cibadmin_timeout_seconds=15, cib_max_age_seconds=0
)


@dataclass(frozen=True)
class NodeRuntime:
    """Facts about one node read from the host, not from pacemaker."""

    name: str
    address: str
    holder_alive: bool
    corosync_alive: bool
    pacemakerd_alive: bool
    vip_present: bool
    lock_present: bool
    pgdata_present: bool
    master_hub: str | None


@dataclass(frozen=True)
class LabStatus:
    lab_id: int
    phase: str
    vip: str
    pacemaker: PacemakerState | None
    pacemaker_error: str | None
    nodes: Mapping[str, NodeRuntime]
    pg: Mapping[str, PgFacts]
    tracked: tuple[Tracked, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def database(self) -> ResourcePlacement | None:
        return None if self.pacemaker is None else self.pacemaker.database

    @property
    def primary(self) -> str | None:
        """The node pacemaker promoted, if exactly one."""
        promoted = self.database.promoted_nodes if self.database is not None else ()
        return promoted[0] if len(promoted) == 1 else None

    @property
    def standby(self) -> str | None:
        primary = self.primary
        if primary is None:
            return None
        others = [n for n in self.nodes if n != primary]
        return others[0] if others else None

    @property
    def vip_nodes(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.vip_present]

    def role_on(self, node: str) -> Role | None:
        """cfpgsql's role on `node`; None when pacemaker could not be read."""
        return None if self.database is None else self.database.role_on(node)

    def agent(self, node: str) -> PgsqlAgentView | None:
        return None if self.pacemaker is None else self.pacemaker.agent_view(node)

    def pacemaker_node(self, name: str) -> Node | None:
        return None if self.pacemaker is None else self.pacemaker.node(name)


def agent_text(view: PgsqlAgentView | None) -> str:
    """The agent's attributes as it writes them (`PRI`, `STREAMING|ASYNC`), for messages."""
    if view is None:
        return "(none)"
    parts = (view.replication_state, view.sync_state)
    data = "|".join(v.value for v in parts if v is not None and v is not SyncState.NONE)
    status = view.status.value if view.status is not None else None
    return f"status={status} data-status={data or None}"


def _cluster_problems(state: PacemakerState, names: list[str]) -> list[str]:
    problems = []
    if state.maintenance_mode is not False:
        problems.append(f"maintenance-mode is {'on' if state.maintenance_mode else 'unknown'}")
    if state.quorate is not True:
        problems.append("no quorum" if state.quorate is False else "quorum unknown")
    for name in names:
        node = state.node(name)
        if node is None or not node.online:
            problems.append(f"{name}: offline in pacemaker")
        elif node.standby or node.maintenance or node.unclean:
            problems.append(f"{name}: standby/maintenance/unclean")
    problems += [
        f"failed action {f.op_key} on {f.node} ({f.exitstatus})" for f in state.failed_actions
    ]
    problems += [
        f"fail-count {h.resource_id}={h.fail_count:g} on {h.node}"
        for h in state.history
        if h.fail_count
    ]
    # The lab configures no location constraint: any is a ban, a move or a cfha hold.
    problems += [f"constraint {c.id}" for c in state.location_constraints]
    return problems


def _pair_problems(state: PacemakerState, primary: str, standby: str) -> list[str]:
    problems = []
    expect = {
        primary: (PgsqlStatus.PRI, ReplicationState.LATEST, None),
        standby: (PgsqlStatus.HS_ASYNC, ReplicationState.STREAMING, SyncState.ASYNC),
    }
    for node, (status, replication, sync) in expect.items():
        view = state.agent_view(node)
        if (
            view is None
            or (view.status, view.replication_state) != (status, replication)
            or (sync is not None and view.sync_state is not sync)
        ):
            want = f"{status.value} {replication.value}{'|' + sync.value if sync else ''}"
            problems.append(f"{node}: pgsql agent {agent_text(view)} (want {want})")
    database, vip = state.database, state.vip
    if database is None or database.role_on(standby) is not Role.UNPROMOTED:
        role = database.role_on(standby).value if database else "unknown"
        problems.append(f"{standby}: {DATABASE} is {role} (want unpromoted)")
    if vip is None or vip.active_nodes != (primary,):
        problems.append(f"{VIP} runs on {list(vip.active_nodes) if vip else '?'} (want {primary})")
    if database is None or not database.managed:
        problems.append(f"{DATABASE} unmanaged")
    return problems


def _replication_problems(
    primary: str, standby: str, nodes: Mapping[str, NodeRuntime], pg: Mapping[str, PgFacts]
) -> list[str]:
    problems = []
    p_pg, s_pg = pg.get(primary), pg.get(standby)
    if p_pg is None or not p_pg.writable:
        problems.append(f"{primary}: PostgreSQL is not a reachable primary")
    elif standby not in p_pg.streaming_to:
        problems.append(f"{primary}: no streaming pg_stat_replication row for {standby}")
    if s_pg is None or s_pg.in_recovery is not True:
        problems.append(f"{standby}: PostgreSQL is not a reachable standby")
    elif s_pg.receiver is None or s_pg.receiver.status != "streaming":
        problems.append(f"{standby}: WAL receiver not streaming")
    vip_holders = [n.name for n in nodes.values() if n.vip_present]
    if vip_holders != [primary]:
        problems.append(f"VIP configured on {vip_holders} (want [{primary}])")
    if nodes[standby].lock_present:
        problems.append(f"{standby}: PGSQL.lock present")
    return problems


def health_problems(
    state: PacemakerState | None,
    pacemaker_error: str | None,
    nodes: Mapping[str, NodeRuntime],
    pg: Mapping[str, PgFacts],
) -> tuple[str, ...]:
    """Everything that keeps the lab from the healthy state; empty when healthy. What cannot be
    read is a problem, never assumed fine.

    Healthy: both nodes online and active, cluster managed, no failures, fail-counts or location
    constraints; cfpgsql promoted on exactly one node P (PRI, LATEST) and unpromoted on the other
    node S (HS:async, STREAMING|ASYNC); P's pg_stat_replication streams to S; S is in recovery
    with a streaming WAL receiver; cfvirtip runs on P and the VIP is configured on P only; no
    PGSQL.lock on S.
    """
    problems = [
        f"{n.name}: cluster stack not running"
        for n in nodes.values()
        if not (n.holder_alive and n.corosync_alive and n.pacemakerd_alive)
    ]
    if state is None:
        return (*problems, f"crm_mon: {pacemaker_error or 'no answer'}")
    problems += _cluster_problems(state, list(nodes))
    promoted = state.database.promoted_nodes if state.database is not None else ()
    standbys = [n for n in nodes if promoted and n != promoted[0]]
    if len(promoted) != 1 or not standbys:
        return (*problems, f"{len(promoted)} promoted {DATABASE} instances")
    primary, standby = promoted[0], standbys[0]
    problems += _pair_problems(state, primary, standby)
    problems += _replication_problems(primary, standby, nodes, pg)
    return tuple(problems)


def read_pacemaker(lab: LabNodes) -> tuple[PacemakerState | None, str | None]:
    """The cluster as a node whose pacemaker runs sees it, preferring one that sees a DC.

    A node whose pacemaker is still starting answers with a partial view (no DC, nodes missing).
    """
    error = "no node runs pacemaker"
    partial: PacemakerState | None = None
    for name in lab.node_names:
        if not lab.stack_alive(name):
            continue
        reader = PacemakerReader(PACEMAKER, name, lab.runner(name).tools())
        try:
            state = reader.read()
        except PacemakerDown as exc:
            error = f"{name}: {exc}"
            continue
        if state.dc is not None:
            return state, None
        partial = partial or state
    return (partial, None) if partial is not None else (None, error)


def read_pg(node: NodeSpec, expected_standbys: list[str]) -> PgFacts:
    """One hub's PostgreSQL through its socket, read by the product's own statement."""
    session = PgSession(
        PgSettings(
            conninfo=node.pg_dsn_host("postgres"),
            connect_timeout_seconds=3,
            statement_timeout_seconds=15,
            application_name="cfha-lab",
        )
    )
    try:
        return read_postgres(session, expected_standbys)
    except PostgresUnreadable as exc:
        return exc.state
    finally:
        with contextlib.suppress(Exception):
            session.close()


def gather(lab: LabNodes) -> LabStatus:
    state = lab.load_state()
    nodes = {}
    for spec in lab.config.nodes:
        alive = lab.process_alive(spec.name)
        vip = False
        if alive["holder"]:
            done = lab.run(spec.name, ["ip", "-o", "-4", "addr", "show"], timeout=10)
            vip = f" {lab.config.vip}/" in done.stdout
        master_hub = spec.host_path(MASTER_HUB_DAT)
        nodes[spec.name] = NodeRuntime(
            name=spec.name,
            address=spec.address,
            holder_alive=alive["holder"],
            corosync_alive=alive["corosync"],
            pacemakerd_alive=alive["pacemakerd"],
            vip_present=vip,
            lock_present=spec.lock_host.exists(),
            pgdata_present=(spec.pgdata_host / "PG_VERSION").exists(),
            master_hub=master_hub.read_text().strip() if master_hub.exists() else None,
        )
    pacemaker, error = read_pacemaker(lab)
    names = list(lab.node_names)
    pg = {
        spec.name: read_pg(spec, [n for n in names if n != spec.name]) for spec in lab.config.nodes
    }
    return LabStatus(
        lab_id=lab.config.lab_id,
        phase=state.phase,
        vip=lab.config.vip,
        pacemaker=pacemaker,
        pacemaker_error=error,
        nodes=nodes,
        pg=pg,
        tracked=state.tracked,
        problems=health_problems(pacemaker, error, nodes, pg),
    )


def _pg_line(node: str, facts: PgFacts) -> str:
    if not facts.up:
        return f"{node}: not reachable ({facts.error})"
    role = "standby (in recovery)" if facts.in_recovery else "primary (writable)"
    parts = [f"{node}: {role}, PostgreSQL {facts.version}, timeline {facts.timeline}"]
    if facts.role == "primary":
        rows = "; ".join(
            f"{s.name} {s.client_addr} {s.state} {s.sync_state}" for s in facts.standbys
        )
        parts.append(f"pg_stat_replication: {rows or '(no rows)'}")
    else:
        wr = facts.receiver
        parts.append(
            f"wal receiver: {wr.status} from {wr.sender_host} (tli {wr.received_timeline})"
            if wr
            else "wal receiver: (none)"
        )
    return "\n    ".join(parts)


def format_text(status: LabStatus, crm_text: str) -> str:
    verdict = "healthy" if status.healthy else "NOT healthy"
    out = [f"cfha lab {status.lab_id}: {status.phase}, {verdict}"]
    out += [f"  - {p}" for p in status.problems]
    out += ["", "== crm_mon ==", crm_text.rstrip() or f"(unavailable: {status.pacemaker_error})"]
    out += ["", "== pgsql agent (node attributes) =="]
    out += [f"{name}: {agent_text(status.agent(name))}" for name in status.nodes]
    out += ["", "== PostgreSQL =="]
    out += [_pg_line(node, facts) for node, facts in status.pg.items()]
    out += ["", "== hubs =="]
    for n in status.nodes.values():
        stack = "running" if n.corosync_alive and n.pacemakerd_alive else "NOT running"
        out.append(
            f"{n.name} {n.address}: cluster stack {stack}; VIP {'here' if n.vip_present else '-'};"
            f" PGSQL.lock {'present' if n.lock_present else '-'};"
            f" pgdata {'present' if n.pgdata_present else 'MISSING'};"
            f" master_hub.dat {n.master_hub}"
        )
    out.append(f"VIP {status.vip} on: {', '.join(status.vip_nodes) or 'no node'}")
    forwards = [t for t in status.tracked if t.kind == "forward"]
    spawned = [t for t in status.tracked if t.kind == "spawn"]
    out += ["", "== reachable on 127.0.0.1 =="]
    out += [f"127.0.0.1:{t.local_port} -> {t.node} {t.target_host}:{t.port}" for t in forwards] or [
        "(no forwarded ports)"
    ]
    if spawned:
        out += ["", "== processes started in the nodes =="]
        out += [f"{t.node} pid {t.proc.pid}: {' '.join(t.argv)} (log {t.log})" for t in spawned]
    return "\n".join(out) + "\n"
