"""Runs a plan step by step: guard re-read before every destructive step, every step journaled.

For each step: the kill switch is honoured at the step boundary (a running command is never
killed: the job stops before the next step, leaving whatever hold it placed); `when` conditions
are decided on fresh facts; before a destructive step a fresh snapshot is read and the action's
safety checks plus "this job still holds the cluster lock" must all pass. Commands are argv lists
run through the CommandRunner with the step's timeout; waits poll fresh snapshots until their
check passes or the step's timeout runs out. If the plan fails after it changed something, its
`on_failure` steps run (best effort, unguarded: they only make things safer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from clusterstate.errors import ReadError
from clusterstate.model import ClusterState
from clusterstate.tools import CommandError
from remediator.actions.base import GuardFn
from remediator.guard import GUARD_CHANGED, KILL_SWITCH, first_failure
from remediator.journal import Journal
from remediator.killswitch import KillSwitch
from remediator.plan import Outcome, Plan, Step
from remediator.services import Services

log = logging.getLogger(__name__)
OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class ExecutionResult:
    state: Literal["succeeded", "failed", "interrupted"]
    detail: str
    stopped_by: str | None = None
    """The precondition that stopped the job in the middle, if any."""
    after: ClusterState | None = None


class _Stop(Exception):
    def __init__(self, result: ExecutionResult) -> None:
        super().__init__(result.detail)
        self.result = result


class Executor:
    def __init__(
        self, services: Services, journal: Journal, kill_switch: KillSwitch, poll_interval: float
    ) -> None:
        self._runner = services.runner
        self._reader = services.reader
        self._journal = journal
        self._clock = services.clock
        self._kill_switch = kill_switch
        self._poll = poll_interval

    def execute(self, job_id: str, plan: Plan, guard: GuardFn) -> ExecutionResult:
        outcomes: dict[str, Outcome] = {}
        changed = False
        try:
            for idx, step in enumerate(plan.steps):
                outcome = self._step(job_id, idx, step, outcomes, guard)
                outcomes[step.name] = outcome
                changed = changed or (step.destructive and outcome.ok and not outcome.skipped)
                if not outcome.ok and not outcome.skipped and not step.tolerate_failure:
                    raise _Stop(ExecutionResult("failed", f"{step.name}: {outcome.detail}"))
        except _Stop as stop:
            result = stop.result
            if changed and result.state == "failed":
                recovered = self._on_failure(job_id, plan, outcomes)
                if recovered:  # how the node was left, in the job's own record
                    detail = f"{result.detail}; then {'; '.join(recovered)}"
                    result = ExecutionResult(result.state, detail, result.stopped_by)
            return self._with_after(result)
        return self._with_after(ExecutionResult("succeeded", "every step done and verified"))

    def _with_after(self, result: ExecutionResult) -> ExecutionResult:
        try:
            after = self._reader.read()
        except ReadError:
            after = None
        return ExecutionResult(result.state, result.detail, result.stopped_by, after)

    def _step(
        self, job_id: str, idx: int, step: Step, outcomes: dict[str, Outcome], guard: GuardFn
    ) -> Outcome:
        if self._kill_switch.engaged():
            self._journal.audit(self._clock.time(), "kill_switch", job_id=job_id, reason=step.name)
            raise _Stop(
                ExecutionResult(
                    "interrupted", f"kill switch engaged before {step.name}", KILL_SWITCH
                )
            )
        self._journal.step_started(job_id, idx, step.describe(), self._clock.time())
        snapshot: ClusterState | None = None
        if step.when is not None or step.destructive:
            snapshot = self._snapshot_or_stop(job_id, idx, step)
        if (
            step.when is not None
            and snapshot is not None
            and not step.when.test(outcomes, snapshot)
        ):
            return self._finish(job_id, idx, Outcome(ok=False, skipped=True, detail="not needed"))
        if step.destructive and snapshot is not None:
            own = [check(snapshot) for check in step.preconditions]
            failed = first_failure([*guard(snapshot), *own])
            if failed is not None:
                self._finish(job_id, idx, Outcome(False, detail=f"guard: {failed.detail}"))
                raise _Stop(
                    ExecutionResult(
                        "failed", f"before {step.name}: {failed.name}: {failed.detail}", failed.name
                    )
                )
        started = self._clock.monotonic()
        outcome = self._wait(step) if step.wait_for is not None else self._command(step)
        return self._finish(job_id, idx, outcome, self._clock.monotonic() - started)

    def _snapshot_or_stop(self, job_id: str, idx: int, step: Step) -> ClusterState:
        try:
            return self._reader.read()
        except ReadError as exc:
            self._finish(job_id, idx, Outcome(False, detail=f"cannot read the cluster: {exc}"))
            raise _Stop(
                ExecutionResult("failed", f"before {step.name}: cluster unreadable", GUARD_CHANGED)
            ) from exc

    def _command(self, step: Step) -> Outcome:
        try:
            result = self._runner.run(step.argv, timeout=step.timeout, env=dict(step.env) or None)
        except CommandError as exc:
            return Outcome(False, detail=f"{exc.reason}: {exc}")
        output = (result.stdout + result.stderr).decode("utf-8", "replace")[-OUTPUT_TAIL:]
        detail = "exit 0" if result.ok else f"exit {result.returncode}: {result.stderr_tail(300)}"
        return Outcome(result.ok, exit_code=result.returncode, detail=detail, output=output)

    def _wait(self, step: Step) -> Outcome:
        assert step.wait_for is not None
        deadline = self._clock.monotonic() + step.timeout
        last = "not checked"
        while True:
            try:
                check = step.wait_for(self._reader.read())
                if check.ok:
                    return Outcome(True, detail=check.detail)
                last = check.detail
            except ReadError as exc:
                last = f"cannot read the cluster: {exc}"
            if self._clock.monotonic() >= deadline:
                return Outcome(False, detail=f"not within {step.timeout:g}s: {last}")
            self._clock.sleep(self._poll)

    def _finish(
        self, job_id: str, idx: int, outcome: Outcome, duration: float | None = None
    ) -> Outcome:
        state = "skipped" if outcome.skipped else ("ok" if outcome.ok else "failed")
        self._journal.step_finished(
            job_id,
            idx,
            self._clock.time(),
            duration=duration,
            exit_code=outcome.exit_code,
            outcome=state,
            detail=outcome.detail,
            output_tail=outcome.output,
        )
        return outcome

    @staticmethod
    def _recovery_refusal(plan: Plan, step: Step, snapshot: ClusterState | None) -> str | None:
        """Why a destructive recovery step must not run now (None: it may)."""
        if not step.destructive:
            return None
        if snapshot is None:
            return "refused: the cluster cannot be read, nothing is changed blind"
        check = plan.recovery_guard(snapshot)
        return None if check.ok else f"refused by {check.name}: {check.detail}"

    def _on_failure(self, job_id: str, plan: Plan, outcomes: dict[str, Outcome]) -> list[str]:
        """Run the on-failure steps; returns `name: why` of each that succeeded."""
        done: list[str] = []
        base = len(plan.steps)
        for offset, step in enumerate(plan.on_failure):
            idx = base + offset
            self._journal.step_started(job_id, idx, step.describe(), self._clock.time())
            try:
                snapshot = self._reader.read()
            except ReadError as exc:
                log.error("job %s: cannot read the cluster for %s: %s", job_id, step.name, exc)
                snapshot = None
            refusal = self._recovery_refusal(plan, step, snapshot)
            if (
                refusal is None
                and step.when is not None
                and (snapshot is None or not step.when.test(outcomes, snapshot))
            ):
                self._finish(job_id, idx, Outcome(False, skipped=True, detail="not needed"))
                continue
            if refusal is not None:
                log.error("job %s: on-failure step %s not run: %s", job_id, step.name, refusal)
                self._finish(job_id, idx, Outcome(False, skipped=True, detail=refusal))
                continue
            started = self._clock.monotonic()
            outcome = self._command(step)
            outcomes[step.name] = self._finish(
                job_id, idx, outcome, self._clock.monotonic() - started
            )
            if outcome.ok:
                done.append(f"{step.name}: {step.why}")
            else:
                log.error(
                    "job %s: on-failure step %s failed: %s", job_id, step.name, outcome.detail
                )
        return done
