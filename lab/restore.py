"""Bring a lab back to healthy after any scenario, by hand and fast; never wipe the primary.

Order of the repair:
1. a node whose cluster stack is dead: stop the PostgreSQL it left running, drop a VIP it
   still holds, start corosync + pacemakerd again;
2. maintenance-mode off; every `cli-` location constraint, cfha's resync hold and cfha's
   remediation lock removed (`lab.cib_leftovers`);
3. the promoted node P is kept as it is (its data is the truth: no row written on it is lost);
4. the other node S is re-cloned from P when its data cannot follow P (PGSQL.lock present:
   it was a primary; data directory missing; its PostgreSQL is writable): S goes into node
   standby so pacemaker stops it, a fresh pg_basebackup replaces its data directory, the lock
   goes. A re-clone, not pg_rewind: with restart_on_promote=true a promotion keeps the timeline,
   so pg_rewind cannot see a divergence;
5. node standby/maintenance flags cleared, failures cleaned up, wait until healthy;
6. the faults above the database undone (the CFEngine files as rendered, cf-hub running, the
   archive's small filesystem and its writer gone), master_hub.dat refreshed on both hubs, as
   cf-agent would.
None of it touches what was started in the nodes (`Lab.spawn`, `Lab.forward`: a demo's or a
test's exporters and remediators) beyond a scenario's own writer. Only if that does not reach
healthy in time is the lab rebuilt (down + up, the seed is the same but rows written since are
lost, and every process started in the nodes stops with it); the report says so, and a running
demo brings its stack back (`lab.product.stack`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

import psycopg

from clusterstate.parsers.cib import CibParseError
from clusterstate.parsers.pcmk_values import Role
from lab import (
    cfengine_side,
    diagnosis_faults,
    lifecycle,
    pglayout,
    postgres,
    scenarios_readiness,
    teardown,
)
from lab.cib_leftovers import find_leftovers
from lab.config import MASTER_HUB_DAT, PGDATA
from lab.errors import LabError
from lab.node import NodeCommandError
from lab.nodes import LabNodes
from lab.procs import ProcError
from lab.settle import promoted_node, wait_for, wait_healthy
from lab.status import LabStatus, gather

log = logging.getLogger("lab.restore")
REBUILD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RestoreReport:
    seconds: float
    actions: tuple[str, ...] = ()  # what the repair did, in order; empty: it was healthy
    rebuilt: str | None = None  # why the lab had to be rebuilt (down + up), if it had to

    def describe(self, lab_id: int) -> str:
        if self.rebuilt is not None:
            return (
                f"lab {lab_id} REBUILT (down + up) in {self.seconds:.1f}s: {self.rebuilt}\n"
                "  every process started in its nodes stopped with it (a running demo brings"
                " its stack back)"
            )
        done = "".join(f"\n  {action}" for action in self.actions) or "\n  (it was healthy)"
        return f"lab {lab_id} healthy again after {self.seconds:.1f}s{done}"


def _remaining(deadline: float, floor: float = 1.0) -> float:
    return max(deadline - time.monotonic(), floor)


def _crm(lab: LabNodes, node: str, *argv: str, check: bool = True) -> None:
    lab.run(node, list(argv), timeout=30, check=check)


def drop_stray_vip(lab: LabNodes, node: str) -> bool:
    spec = lab.node(node)
    shown = lab.run(node, ["ip", "-o", "-4", "addr", "show", "dev", spec.link], timeout=10)
    if f" {lab.vip}/" not in shown.stdout:
        return False
    lab.run(
        node,
        ["ip", "addr", "del", f"{lab.vip}/{lab.config.prefix_len}", "dev", spec.link],
        timeout=10,
        check=True,
    )
    return True


def revive_stack(lab: LabNodes, node: str) -> None:
    """The node's cluster stack died: clear what it left behind and start it again."""
    lifecycle.kill_stack(lab, node)
    inode = lab.load_state().node(node).netns_inode
    assert inode is not None
    postgres.force_stop(lab.runner(node), lab.postgres(), lab.node(node), inode)
    drop_stray_vip(lab, node)
    lifecycle.start_stack(lab, node)


def remove_leftovers(lab: LabNodes, node: str) -> list[str]:
    """Delete cli- constraints, cfha's hold and cfha's lock (one CIB read); what went, in words."""
    shown = lab.run(node, ["cibadmin", "--query"], timeout=30, check=True)
    removed = []
    for leftover in find_leftovers(shown.stdout.encode()):
        lab.run(node, leftover.delete_argv(), timeout=30, check=True)
        removed.append(f"removed {leftover.describe()}")
    return removed


def needs_reclone(status: LabStatus, node: str) -> list[str]:
    """Why `node` (not the promoted one) cannot simply rejoin as a standby; empty if it can."""
    reasons = []
    runtime = status.nodes[node]
    if runtime.lock_present:
        reasons.append("PGSQL.lock present (it was a primary)")
    if not runtime.pgdata_present:
        reasons.append("no data directory")
    if status.pg[node].writable:
        reasons.append("its PostgreSQL is writable")
    return reasons


def reclone(lab: LabNodes, primary: str, node: str, deadline: float) -> None:
    """Replace `node`'s data directory with a fresh base backup of `primary`."""
    _crm(lab, primary, "crm_attribute", "--node", node, "--name", "standby", "--update", "on")
    # Only now leave node maintenance: with the node in standby pacemaker can only stop there.
    _crm(
        lab,
        primary,
        "crm_attribute",
        "--node",
        node,
        "--name",
        "maintenance",
        "--delete",
        check=False,
    )
    # A failed (blocked) stop is only retried after its failure is cleaned up; in standby the
    # re-probe can only lead to a stop.
    _crm(lab, primary, "crm_resource", "--cleanup", "--resource", "cfpgsql", "--node", node)
    # The cleanup re-probes the node; the agent's probe may append to postgresql.conf, so it has to
    # be over before the data directory is replaced.
    lab.run(
        primary,
        ["crm_resource", "--wait", f"--timeout={int(_remaining(deadline))}s"],
        timeout=_remaining(deadline) + 5,
    )
    wait_for(
        lab,
        lambda s: [] if s.role_on(node) is Role.STOPPED else [f"{node} still active"],
        f"pacemaker stops {node}",
        timeout=_remaining(deadline),
    )
    runner = lab.runner(node)
    inode = lab.load_state().node(node).netns_inode
    assert inode is not None
    pg = lab.postgres()
    postgres.force_stop(runner, pg, lab.node(node), inode)
    runner.run(["rm", "-rf", "--one-file-system", str(PGDATA)], check=True)
    postgres.basebackup(runner, pg, lab.node(primary))
    lab.node(node).lock_host.unlink(missing_ok=True)


def _repair(lab: LabNodes, deadline: float) -> list[str]:
    actions = []
    for node in lab.node_names:
        if not lab.stack_alive(node):
            log.info("restore: restarting the cluster stack of %s", node)
            revive_stack(lab, node)
            actions.append(f"restarted the cluster stack of {node}")

    def both_online(s: LabStatus) -> list[str]:
        if s.pacemaker is None:
            return [f"crm_mon: {s.pacemaker_error}"]
        return [f"{n} offline" for n in lab.node_names if n not in s.pacemaker.online_nodes]

    current = wait_for(lab, both_online, "both nodes online", timeout=_remaining(deadline))
    assert current.pacemaker is not None
    anchor = lab.node_names[0]
    if current.pacemaker.maintenance_mode is not False:
        _crm(
            lab,
            anchor,
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            "maintenance-mode",
            "--update",
            "false",
        )
        actions.append("maintenance-mode off")
    actions += remove_leftovers(lab, anchor)

    def one_promoted(s: LabStatus) -> list[str]:
        return [] if s.primary else ["no single promoted node"]

    current = wait_for(lab, one_promoted, "a promoted node", timeout=_remaining(deadline))
    primary = current.primary
    assert primary is not None
    other = lab.other(primary)
    reasons = needs_reclone(current, other)
    if reasons:
        log.info("restore: re-cloning %s from %s: %s", other, primary, "; ".join(reasons))
        reclone(lab, primary, other, deadline)
        actions.append(f"re-cloned {other} from {primary} ({'; '.join(reasons)})")
    for node in lab.node_names:
        for flag in ("standby", "maintenance"):
            _crm(
                lab,
                primary,
                "crm_attribute",
                "--node",
                node,
                "--name",
                flag,
                "--delete",
                check=False,
            )
    _crm(lab, primary, "crm_resource", "--cleanup")
    actions.append("node flags cleared, failures cleaned up")
    wait_healthy(lab, _remaining(deadline))
    return actions


def refresh_master_hub(lab: LabNodes) -> str:
    """Write the active hub's IP into both hubs' master_hub.dat, as cf-agent would."""
    active = lab.node(promoted_node(lab)).address
    for spec in lab.config.nodes:
        spec.host_path(MASTER_HUB_DAT).write_text(active + "\n")
    return active


def restore_healthy(lab: LabNodes, timeout: float) -> RestoreReport:
    started = time.monotonic()
    deadline = started + timeout
    if not lab.store.exists():
        lifecycle.up(
            lab,
            timeout,
            seed_hosts=50,
            rng_seed=1,
            replace_existing=False,
            pg_major=pglayout.major_from_env(),
        )
        return RestoreReport(time.monotonic() - started, ("the lab was not up: started it",))
    # what the diagnosis faults changed, also where they leave the lab "healthy" (paused replay)
    actions: list[str] = [f"undid {u}" for u in diagnosis_faults.undo(lab)]
    if not gather(lab).healthy:
        try:
            actions = _repair(lab, deadline)
        except (LabError, NodeCommandError, postgres.PgSetupError, ProcError, CibParseError) as err:
            log.warning("restore: repair failed (%s); rebuilding lab %s", err, lab.lab_id)
            state = lab.load_state()
            teardown.down(lab.config, lab.store)
            lifecycle.up(
                lab,
                max(timeout, REBUILD_TIMEOUT_S),
                seed_hosts=state.seed_hosts,
                rng_seed=state.seed_rng,
                replace_existing=False,
                pg_major=state.pg_major,
            )
            return RestoreReport(time.monotonic() - started, rebuilt=f"repair failed: {err}")
    undo_readiness_faults(lab)
    refresh_master_hub(lab)
    return RestoreReport(time.monotonic() - started, tuple(actions))


def undo_readiness_faults(lab: LabNodes) -> None:
    """The faults above the database leave the cluster healthy: undo them always (the files
    as rendered, no flag, cf-hub running, the archive's small filesystem and writer gone)."""
    scenarios_readiness.undo_archive_fill(lab)
    cfengine_side.undo_faults(lab)
    with contextlib.suppress(LabError, psycopg.Error):  # the agent stand-in's next run does it too
        cfengine_side.refresh_ha_inventory(lab)
