"""`resync_standby`: rebuild this hub's PostgreSQL standby from the current primary.

A *local* action: only the remediator on the target hub acts (the data directory is its own);
the other hub records "not my node". Paths and names come from the CIB (`resync_target`). Data
commands run as the PostgreSQL OS user through `setpriv`, which also gives them a parent-death
signal: if the remediator dies, a half-done pg_basebackup dies with it instead of running on
unsupervised.

Only for a cause that re-cloning cures (`clusterstate.diagnosis`: wal_removed,
timeline_diverged, data_missing_or_corrupt), and only while the primary accepts the replication
user (the handshake): both are checks of the decision and are read again right before the hold,
the step that stops the standby. A standby rejected by the primary, cut off from it, paused, or
stopped with intact data (a cleanup cures that) is never stopped to find out.

Plan (`resync_plan`; each destructive step re-reads the guard live first):
1. hold: a -INFINITY location constraint for the clone on the target with a lifetime, under an id
   of our own (`cfha-hold-<clone>-on-<node>`, never `cli-*`, so clear_cli_constraints cannot
   remove it); wait until pacemaker has stopped PostgreSQL there and no postmaster is left;
2. keep the node's own configuration files (pg_rewind and pg_basebackup copy the primary's);
3. pg_rewind --dry-run, then pg_rewind for real; if either fails (or pgdata is not a data
   directory at all), pg_basebackup into a fresh directory beside pgdata, move the old pgdata
   aside (`<pgdata>.cfha-old-<job>`, kept for forensics of any divergent WAL), move the new one in;
4. restore the kept files; remove `<tmpdir>/PGSQL.lock` on this hub only; delete the hold;
   `crm_resource --cleanup --resource <rsc> --node <node>`;
5. verify before a deadline: the agent reports HS:*, the primary has a `streaming` walsender
   for this node, and both are on the same timeline.
On failure after anything was changed, a partial copy is removed, and the node is left as it was
found where that is safer: a standby that was running and whose data were not touched (no copy
moved in, pg_rewind a no-op or not run) gets the hold released and pacemaker restarts it; any
other is held (re-asserted) until a human has looked. The job's record says which. The circuit
opens, and humans are paged through the metrics.
"""

from __future__ import annotations

from clusterstate.model import ClusterState
from remediator import guard
from remediator.actions.base import Context, Evaluation, Hints, Scope, cluster_safety, unresolved
from remediator.actions.resync_plan import ResyncPlanner, streaming
from remediator.actions.resync_target import ResyncStandbyParams, resolve
from remediator.config import RemediatorConfig
from remediator.guard import Check

NAME = "resync_standby"
__all__ = ["NAME", "ResyncStandbyParams", "evaluate", "scope", "target_key"]


def scope(_hints: Hints, _config: RemediatorConfig) -> Scope:
    return "local"


def target_key(hints: Hints) -> str:
    return hints.node or "?"


def evaluate(ctx: Context, params: ResyncStandbyParams) -> Evaluation:
    s, config = ctx.snapshot, ctx.config
    key = target_key(ctx.hints)
    node = ctx.hints.node
    if node is None or s.pacemaker.node(node) is None:
        return unresolved(NAME, key, Check(guard.TARGET_UNKNOWN, False, f"no cluster node {key}"))
    t = resolve(ctx, node)
    if isinstance(t, Check):
        return unresolved(NAME, key, t)
    user, resources = t.user, (t.rsc, t.clone)

    def safety(snap: ClusterState) -> list[Check]:
        return [
            guard.target_is_local(snap, node),
            guard.target_online(snap, node),
            guard.target_not_primary(snap, node, config.guard.vip_resource),
            *cluster_safety(snap, config, resources, require_vip=True),
            guard.pgdata_sane(snap, user),
        ]

    current = streaming(t, params)(s)
    lock_present = s.pgsql_lock.present if s.pgsql_lock else None
    if current.ok and lock_present is False:
        # Streaming now is the cure already: old failure records are resource_cleanup's matter,
        # never a reason to rebuild a standby that follows its primary.
        streams = f"{node} is already streaming"
        diagnosed = f"; {s.diagnosis.describe()}" if s.diagnosis is not None else ""
        needed = Check(guard.NOTHING_TO_DO, False, streams + diagnosed)
    else:
        needed = Check(guard.NOTHING_TO_DO, True, current.detail)
    # The cause, and the connection a re-sync needs: both read again right before the hold.
    cause = guard.cured_by_resync(s, node, t.hold_id)
    checks = [needed, *safety(s), cause, guard.replication_handshake(s)]
    if params.basebackup:
        checks.append(guard.disk_room(s, params.disk_headroom_factor))
    checks.append(guard.cluster_lock(s, ctx.job_id))
    plan = ResyncPlanner(ctx, t, params).plan()
    return Evaluation(NAME, key, tuple(checks), plan, safety)
