"""What every action shares: label hints, the decision context, and the evaluation it returns.

An action never trusts an alert label for a fact. Labels (`node`, `resource`, `constraint`) are
*hints*: they must look like pacemaker ids, and they must name something that the live snapshot
confirms; the argv of every step is then built from the snapshot (CIB resource parameters, live
node and constraint ids), never from the label text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from clusterstate.model import ClusterState
from clusterstate.parsers.cib_model import LocationConstraint
from clusterstate.tools import CommandRunner
from remediator import guard
from remediator.config import RemediatorConfig
from remediator.guard import Check
from remediator.models import valid_hint
from remediator.plan import Plan

Scope = Literal["local", "cluster"]
HINT_LABELS = ("node", "resource", "constraint")
_CLONE_INSTANCE = re.compile(r":\d+$")


class HintError(ValueError):
    """A hint label is present but not a plausible pacemaker id."""


@dataclass(frozen=True)
class Hints:
    node: str | None = None
    resource: str | None = None
    constraint: str | None = None

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Hints:
        values: dict[str, str | None] = {}
        for name in HINT_LABELS:
            value = labels.get(name)
            if value is not None and not valid_hint(value):
                raise HintError(f"label {name} is not a plausible pacemaker id")
            values[name] = value
        resource = values["resource"]
        if resource is not None:
            resource = _CLONE_INSTANCE.sub("", resource)  # "cfpgsql:1" is an instance of cfpgsql
        return cls(node=values["node"], resource=resource, constraint=values["constraint"])

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Context:
    snapshot: ClusterState
    config: RemediatorConfig
    job_id: str
    hints: Hints
    first_seen: Callable[[LocationConstraint], float] = field(
        default=lambda c: float("inf")  # no memory of the constraint: it is "new"
    )

    @property
    def local_node(self) -> str:
        return self.snapshot.local_node


GuardFn = Callable[[ClusterState], list[Check]]
CommandCheck = Callable[[CommandRunner], Check]
"""A precondition that needs to run (read-only) commands, e.g. a pacemaker simulation."""


@dataclass(frozen=True)
class Evaluation:
    """The decision for one job: every check (none skipped), and the plan when there is one.

    `guard` re-runs the safety checks on a fresh snapshot right before each destructive step.
    """

    action: str
    target: str
    checks: tuple[Check, ...]
    plan: Plan | None
    guard: GuardFn
    command_checks: tuple[CommandCheck, ...] = ()
    """Run by the decider only once every other check passed (they cost a few commands)."""

    @property
    def refusal(self) -> Check | None:
        return guard.first_failure(list(self.checks))

    def describe(self) -> dict[str, object]:
        refusal = self.refusal
        return {
            "action": self.action,
            "target": self.target,
            "decision": "refuse" if refusal else "act",
            "refused_by": refusal.name if refusal else None,
            "checks": [c.as_dict() for c in self.checks],
            "plan": self.plan.describe() if self.plan else None,
        }


def unresolved(action: str, target: str, check: Check) -> Evaluation:
    """An evaluation that stops before planning (unknown target, unreadable cluster...)."""
    return Evaluation(action, target, (check,), None, lambda _s: [check])


def cluster_safety(
    s: ClusterState, config: RemediatorConfig, resources: tuple[str, ...], require_vip: bool
) -> list[Check]:
    """The checks every action needs: a healthy, quorate, managed cluster with one primary."""
    g = config.guard
    return [
        guard.quorate(s),
        guard.fencing(s, g.require_fencing),
        guard.no_unclean_node(s),
        guard.no_fencing_trouble(s),
        guard.not_maintenance(s, resources),
        guard.single_primary(s, g.vip_resource, require_vip=require_vip),
        guard.no_recent_failover(s, g.failover_freeze_seconds),
    ]


def lock_held_by(job_id: str) -> GuardFn:
    """Mid-job: the lock must still be this job's (a lock that expired under us is a stop)."""

    def check(s: ClusterState) -> list[Check]:
        lock = s.pacemaker.lock
        if lock is None:
            return [Check(guard.CLUSTER_LOCK, False, "the lock could not be read")]
        if lock.job_id == job_id and (lock.expires is None or lock.expires > s.taken_at):
            return [Check(guard.CLUSTER_LOCK, True, "held by this job")]
        return [Check(guard.CLUSTER_LOCK, False, f"lock lost: {lock.raw or 'not held'}")]

    return check


def cleanup_argv(config: RemediatorConfig, resource: str, node: str) -> tuple[str, ...]:
    """Forget `resource`'s failures on `node` only: what `pcs resource cleanup` runs on every
    pcs release, whose own syntax did not last (0.9 `--node N`, 0.10+ `node=N`)."""
    return (config.tools.crm_resource, "--cleanup", "--resource", resource, "--node", node)
