"""Bring a lab back to healthy after any scenario, by hand and fast; never wipe the primary.

Order of the repair:
1. a node whose cluster stack is dead: stop the PostgreSQL it left running, drop a VIP it
   still holds, start corosync + pacemakerd again;
2. maintenance-mode off, every `cli-` location constraint removed;
3. the promoted node P is kept as it is (its data is the truth: no row written on it is lost);
4. the other node S is re-cloned from P when its data cannot follow P (PGSQL.lock present:
   it was a primary; data directory missing; its PostgreSQL is writable): S goes into node
   standby so pacemaker stops it, a fresh pg_basebackup replaces its data directory, the lock
   goes. A re-clone, not pg_rewind: with restart_on_promote=true a promotion keeps the timeline,
   so pg_rewind cannot see a divergence;
5. node standby/maintenance flags cleared, failures cleaned up, wait until healthy;
6. master_hub.dat refreshed on both hubs, as cf-agent would.
If that does not reach healthy in time, the lab is rebuilt (down + up, the seed is the same but
rows written since are lost) and a warning is logged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from clusterstate.parsers.cib import parse_cib
from clusterstate.parsers.pcmk_values import is_cli_constraint
from lab import diagnosis_faults, lifecycle, postgres
from lab.config import PGDATA
from lab.errors import LabError
from lab.node import NodeCommandError
from lab.procs import ProcError
from lab.scenario_kit import wait_for
from lab.status import LabStatus

if TYPE_CHECKING:
    from lab.cluster import Lab

log = logging.getLogger("lab.restore")


class RestoreError(LabError):
    """The by-hand repair did not work (the caller falls back to a rebuild)."""


def _remaining(deadline: float, floor: float = 1.0) -> float:
    return max(deadline - time.monotonic(), floor)


def _crm(lab: Lab, node: str, *argv: str, check: bool = True) -> None:
    lab.run(node, list(argv), timeout=30, check=check)


def cli_constraint_ids(lab: Lab, node: str) -> list[str]:
    """The ids of the CIB's cli-* location constraints. (crm_mon names a ban with a lifetime by
    its rule, "cli-ban-R-on-N-rule", which is no constraint cibadmin could delete.)"""
    shown = lab.run(node, ["cibadmin", "--query"], timeout=30, check=True)
    return [c.id for c in parse_cib(shown.stdout.encode()).cli_constraints()]


def drop_stray_vip(lab: Lab, node: str) -> bool:
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


def revive_stack(lab: Lab, node: str) -> None:
    """The node's cluster stack died: clear what it left behind and start it again."""
    lifecycle.kill_stack(lab, node)
    inode = lab.load_state().node(node).netns_inode
    assert inode is not None
    postgres.force_stop(lab.runner(node), inode)
    drop_stray_vip(lab, node)
    lifecycle.start_stack(lab, node)


def needs_reclone(status: LabStatus, node: str) -> list[str]:
    """Why `node` (not the promoted one) cannot simply rejoin as a standby; empty if it can."""
    reasons = []
    runtime = status.nodes[node]
    if runtime.lock_present:
        reasons.append("PGSQL.lock present (it was a primary)")
    if not runtime.pgdata_present:
        reasons.append("no data directory")
    pg = status.pg[node]
    if pg.reachable and pg.in_recovery is False:
        reasons.append("its PostgreSQL is writable")
    return reasons


def reclone(lab: Lab, primary: str, node: str, deadline: float) -> None:
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
        lambda s: [] if s.crm and s.crm.role_on(node) == "Stopped" else [f"{node} still active"],
        f"pacemaker stops {node}",
        timeout=_remaining(deadline),
    )
    runner = lab.runner(node)
    inode = lab.load_state().node(node).netns_inode
    assert inode is not None
    postgres.force_stop(runner, inode)
    runner.run(["rm", "-rf", "--one-file-system", str(PGDATA)], check=True)
    postgres.basebackup(runner, lab.node(primary))
    lab.node(node).lock_host.unlink(missing_ok=True)


def _repair(lab: Lab, deadline: float) -> None:
    for node in lab.node_names:
        if not lab.stack_alive(node):
            log.info("restore: restarting the cluster stack of %s", node)
            revive_stack(lab, node)

    def both_online(s: LabStatus) -> list[str]:
        if s.crm is None:
            return [f"crm_mon: {s.crm_error}"]
        return [f"{n} offline" for n in lab.node_names if not s.crm.online(n)]

    current = wait_for(lab, both_online, "both nodes online", timeout=_remaining(deadline))
    assert current.crm is not None
    anchor = lab.node_names[0]
    if current.crm.maintenance_mode:
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
    if any(is_cli_constraint(ban.id) for ban in current.crm.bans):
        for constraint_id in cli_constraint_ids(lab, anchor):
            constraint = f'<rsc_location id="{constraint_id}"/>'
            _crm(lab, anchor, "cibadmin", "--delete", "--xml-text", constraint)

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
    lab.wait_healthy(_remaining(deadline))


def restore_healthy(lab: Lab, timeout: float) -> float:
    started = time.monotonic()
    deadline = started + timeout
    if not lab.exists():
        lab.up(timeout)
        return time.monotonic() - started
    for undone in diagnosis_faults.undo(lab):  # also where they leave the lab "healthy"
        log.info("restore: undid %s", undone)
    if not lab.status().healthy:
        try:
            _repair(lab, deadline)
        except (LabError, NodeCommandError, postgres.PgError, ProcError) as err:
            log.warning("restore: repair failed (%s); rebuilding lab %s", err, lab.lab_id)
            state = lab.load_state()
            lab.down()
            lab.up(max(timeout, 120.0), seed_hosts=state.seed_hosts, rng_seed=state.seed_rng)
            return time.monotonic() - started
    lab.refresh_master_hub()
    return time.monotonic() - started
