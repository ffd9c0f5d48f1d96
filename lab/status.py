"""The lab's view of itself: a typed snapshot, the health verdict and the `lab status` text.

`health_problems` is pure; `gather` collects the facts (crm_mon in a node, PostgreSQL through
the nodes' sockets, the VIP on the nodes' links, files under each node's /var/cfengine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lab import crm, postgres
from lab.config import MASTER_HUB_DAT
from lab.crm import CrmView
from lab.nodes import LabNodes
from lab.postgres import PgFacts
from lab.state import Tracked

AGENT_ATTRIBUTES = (
    "cfpgsql-status",
    "cfpgsql-data-status",
    "cfpgsql-receiver-status",
    "master-cfpgsql",
    "cfpgsql-master-baseline",
    "cfpgsql-xlog-loc",
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
    crm: CrmView | None
    crm_error: str | None
    nodes: Mapping[str, NodeRuntime]
    pg: Mapping[str, PgFacts]
    tracked: tuple[Tracked, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def primary(self) -> str | None:
        """The node pacemaker promoted, if exactly one."""
        if self.crm is None:
            return None
        promoted = self.crm.promoted_nodes()
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


def _cluster_problems(view: CrmView, names: list[str]) -> list[str]:
    problems = []
    if view.maintenance_mode:
        problems.append("maintenance-mode is on")
    if not view.quorate:
        problems.append("no quorum")
    for name in names:
        cn = view.nodes.get(name)
        if cn is None or not cn.online:
            problems.append(f"{name}: offline in pacemaker")
        elif cn.standby or cn.maintenance or cn.unclean:
            problems.append(f"{name}: standby/maintenance/unclean")
    problems += [f"failed action {f.op_key} on {f.node} ({f.exitstatus})" for f in view.failures]
    problems += [
        f"fail-count {rsc}={count} on {node}"
        for (node, rsc), count in view.fail_counts.items()
        if count
    ]
    problems += [f"constraint {ban.id}" for ban in view.bans]
    return problems


def _pair_problems(view: CrmView, primary: str, standby: str) -> list[str]:
    problems = []
    expect = {
        (primary, "cfpgsql-status"): "PRI",
        (primary, "cfpgsql-data-status"): "LATEST",
        (standby, "cfpgsql-status"): "HS:async",
        (standby, "cfpgsql-data-status"): "STREAMING|ASYNC",
    }
    for (node, attr), want in expect.items():
        got = view.attr(node, attr)
        if got != want:
            problems.append(f"{node}: {attr}={got} (want {want})")
    if view.role_on(standby) != "Unpromoted":
        problems.append(f"{standby}: cfpgsql is {view.role_on(standby)} (want Unpromoted)")
    vip_roles = [(r.node, r.role) for r in view.instances("cfvirtip") if r.active]
    if vip_roles != [(primary, "Started")]:
        problems.append(f"cfvirtip runs on {vip_roles} (want {primary})")
    if not any(r.managed for r in view.instances("cfpgsql")):
        problems.append("cfpgsql unmanaged")
    return problems


def _replication_problems(
    primary: str, standby: str, nodes: Mapping[str, NodeRuntime], pg: Mapping[str, PgFacts]
) -> list[str]:
    problems = []
    p_pg, s_pg = pg.get(primary), pg.get(standby)
    if p_pg is None or not p_pg.reachable or p_pg.in_recovery is not False:
        problems.append(f"{primary}: PostgreSQL is not a reachable primary")
    elif not any(
        r.application_name == standby and r.state == "streaming" for r in p_pg.replication
    ):
        problems.append(f"{primary}: no streaming pg_stat_replication row for {standby}")
    if s_pg is None or not s_pg.reachable or s_pg.in_recovery is not True:
        problems.append(f"{standby}: PostgreSQL is not a reachable standby")
    elif s_pg.wal_receiver is None or s_pg.wal_receiver.status != "streaming":
        problems.append(f"{standby}: WAL receiver not streaming")
    vip_holders = [n.name for n in nodes.values() if n.vip_present]
    if vip_holders != [primary]:
        problems.append(f"VIP configured on {vip_holders} (want [{primary}])")
    if nodes[standby].lock_present:
        problems.append(f"{standby}: PGSQL.lock present")
    return problems


def health_problems(
    view: CrmView | None,
    crm_error: str | None,
    nodes: Mapping[str, NodeRuntime],
    pg: Mapping[str, PgFacts],
) -> tuple[str, ...]:
    """Everything that keeps the lab from the healthy state; empty when healthy.

    Healthy: both nodes online and active, cluster managed, no failures, fail-counts or cli-
    constraints; cfpgsql promoted on exactly one node P (PRI, LATEST) and unpromoted on the other
    node S (HS:async, STREAMING|ASYNC); P's pg_stat_replication streams to S; S is in recovery with
    a streaming WAL receiver; cfvirtip runs on P and the VIP is configured on P only; no
    PGSQL.lock on S.
    """
    problems = [
        f"{n.name}: cluster stack not running"
        for n in nodes.values()
        if not (n.holder_alive and n.corosync_alive and n.pacemakerd_alive)
    ]
    if view is None:
        return (*problems, f"crm_mon: {crm_error or 'no answer'}")
    problems += _cluster_problems(view, list(nodes))
    promoted = view.promoted_nodes()
    standbys = [n for n in nodes if promoted and n != promoted[0]]
    if len(promoted) != 1 or not standbys:
        return (*problems, f"{len(promoted)} promoted cfpgsql instances")
    primary, standby = promoted[0], standbys[0]
    problems += _pair_problems(view, primary, standby)
    problems += _replication_problems(primary, standby, nodes, pg)
    return tuple(problems)


def crm_view(lab: LabNodes) -> tuple[CrmView | None, str | None]:
    """crm_mon XML from a node whose pacemaker runs, preferring one that sees a DC.

    A node whose pacemaker is still starting answers with a partial view (no DC, nodes missing).
    """
    error = "no node runs pacemaker"
    partial: CrmView | None = None
    for name in lab.node_names:
        if not lab.stack_alive(name):
            continue
        done = lab.run(name, ["crm_mon", "--output-as=xml", "--include=all"], timeout=15)
        if done.returncode != 0:
            error = f"crm_mon on {name}: rc={done.returncode} {done.stderr.strip()[:200]}"
            continue
        try:
            view = crm.parse(done.stdout)
        except crm.CrmParseError as err:
            error = str(err)
            continue
        if view.dc is not None:
            return view, None
        partial = partial or view
    return (partial, None) if partial is not None else (None, error)


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
    view, error = crm_view(lab)
    pg = {spec.name: postgres.facts(spec) for spec in lab.config.nodes}
    return LabStatus(
        lab_id=lab.config.lab_id,
        phase=state.phase,
        vip=lab.config.vip,
        crm=view,
        crm_error=error,
        nodes=nodes,
        pg=pg,
        tracked=state.tracked,
        problems=health_problems(view, error, nodes, pg),
    )


def _pg_line(facts: PgFacts) -> str:
    if not facts.reachable:
        return f"{facts.node}: not reachable ({facts.error})"
    role = "standby (in recovery)" if facts.in_recovery else "primary (writable)"
    parts = [f"{facts.node}: {role}, timeline {facts.timeline}"]
    if facts.replication:
        rows = "; ".join(
            f"{r.application_name} {r.client_addr} {r.state} {r.sync_state}"
            for r in facts.replication
        )
        parts.append(f"pg_stat_replication: {rows}")
    elif not facts.in_recovery:
        parts.append("pg_stat_replication: (no rows)")
    if facts.in_recovery:
        wr = facts.wal_receiver
        parts.append(
            f"wal receiver: {wr.status} from {wr.sender_host} (tli {wr.received_tli})"
            if wr
            else "wal receiver: (none)"
        )
    return "\n    ".join(parts)


def format_text(status: LabStatus, crm_text: str) -> str:
    verdict = "healthy" if status.healthy else "NOT healthy"
    out = [f"cfha lab {status.lab_id}: {status.phase}, {verdict}"]
    out += [f"  - {p}" for p in status.problems]
    out += ["", "== crm_mon ==", crm_text.rstrip() or f"(unavailable: {status.crm_error})"]
    out += ["", "== pgsql agent node attributes =="]
    for name in status.nodes:
        attrs = status.crm.nodes[name].attributes if status.crm and name in status.crm.nodes else {}
        values = ", ".join(f"{a}={attrs[a]}" for a in AGENT_ATTRIBUTES if a in attrs)
        out.append(f"{name}: {values or '(none)'}")
    out += ["", "== PostgreSQL =="]
    out += [_pg_line(f) for f in status.pg.values()]
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
