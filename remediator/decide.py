"""The decision for one job, shared by the worker (which then acts) and the plan preview.

Two layers, both fully evaluated so a human sees every reason at once:
1. limits from the journal: kill switch, open circuit, cooldown, attempt budget;
2. the action's checks on a fresh live snapshot (target, safety, cause, lock) and its plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from clusterstate.errors import ReadError
from clusterstate.model import ClusterState
from clusterstate.parsers.cib_model import LocationConstraint
from clusterstate.parsers.pcmk_values import score_text
from remediator import guard
from remediator.actions import ACTIONS
from remediator.actions.base import Context, Evaluation, Hints, unresolved
from remediator.config import RemediatorConfig
from remediator.guard import Check
from remediator.journal import Journal
from remediator.killswitch import KillSwitch
from remediator.policy import Rule
from remediator.services import Services


@dataclass(frozen=True)
class Limits:
    checks: tuple[Check, ...]

    @property
    def refusal(self) -> Check | None:
        return guard.first_failure(list(self.checks))


def constraint_signature(c: LocationConstraint) -> str:
    role = c.role.value if c.role else None
    return f"{c.id}|{c.resource or ''}|{c.node}|{score_text(c.score)}|{role}|{c.expires_at}"


class Decider:
    def __init__(
        self,
        config: RemediatorConfig,
        services: Services,
        journal: Journal,
        kill_switch: KillSwitch,
    ) -> None:
        self.config = config
        self.services = services
        self.journal = journal
        self.kill_switch = kill_switch

    def limits(self, rule: Rule, target: str, now: float, exclude_job: str | None = None) -> Limits:
        """Kill switch, circuit, cooldown and attempt budget of (action, target).

        `exclude_job`: the interrupted job this one replaces. It does not put its successor in
        cooldown, but it counts towards the attempt budget like any run that reached the cluster.
        """
        action, journal = rule.action, self.journal
        checks = [self.kill_switch_check()]
        circuit = journal.circuit(action, target)
        if circuit and circuit["open"]:
            checks.append(Check(guard.CIRCUIT_OPEN, False, f"open: {circuit['reason']}"))
        else:
            checks.append(Check(guard.CIRCUIT_OPEN, True, "closed"))
        last = journal.last_executed_finish(action, target, exclude_job)
        if last is not None and now - last < rule.cooldown_seconds:
            left = rule.cooldown_seconds - (now - last)
            detail = f"last run {now - last:.0f}s ago, {left:.0f}s left"
            checks.append(Check(guard.COOLDOWN, False, detail))
        else:
            checks.append(Check(guard.COOLDOWN, True, "no recent run"))
        budget = rule.attempts
        used = journal.attempts_since(action, target, now - budget.window_seconds)
        detail = f"{used} of {budget.max_attempts} attempts in {budget.window_seconds:.0f}s used"
        checks.append(Check(guard.ATTEMPT_BUDGET, used < budget.max_attempts, detail))
        return Limits(tuple(checks))

    def kill_switch_check(self) -> Check:
        if self.kill_switch.engaged():
            return Check(guard.KILL_SWITCH, False, f"kill switch {self.kill_switch.path} engaged")
        return Check(guard.KILL_SWITCH, True, "not engaged")

    def observe(self, snapshot: ClusterState) -> None:
        """Every read of the current CIB is evidence of the constraints' ages: new ones are first
        seen now, those gone are forgotten (`pcs resource ban` places the same id again later).
        A read without a current CIB is evidence of nothing."""
        pacemaker = snapshot.pacemaker
        if not (pacemaker.up and pacemaker.cib_current):
            return
        seen = {constraint_signature(c): c.id for c in pacemaker.location_constraints}
        self.journal.observe_constraints(seen, snapshot.taken_at)

    def evaluate(
        self, rule: Rule, job_id: str, hints: Hints, *, record_observations: bool
    ) -> tuple[Evaluation, ClusterState | None]:
        """Read the cluster now and let the action decide. Never raises for an unreadable
        cluster: that is a refusal like any other."""
        spec = ACTIONS[rule.action]
        try:
            snapshot = self.services.reader.read()
        except ReadError as exc:
            check = Check(guard.CLUSTER_UNREADABLE, False, str(exc))
            return unresolved(rule.action, spec.target_key(hints), check), None

        if record_observations:
            self.observe(snapshot)

        def known_since(c: LocationConstraint) -> float:
            """The earliest time `c` is known to exist: its first sighting since it last
            appeared, or the end of its lifetime rule once passed (placed before its end)."""
            times = [snapshot.taken_at]
            seen = self.journal.first_seen(constraint_signature(c))
            if seen is not None:
                times.append(seen)
            if c.expires_at is not None and c.expires_at <= snapshot.taken_at:
                times.append(c.expires_at)
            return min(times)

        ctx = Context(snapshot, self.config, job_id, hints, known_since)
        evaluation = spec.evaluate(ctx, rule.parameters)
        if evaluation.refusal is None and evaluation.command_checks:
            extra = tuple(check(self.services.runner) for check in evaluation.command_checks)
            evaluation = replace(evaluation, checks=(*evaluation.checks, *extra))
        return evaluation, snapshot
