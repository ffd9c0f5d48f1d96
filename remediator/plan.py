"""A remediation plan: an ordered list of steps, each an argv or a live condition to wait for.

Steps are data: what runs (argv, never a shell), on which hub, with which timeout, why, and
whether it changes anything (`destructive`: the guard is re-read live right before it). A step
may run only `when` a condition on earlier outcomes (or on the live snapshot) holds, which is how
a plan carries its branches (pg_rewind, else pg_basebackup) in the open. `on_failure` steps run,
best effort, when the plan fails after something was changed (e.g. re-assert the resync hold).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from clusterstate.model import ClusterState
from remediator.guard import Check


@dataclass(frozen=True)
class Outcome:
    """What happened to one step."""

    ok: bool
    skipped: bool = False
    exit_code: int | None = None
    detail: str = ""
    output: str = ""


Outcomes = Mapping[str, Outcome]
WaitCheck = Callable[[ClusterState], Check]


@dataclass(frozen=True)
class Condition:
    """A `when` clause: shown to humans as `description`, decided by `test` at run time."""

    description: str
    test: Callable[[Outcomes, ClusterState], bool]


def after_ok(step: str) -> Condition:
    return Condition(f"{step} succeeded", lambda o, _s: o.get(step, _SKIPPED).ok)


def after_failed(step: str) -> Condition:
    def test(o: Outcomes, _s: ClusterState) -> bool:
        outcome = o.get(step)
        return outcome is not None and not outcome.ok and not outcome.skipped

    return Condition(f"{step} failed", test)


def all_of(*conditions: Condition) -> Condition:
    return Condition(
        " and ".join(c.description for c in conditions),
        lambda o, s: all(c.test(o, s) for c in conditions),
    )


def any_of(*conditions: Condition) -> Condition:
    return Condition(
        " or ".join(f"({c.description})" for c in conditions),
        lambda o, s: any(c.test(o, s) for c in conditions),
    )


_SKIPPED = Outcome(ok=False, skipped=True)


@dataclass(frozen=True)
class Step:
    name: str
    why: str
    timeout: float
    runs_on: str
    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    destructive: bool = False
    wait_for: WaitCheck | None = None
    """A wait step: polls fresh snapshots until this check passes or `timeout` runs out."""
    wait_description: str = ""
    when: Condition | None = None
    tolerate_failure: bool = False
    """A failure is recorded but does not fail the plan (a dry run that picks a branch)."""
    preconditions: tuple[WaitCheck, ...] = ()
    """Checks of this step alone, re-read live with the guard right before it (e.g. the cause a
    re-sync cures, before the step that stops the standby)."""

    def __post_init__(self) -> None:
        if bool(self.argv) == (self.wait_for is not None):
            raise ValueError(f"step {self.name}: exactly one of argv and wait_for")
        if self.preconditions and not self.destructive:
            raise ValueError(f"step {self.name}: preconditions are re-read before changes only")

    @property
    def kind(self) -> str:
        return "wait" if self.wait_for is not None else "command"

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "argv": list(self.argv) if self.argv else None,
            "waits_for": self.wait_description or None,
            "runs_on": self.runs_on,
            "timeout_seconds": self.timeout,
            "destructive": self.destructive,
            "when": self.when.description if self.when else None,
            "why": self.why,
        }


RecoveryGuard = Callable[[ClusterState], Check]
"""Re-read before each destructive recovery step: recovery may only change what is still safe."""


def _nothing_to_guard(_s: ClusterState) -> Check:
    return Check("recovery_guard", True, "the plan changes nothing in recovery")


@dataclass(frozen=True)
class Plan:
    action: str
    target: str
    steps: tuple[Step, ...]
    on_failure: tuple[Step, ...] = ()
    recovery_guard: RecoveryGuard = _nothing_to_guard
    """Checked on a fresh read before each destructive `on_failure` step (skipped if it fails
    or the cluster cannot be read): the cluster may have changed since the plan failed."""

    @property
    def deadline_seconds(self) -> float:
        """The longest the plan can take: every step at its timeout."""
        return sum(s.timeout for s in self.steps) + sum(s.timeout for s in self.on_failure)

    def describe(self) -> dict[str, object]:
        return {
            "action": self.action,
            "target": self.target,
            "steps": [s.describe() for s in self.steps],
            "on_failure": [s.describe() for s in self.on_failure],
            "deadline_seconds": self.deadline_seconds,
        }
