"""`resource_cleanup`: forget the failures of one resource on one node, once the cause is gone.

Plan: `crm_resource --cleanup --resource <rsc> --node <node>` (what `pcs resource cleanup` runs;
never unscoped: without a resource it cleans every resource on every node), then wait until the
failure and fail count are gone and the resource runs again. "The cause is gone" is read live:
the node is online and not in standby, the newest failure is older than a settle time (no
cleanup in the middle of a flap), and for the pgsql resource the target's data directory is
intact and holds no PGSQL.lock (a lock means the node was a primary that failed: it needs
`resync_standby`, and a cleanup would only loop). Because that last fact lives in the target's
own files, a cleanup of the pgsql resource is a *local* action (only the target hub's remediator
acts); other resources may be cleaned from either hub, and the cluster lock lets only one of them
act.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from clusterstate.model import ClusterState
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from remediator import guard
from remediator.actions.base import (
    Context,
    Evaluation,
    Hints,
    Scope,
    cleanup_argv,
    cluster_safety,
    unresolved,
)
from remediator.config import NAME_PATTERN, RemediatorConfig, StrictModel
from remediator.guard import Check
from remediator.plan import Plan, Step, WaitCheck

NAME = "resource_cleanup"


class ResourceCleanupParams(StrictModel):
    resources: tuple[str, ...] = Field(
        default=("cfpgsql", "cfvirtip"), description="resources this rule may clean up"
    )
    min_failure_age_seconds: float = Field(default=120, ge=0)
    command_timeout_seconds: float = Field(default=60, gt=0)
    verify_timeout_seconds: float = Field(default=180, gt=0)
    accepted_standby_status: tuple[PgsqlStatus, ...] = (
        PgsqlStatus.HS_SYNC,
        PgsqlStatus.HS_ASYNC,
        PgsqlStatus.HS_POTENTIAL,
    )

    @field_validator("resources")
    @classmethod
    def _ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not NAME_PATTERN.match(item):
                raise ValueError(f"{item!r} is not a pacemaker id")
        return value


def scope(hints: Hints, config: RemediatorConfig) -> Scope:
    return "local" if hints.resource == config.guard.pgsql_resource else "cluster"


def target_key(hints: Hints) -> str:
    return f"{hints.resource or '?'}@{hints.node or '?'}"


def evaluate(ctx: Context, params: ResourceCleanupParams) -> Evaluation:
    s, hints, config = ctx.snapshot, ctx.hints, ctx.config
    key = target_key(hints)
    if hints.resource is None or hints.node is None:
        return unresolved(NAME, key, Check(guard.TARGET_UNKNOWN, False, "needs resource and node"))
    rsc = s.pacemaker.resource(hints.resource)
    if rsc is None or rsc.primitive is None or s.pacemaker.node(hints.node) is None:
        return unresolved(
            NAME, key, Check(guard.TARGET_UNKNOWN, False, f"{key} is not in the live cluster")
        )
    rsc_id = rsc.primitive
    if rsc_id not in params.resources and (rsc.clone is None or rsc.clone not in params.resources):
        return unresolved(
            NAME, key, Check(guard.TARGET_UNKNOWN, False, f"{rsc_id} is not allowed by policy")
        )
    node = hints.node
    key = f"{rsc_id}@{node}"  # the live target: a clone id and its primitive are one target
    pgsql = s.pacemaker.pgsql
    is_pgsql = pgsql is not None and rsc_id == pgsql.resource
    resources = tuple(r for r in (rsc_id, rsc.clone) if r)

    def safety(snap: ClusterState) -> list[Check]:
        checks = [guard.target_online(snap, node)]
        if is_pgsql:
            checks += [
                guard.target_is_local(snap, node),
                guard.target_not_primary(snap, node, config.guard.vip_resource),
            ]
        return checks + cluster_safety(snap, config, resources, require_vip=False)

    failures = s.pacemaker.failures_of(rsc_id, node)
    count = s.pacemaker.fail_count(rsc_id, node)
    if failures or count > 0:
        needed = Check(
            guard.NOTHING_TO_DO, True, f"fail count {count:g}, {len(failures)} failure(s)"
        )
    else:
        needed = Check(guard.NOTHING_TO_DO, False, f"no failure of {rsc_id} on {node}")
    checks = [
        needed,
        *safety(s),
        _cause_gone(s, rsc_id, node, is_pgsql, params),
        guard.cluster_lock(s, ctx.job_id),
    ]
    verify = _verified(rsc_id, node, is_pgsql, params)
    plan = Plan(
        NAME,
        key,
        (
            Step(
                "cleanup",
                f"forget the failures of {rsc_id} on {node} so pacemaker may start it there again",
                params.command_timeout_seconds,
                ctx.local_node,
                argv=cleanup_argv(config, rsc_id, node),
                destructive=True,
            ),
            Step(
                "verify",
                "the cleanup sticks: no failure, no fail count, the resource runs",
                params.verify_timeout_seconds,
                ctx.local_node,
                wait_for=verify,
                wait_description=f"{rsc_id} on {node} running without failures",
            ),
        ),
    )
    return Evaluation(NAME, key, tuple(checks), plan, safety)


def _cause_gone(
    s: ClusterState, rsc: str, node: str, is_pgsql: bool, params: ResourceCleanupParams
) -> Check:
    problem = _flapping(s, rsc, node, params) or (_pgsql_data_problem(s) if is_pgsql else None)
    if problem:
        return Check(guard.CAUSE_GONE, False, problem)
    return Check(guard.CAUSE_GONE, True, "node healthy, failure settled, data directory intact")


def _flapping(s: ClusterState, rsc: str, node: str, params: ResourceCleanupParams) -> str | None:
    failures = s.pacemaker.failures_of(rsc, node)
    times = [f.last_rc_change for f in failures]
    if any(t is None for t in times):
        return "failure time unknown"
    if times:
        age = s.taken_at - max(t for t in times if t is not None)
        if age < params.min_failure_age_seconds:
            return f"newest failure {age:.0f}s ago (settle {params.min_failure_age_seconds:.0f}s)"
    if any("PGSQL.lock" in (f.exitreason or "") for f in failures):
        return "the agent reports PGSQL.lock: needs resync_standby"
    return None


def _pgsql_data_problem(s: ClusterState) -> str | None:
    lock = s.pgsql_lock.present if s.pgsql_lock else None
    has_version = s.data_dir.has_version if s.data_dir else None
    if lock is None or has_version is None:
        return "the target's data directory could not be read"
    if lock:
        return "PGSQL.lock present on the target: needs resync_standby"
    if not has_version:
        return "the target's pgdata has no PG_VERSION: needs resync_standby"
    return None


def _verified(rsc: str, node: str, is_pgsql: bool, params: ResourceCleanupParams) -> WaitCheck:
    def check(s: ClusterState) -> Check:
        state = s.pacemaker.resource(rsc)
        if state is None:
            return Check("verify", False, f"{rsc} vanished")
        if s.pacemaker.failures_of(rsc, node) or s.pacemaker.fail_count(rsc, node) > 0:
            return Check("verify", False, f"{rsc} still has failures on {node}")
        if node in state.failed_nodes or state.blocked:
            return Check("verify", False, f"{rsc} failed or blocked")
        if is_pgsql:
            view = s.pacemaker.agent_view(node)
            status = view.status if view is not None else None
            if node not in state.active_nodes or status not in params.accepted_standby_status:
                return Check("verify", False, f"{rsc} on {node}: status {status}")
        elif not state.active_nodes:
            return Check("verify", False, f"{rsc} is not running anywhere")
        return Check("verify", True, f"{rsc} on {node} clean and running")

    return check
