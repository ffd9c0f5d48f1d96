"""Failure scenarios: each breaks a healthy lab in one real way and waits until the result shows.

Every scenario leaves a *stable* state: nothing in it heals by itself (migration-threshold=1
keeps a failed instance stopped; constraints and flags stay until removed). `restore_healthy`
undoes any of them. The exact state each leaves is in its docstring and in docs/lab.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from clusterstate.parsers.pcmk_values import ConstraintKind, Role
from lab import diagnosis_faults, postgres
from lab.config import PG_LOGFILE, PG_PORT, PGDATA
from lab.lifecycle import kill_stack
from lab.nodes import LabNodes
from lab.scenario_kit import (
    ScenarioError,
    ScenarioResult,
    Target,
    crm,
    failed_instance,
    kill9_postgres,
    pg_ctl,
    promoted_on,
    resolve_target,
    result,
    standby_gone,
    wait_for,
)
from lab.scenarios_readiness import SCENARIOS as READINESS_SCENARIOS
from lab.settle import Check, promoted_node
from lab.status import LabStatus, gather

__all__ = ["SCENARIOS", "ScenarioError", "ScenarioResult", "inject", "wait_for"]


# -- the scenarios ---------------------------------------------------------------------------


def stop_standby(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """kill -9 the standby's postmaster.

    Leaves: the standby's monitor failed ('not running'), fail-count=1, so cfpgsql stays Stopped
    there (migration-threshold=1); its attributes cfpgsql-status=STOP, data-status=DISCONNECT,
    master-cfpgsql=-INFINITY; the primary runs on alone (PRI, no pg_stat_replication row).
    The data directory is intact: a cleanup of cfpgsql on that node heals it.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    pid = kill9_postgres(lab, t.node)
    wait_for(
        lab,
        lambda s: (
            failed_instance(s, t.node)
            + standby_gone(s, t.primary, t.node)
            + promoted_on(s, t.primary)
        ),
        "stop-standby",
    )
    return result(
        "stop-standby",
        t,
        [f"kill -9 {pid} (postmaster)"],
        f"cfpgsql Stopped on {t.node} with fail-count 1; {t.primary} PRI alone",
        started,
    )


def wipe_standby(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """The standby's data directory is destroyed.

    Made as stop-standby; once pacemaker has stopped the instance, /var/cfengine/state/pg/data
    is removed (rm -rf). Leaves: the stop-standby state, and no data directory on that node:
    a plain cleanup makes the agent's start fail ("Configuration file ... doesn't exist"); the
    node needs a fresh base backup from the primary first.
    Removing the directory under a *running* instance instead makes the agent's stop hang for
    its whole timeout (its validation fails before it defines its crm_attribute command, and it
    then retries an empty command), and the failed stop blocks the resource.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    pid = kill9_postgres(lab, t.node)
    wait_for(
        lab,
        lambda s: failed_instance(s, t.node) + standby_gone(s, t.primary, t.node),
        "wipe-standby: instance stopped",
    )
    lab.run(t.node, ["rm", "-rf", "--one-file-system", str(PGDATA)], check=True)
    wait_for(
        lab,
        lambda s: [] if not s.nodes[t.node].pgdata_present else ["pgdata present"],
        "wipe-standby: data gone",
    )
    return result(
        "wipe-standby",
        t,
        [f"kill -9 {pid} (postmaster)", f"rm -rf {PGDATA}"],
        f"cfpgsql Stopped on {t.node} with fail-count 1; its data directory is gone",
        started,
    )


def kill_primary(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """kill -9 the primary's postmaster: pacemaker fails over.

    Leaves: the other node promoted (PRI, LATEST), the VIP on it; the old primary's cfpgsql
    Stopped with fail-count 1 (STOP, DISCONNECT) and its PGSQL.lock still in place (the agent
    refuses to start it until the lock is removed). The new primary has no standby.
    Note: with restart_on_promote=true the new primary stays on the old timeline (no timeline
    switch), so pg_rewind cannot detect a divergence; re-clone the old primary.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "primary", ("primary",))
    pid = kill9_postgres(lab, t.node)
    wait_for(
        lab,
        lambda s: (
            failed_instance(s, t.node)
            + promoted_on(s, t.other)
            + ([] if s.nodes[t.node].lock_present else [f"no PGSQL.lock on {t.node}"])
        ),
        "kill-primary",
    )
    return result(
        "kill-primary",
        t,
        [f"kill -9 {pid} (postmaster)"],
        f"{t.other} promoted with the VIP; {t.node} Stopped, fail-count 1, PGSQL.lock kept",
        started,
    )


DIVERGED_ROWS = 5


def diverge(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """The old primary took writes the new primary never saw.

    Made as kill-primary, then, after the failover, the old primary's PostgreSQL is started by
    hand outside pacemaker (its instance is stopped and banned by its fail-count, so pacemaker
    does not look), DIVERGED_ROWS rows go into cfdb.lab_writes (note 'diverged'), and it is
    stopped cleanly. Leaves: exactly the kill-primary state, plus WAL on the old primary beyond
    what the new primary has. Removing the lock and cleaning up without a re-clone starts it as
    a standby stuck at HS:connected / STARTUP|ASYNC ("requested start point ... is ahead of the
    upstream server's flush position"), never streaming.
    """
    started = time.monotonic()
    first = kill_primary(lab, node)
    old = first.node
    spec = lab.node(old)
    postgres.prepare_log(lab.runner(old))
    pg_ctl(lab, old, "-l", str(PG_LOGFILE), "-w", "-t", "30", "start")
    try:
        rows = postgres.query(
            spec,
            "INSERT INTO lab_writes (node, note) SELECT %s, 'diverged'"
            " FROM generate_series(1, %s) RETURNING id",
            (old, DIVERGED_ROWS),
        )
        lsn = postgres.query(spec, "SELECT pg_current_wal_lsn()::text")[0][0]
    finally:
        pg_ctl(lab, old, "-m", "fast", "-w", "-t", "30", "stop")
    new_primary = gather(lab).agent(first.other)
    baseline = new_primary.master_baseline_lsn if new_primary is not None else None
    t = Target(node=old, other=first.other, primary=first.primary_before)
    return result(
        "diverge",
        t,
        [
            *first.actions,
            f"started PostgreSQL on {old} by hand, wrote {len(rows)} rows to"
            " lab_writes (note 'diverged'), stopped it",
        ],
        f"{t.other} promoted; {old} Stopped with fail-count 1 and PGSQL.lock, and its WAL"
        f" diverged from {t.other}'s",
        started,
        diverged_row_ids=",".join(str(r[0]) for r in rows),
        old_primary_wal_lsn=str(lsn),
        new_primary_master_baseline="unknown" if baseline is None else f"{baseline:#x}",
    )


def fail_monitor(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """A real monitor failure whose cause is then gone: a cleanup alone heals it.

    The node's PostgreSQL socket is renamed, so the agent's monitor (psql over that socket)
    fails with 'error'; pacemaker records the failure (fail-count 1) and stops cfpgsql there
    (migration-threshold=1; a primary fails over to the other node first, keeping its
    PGSQL.lock). Then the socket name is freed again. Leaves: cfpgsql Stopped on the node,
    fail-count 1, a failed `cfpgsql_monitor_*` action ('error'); data intact.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby", "primary"))
    spec = lab.node(t.node)
    sock = spec.socket_dir_host / f".s.PGSQL.{PG_PORT}"
    hidden = sock.with_name(sock.name + ".hidden")
    os.rename(sock, hidden)
    try:
        checks: list[Check] = [lambda s: failed_instance(s, t.node)]
        if t.node == t.primary:
            checks.append(lambda s: promoted_on(s, t.other))
        wait_for(lab, lambda s: [m for c in checks for m in c(s)], "fail-monitor")
        inode = lab.load_state().node(t.node).netns_inode
        assert inode is not None
        postgres.wait_no_server(inode, lab.postgres().server_on_host(spec), timeout=30)
    finally:
        hidden.unlink(missing_ok=True)
    return result(
        "fail-monitor",
        t,
        [f"renamed {sock.name} until the monitor failed"],
        f"cfpgsql Stopped on {t.node}, fail-count 1, failed monitor ('error')",
        started,
    )


def ban(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """A leftover `cli-ban`: `crm_resource --ban --resource mscfpgsql --node NODE`.

    Leaves: location constraint cli-ban-mscfpgsql-on-NODE (-INFINITY), cfpgsql cleanly Stopped
    on NODE, no failure. Banning the primary moves the promoted role first (its PGSQL.lock
    stays, since a standby was present at demote).
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby", "primary"))
    crm(lab, t.other, "crm_resource", "--ban", "--resource", "mscfpgsql", "--node", t.node)
    survivor = t.other

    def check(s: LabStatus) -> list[str]:
        out = promoted_on(s, survivor) + standby_gone(s, survivor, t.node)
        if s.role_on(t.node) is not Role.STOPPED:
            out.append(f"cfpgsql on {t.node} is {s.role_on(t.node)}")
        bans = s.pacemaker.location_constraints if s.pacemaker is not None else ()
        if not any(c.kind is ConstraintKind.CLI_BAN for c in bans):
            out.append("no cli-ban constraint")
        return out

    wait_for(lab, check, "ban")
    return result(
        "ban",
        t,
        [f"crm_resource --ban --resource mscfpgsql --node {t.node}"],
        f"cli-ban-mscfpgsql-on-{t.node}; cfpgsql Stopped there; {survivor} PRI",
        started,
    )


def maintenance(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """maintenance-mode=true for the whole cluster.

    Leaves: every resource unmanaged and no monitors; PostgreSQL, replication and the VIP keep
    running exactly as they were (healthy except for the flag).
    """
    started = time.monotonic()
    primary = promoted_node(lab)
    t = Target(node=primary, other=lab.other(primary), primary=primary)
    crm(
        lab,
        primary,
        "crm_attribute",
        "--type",
        "crm_config",
        "--name",
        "maintenance-mode",
        "--update",
        "true",
    )

    def check(s: LabStatus) -> list[str]:
        if s.pacemaker is None or not s.pacemaker.maintenance_mode:
            return ["maintenance-mode not on yet"]
        return [] if s.database is not None and not s.database.managed else ["still managed"]

    wait_for(lab, check, "maintenance")
    return result(
        "maintenance",
        t,
        ["crm_attribute --name maintenance-mode --update true"],
        "maintenance-mode=true; resources unmanaged; replication unchanged",
        started,
    )


def node_standby(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Node standby: `crm_attribute --node NODE --name standby --update on`.

    Leaves: NODE in standby, cfpgsql Stopped there (no failure). Putting the primary in standby
    fails over first (its PGSQL.lock stays).
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby", "primary"))
    crm(lab, t.other, "crm_attribute", "--node", t.node, "--name", "standby", "--update", "on")

    def check(s: LabStatus) -> list[str]:
        out = promoted_on(s, t.other) + standby_gone(s, t.other, t.node)
        node = s.pacemaker_node(t.node)
        if node is None or not node.standby:
            out.append(f"{t.node} not in standby")
        elif s.role_on(t.node) is not Role.STOPPED:
            out.append(f"cfpgsql on {t.node} is {s.role_on(t.node)}")
        return out

    wait_for(lab, check, "node-standby")
    return result(
        "node-standby",
        t,
        [f"crm_attribute --node {t.node} --name standby on"],
        f"{t.node} standby, cfpgsql Stopped there; {t.other} PRI",
        started,
    )


def stop_node(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """corosync and all pacemaker daemons of a node die (SIGKILL); default: the standby.

    Leaves: the node OFFLINE for the survivor (stonith is disabled, so its resources count as
    stopped); on the node itself crm_mon fails. Its PostgreSQL keeps running unmanaged: a
    standby goes on streaming from the primary (pg_stat_replication still lists it). If the
    primary is hit, the survivor promotes itself and takes the VIP while the old primary's
    PostgreSQL still runs writable with the VIP configured: two primaries, a duplicate VIP.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby", "primary"))
    killed = kill_stack(lab, t.node)

    def check(s: LabStatus) -> list[str]:
        if s.pacemaker is None:
            return [f"no crm_mon ({s.pacemaker_error})"]
        out = [f"{t.node} still online"] if t.node in s.pacemaker.online_nodes else []
        if t.node == t.primary:
            out += [] if s.primary == t.other else ["no failover yet"]
        return out

    wait_for(lab, check, "stop-node")
    return result(
        "stop-node",
        t,
        [f"kill -9 corosync and pacemaker daemons {killed}"],
        f"{t.node} OFFLINE (cluster stack dead), its PostgreSQL still running",
        started,
    )


def two_primaries(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Both PostgreSQL writable: the standby promoted by hand outside pacemaker's control.

    How it stays: the node is first put into node-level maintenance (`crm_attribute --node NODE
    --name maintenance --update true`), so pacemaker stops monitoring and acting there; then
    `pg_ctl promote` runs on it by hand and a row is written (note 'second primary'). Leaves:
    pg_is_in_recovery() false on both hubs; pacemaker still shows the old primary Promoted and
    NODE Unpromoted (unmanaged, maintenance); the primary's agent marks NODE DISCONNECT /
    -INFINITY; NODE is on a new timeline.
    """
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    crm(
        lab,
        t.primary,
        "crm_attribute",
        "--node",
        t.node,
        "--name",
        "maintenance",
        "--update",
        "true",
    )
    wait_for(
        lab,
        lambda s: [] if (n := s.pacemaker_node(t.node)) and n.maintenance else ["not yet"],
        "node maintenance",
    )
    pg_ctl(lab, t.node, "-w", "-t", "30", "promote")
    rows = postgres.query(
        lab.node(t.node),
        "INSERT INTO lab_writes (node, note) VALUES (%s, 'second primary') RETURNING id",
        (t.node,),
    )

    def check(s: LabStatus) -> list[str]:
        return [f"{n} in recovery" for n, f in s.pg.items() if f.in_recovery is not False]

    wait_for(lab, check, "two-primaries")
    return result(
        "two-primaries",
        t,
        [
            f"crm_attribute --node {t.node} --name maintenance --update true",
            f"pg_ctl promote on {t.node}",
            f"wrote row {rows[0][0]} on {t.node}",
        ],
        f"PostgreSQL writable on both hubs; pacemaker still shows {t.primary} Promoted",
        started,
    )


SCENARIOS: dict[str, Callable[[LabNodes, str | None], ScenarioResult]] = {
    "stop-standby": stop_standby,
    "wipe-standby": wipe_standby,
    "kill-primary": kill_primary,
    "diverge": diverge,
    "fail-monitor": fail_monitor,
    "ban": ban,
    "maintenance": maintenance,
    "node-standby": node_standby,
    "stop-node": stop_node,
    "two-primaries": two_primaries,
    **READINESS_SCENARIOS,
    **diagnosis_faults.FAULTS,
}


def inject(lab: LabNodes, name: str, node: str | None = None) -> ScenarioResult:
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    return scenario(lab, node)
