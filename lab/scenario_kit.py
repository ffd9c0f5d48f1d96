"""What the scenarios share: targets, results, expected-state checks, process helpers."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from clusterstate.parsers.pcmk_values import Role
from clusterstate.parsers.pgsql_ra import PgsqlStatus, ReplicationState
from lab import postgres, settle
from lab.config import PG_OS_USER, PGDATA
from lab.nodes import LabNodes
from lab.procs import ProcRef, netns_inode, runs_file, start_time
from lab.settle import Check, promoted_node
from lab.status import LabStatus, agent_text


class ScenarioError(settle.NotSettledError):
    """The scenario could not be applied, or its expected state did not appear in time."""

    def __init__(self, message: str, last: LabStatus | None = None) -> None:
        super().__init__(message, last)


SETTLE_TIMEOUT_S = 45.0


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    node: str  # the node the scenario hit
    other: str
    primary_before: str
    actions: tuple[str, ...]
    expected: str  # the state it leaves, in words
    seconds: float = 0.0
    details: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"scenario {self.name} on {self.node} (primary before: {self.primary_before})"]
        lines += [f"  did: {a}" for a in self.actions]
        lines.append(f"  state now ({self.seconds:.1f}s): {self.expected}")
        lines += [f"  {k}: {v}" for k, v in self.details.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    node: str
    other: str
    primary: str


def resolve_target(
    lab: LabNodes, node: str | None, default: str, allowed: tuple[str, ...]
) -> Target:
    """Resolve the node a scenario hits; `default` and `allowed` are roles: primary/standby."""
    primary = promoted_node(lab)
    standby = lab.other(primary)
    role_of = {primary: "primary", standby: "standby"}
    chosen = node if node is not None else (primary if default == "primary" else standby)
    lab.node(chosen)
    if role_of[chosen] not in allowed:
        raise ScenarioError(f"this scenario hits the {' or '.join(allowed)}; {chosen} is not")
    return Target(node=chosen, other=lab.other(chosen), primary=primary)


def wait_for(
    lab: LabNodes, check: Check, what: str, timeout: float = SETTLE_TIMEOUT_S
) -> LabStatus:
    """Poll the lab until `check` finds nothing missing; ScenarioError with what still was."""
    return settle.wait_for(lab, check, what, timeout, error=ScenarioError)


# -- expected states (pure checks on a LabStatus) --------------------------------------------


def failed_instance(s: LabStatus, node: str) -> list[str]:
    out = []
    if s.pacemaker is None:
        return [f"no crm_mon ({s.pacemaker_error})"]
    if s.role_on(node) is not Role.STOPPED:
        out.append(f"cfpgsql on {node} is {s.role_on(node)}, want stopped")
    if s.pacemaker.fail_count("cfpgsql", node) < 1:
        out.append(f"no cfpgsql fail-count on {node}")
    return out


def promoted_on(s: LabStatus, node: str) -> list[str]:
    if s.pacemaker is None or s.database is None:
        return [f"no crm_mon ({s.pacemaker_error})"]
    out = []
    if s.database.promoted_nodes != (node,):
        out.append(f"promoted {list(s.database.promoted_nodes)}, want [{node}]")
    view = s.agent(node)
    if view is None or view.status is not PgsqlStatus.PRI:
        out.append(f"{node} pgsql agent {agent_text(view)}, want PRI")
    if s.vip_nodes != [node]:
        out.append(f"VIP on {s.vip_nodes}, want [{node}]")
    return out


def standby_gone(s: LabStatus, primary: str, node: str) -> list[str]:
    out = []
    view = s.agent(node)
    if s.pacemaker is not None and (
        view is None or view.replication_state is not ReplicationState.DISCONNECT
    ):
        out.append(f"{node} pgsql agent {agent_text(view)}, want DISCONNECT")
    if any(link.name == node and link.connected for link in s.pg[primary].standbys):
        out.append(f"{primary} still replicates to {node}")
    return out


# -- helpers that act ------------------------------------------------------------------------


def postmaster(lab: LabNodes, node: str) -> ProcRef:
    """The node's postmaster, checked to be PostgreSQL inside this node before we signal it."""
    spec = lab.node(node)
    pid = postgres.postmaster_pid(spec)
    state = lab.load_state().node(node)
    if pid is None or state.netns_inode is None:
        raise ScenarioError(f"{node}: PostgreSQL is not running (no postmaster.pid)")
    start = start_time(pid)
    server = lab.postgres().server_on_host(spec)
    ours = runs_file(pid, server) and netns_inode(pid) == state.netns_inode
    if start is None or not ours:
        raise ScenarioError(f"{node}: postmaster.pid names {pid}, not a PostgreSQL of this node")
    return ProcRef(pid, start)


def kill9_postgres(lab: LabNodes, node: str) -> int:
    ref = postmaster(lab, node)
    os.kill(ref.pid, signal.SIGKILL)
    inode = lab.load_state().node(node).netns_inode
    assert inode is not None
    # Its children notice the dead postmaster and exit on their own; wait for that.
    postgres.wait_no_server(inode, lab.postgres().server_on_host(lab.node(node)), timeout=20)
    return ref.pid


def crm(lab: LabNodes, node: str, *argv: str) -> None:
    lab.run(node, list(argv), timeout=30, check=True)


def pg_ctl(lab: LabNodes, node: str, *args: str) -> None:
    lab.run(
        node,
        [lab.postgres().tool("pg_ctl"), "-D", str(PGDATA), *args],
        user=PG_OS_USER,
        timeout=60,
        check=True,
    )


def result(
    name: str, t: Target, actions: list[str], expected: str, started: float, **details: str
) -> ScenarioResult:
    return ScenarioResult(
        name=name,
        node=t.node,
        other=t.other,
        primary_before=t.primary,
        actions=tuple(actions),
        expected=expected,
        seconds=time.monotonic() - started,
        details=details,
    )
