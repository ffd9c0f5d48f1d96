"""`clear_cli_constraints`: remove leftover `cli-ban-*` / `cli-prefer-*` location constraints.

Such constraints are what `pcs resource ban|move` (crm_resource --ban/--move) leave behind when
nobody runs `clear`. Only constraints proven older than `min_age_seconds` are removed. Pacemaker
keeps no creation time, so the age is the larger of two live lower bounds: the time since the
CIB configuration last changed (`cib-last-written`: the constraint existed at least since then),
and the time since this remediator first saw the constraint (the journal). A constraint with a
lifetime that has not run out yet is left alone (it was placed on purpose and expires by itself).
Constraints that are not `cli-*` are never touched: in particular the resync hold
(`cfha-hold-*`) of a failed `resync_standby`, which must stay until a human has looked.

Before anything is removed, pacemaker's scheduler is asked what the removal would do, on a copy
of the live CIB (`simulate.removal_is_quiet`): only starting things is acceptable.
Plan: `cibadmin --delete --xpath //constraints/rsc_location[@id='<id>']` for each, then wait until
they are gone. That deletes exactly the one element in one CIB update on every pacemaker from 1.1
to 3.0; `pcs constraint delete` (0.9: `remove`) rewrites the whole configuration section instead.
A cluster action: either hub may act, the cluster lock lets only one; the other then finds
nothing to do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clusterstate.model import ClusterState
from clusterstate.parsers.cib_model import LocationConstraint
from clusterstate.parsers.pcmk_values import ConstraintKind, score_text
from clusterstate.tools import CommandRunner
from remediator import guard
from remediator.actions.base import Context, Evaluation, Hints, Scope, cluster_safety, unresolved
from remediator.config import RemediatorConfig, StrictModel
from remediator.guard import Check
from remediator.plan import Plan, Step
from remediator.simulate import location_constraint_xpath, removal_is_quiet

NAME = "clear_cli_constraints"


class ClearCliConstraintsParams(StrictModel):
    min_age_seconds: float = Field(default=3600, ge=0)
    kinds: tuple[Literal["ban", "prefer"], ...] = ("ban", "prefer")
    command_timeout_seconds: float = Field(default=60, gt=0)
    verify_timeout_seconds: float = Field(default=60, gt=0)


def scope(_hints: Hints, _config: RemediatorConfig) -> Scope:
    return "cluster"


def target_key(hints: Hints) -> str:
    return hints.constraint or f"{hints.resource or '*'}@{hints.node or '*'}"


KINDS = {"ban": ConstraintKind.CLI_BAN, "prefer": ConstraintKind.CLI_PREFER}


def constraint_age(ctx: Context, constraint: LocationConstraint) -> float:
    s = ctx.snapshot
    bounds = [s.taken_at - ctx.first_seen(constraint)]
    if s.pacemaker.last_change is not None:
        bounds.append(s.taken_at - s.pacemaker.last_change)
    return max(0.0, *bounds)


def evaluate(ctx: Context, params: ClearCliConstraintsParams) -> Evaluation:
    s, hints, config = ctx.snapshot, ctx.hints, ctx.config
    key = target_key(hints)
    kinds = {KINDS[k] for k in params.kinds}
    if hints.constraint is not None:
        named = s.pacemaker.constraint(hints.constraint)
        if named is not None and named.kind not in kinds:
            return unresolved(
                NAME,
                key,
                Check(guard.TARGET_UNKNOWN, False, f"{named.id} is not a cli-* constraint"),
            )
        candidates = [named] if named is not None else []
    else:
        candidates = [
            c
            for c in s.pacemaker.location_constraints
            if c.kind in kinds
            and hints.resource in (None, c.resource)
            and hints.node in (None, c.node)
        ]
    if not candidates:
        return unresolved(NAME, key, Check(guard.NOTHING_TO_DO, False, "no such cli constraint"))
    # The live target: a constraint named by its id or by its resource and node is one target.
    key = ",".join(sorted(c.id for c in candidates))

    eligible: list[LocationConstraint] = []
    waiting: list[str] = []
    for c in candidates:
        age = constraint_age(ctx, c)
        if "'" in c.id:
            waiting.append(f"{c.id!r} cannot be quoted in an XPath: left to a human")
        elif c.expires_at is not None and c.expires_at > s.taken_at:
            waiting.append(f"{c.id} expires by itself in {c.expires_at - s.taken_at:.0f}s")
        elif age < params.min_age_seconds:
            waiting.append(f"{c.id} is only known to be {age:.0f}s old")
        else:
            eligible.append(c)
    if eligible:
        age_check = Check(
            guard.CONSTRAINT_AGE,
            True,
            f"older than {params.min_age_seconds:.0f}s: {', '.join(c.id for c in eligible)}",
        )
    else:
        age_check = Check(guard.CONSTRAINT_AGE, False, "; ".join(waiting))
    resources = tuple(sorted({c.resource for c in candidates if c.resource}))

    def safety(snap: ClusterState) -> list[Check]:
        return cluster_safety(snap, config, resources, require_vip=False)

    ids = tuple(c.id for c in eligible)
    checks = [
        Check(guard.NOTHING_TO_DO, True, f"{len(candidates)} cli constraint(s)"),
        age_check,
        *safety(s),
        guard.cluster_lock(s, ctx.job_id),
    ]
    steps = [
        Step(
            f"delete {c.id}",
            f"leftover {c.kind.value} of {c.resource}"
            + (f" on {c.node}" if c.node else "")
            + f" (score {score_text(c.score)})",
            params.command_timeout_seconds,
            ctx.local_node,
            argv=(config.tools.cibadmin, "--delete", "--xpath", location_constraint_xpath(c.id)),
            destructive=True,
        )
        for c in eligible
    ]

    def gone(snap: ClusterState) -> Check:
        left = [i for i in ids if snap.pacemaker.constraint(i) is not None]
        return Check("verify", not left, f"still present: {', '.join(left)}" if left else "gone")

    steps.append(
        Step(
            "verify",
            "the constraints are gone from the CIB",
            params.verify_timeout_seconds,
            ctx.local_node,
            wait_for=gone,
            wait_description=f"{', '.join(ids) or 'nothing'} absent from the CIB",
        )
    )

    def simulate(runner: CommandRunner) -> Check:
        return removal_is_quiet(runner, config.tools, ids)

    return Evaluation(NAME, key, tuple(checks), Plan(NAME, key, tuple(steps)), safety, (simulate,))
