"""The one background worker: takes queued jobs in order and decides, locks, acts, verifies.

Jobs run here, never on a request thread. For each job: the journal's limits (kill switch,
circuit, cooldown, attempt budget), then the action's checks on a live snapshot; a dry run stops
there with its plan. Otherwise the cluster-wide lock is taken (waiting a bounded time for the
other hub), the cluster is read *again* under the lock (the other hub may just have fixed it),
and only then does the plan run. A failed job opens the circuit after `circuit_failures` failures
in a row; exhausting the attempt budget opens it too, so a remediation that does not stick pages
a human instead of looping.

The lock is taken inside the try/finally that releases it: a create that went through but could
not be confirmed is released too. A job stays `queued` while it is decided and while it waits for
the lock, so a resolve can still cancel it: every change of state from `queued` is conditional,
and a cancelled job never runs.

On start, jobs left `running` by a crash are marked `interrupted` and, if their alert is still
firing, a new job is queued for the same episode: it is decided from live state like any other,
never replayed from the old plan. No job of this process runs yet, so a cluster lock held by this
node is a leftover of the previous one (a crash anywhere between taking and releasing it) and is
released, whatever became of its job or its alert.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from remediator import guard
from remediator.actions.base import Evaluation, HintError, Hints, lock_held_by
from remediator.config import RemediatorConfig
from remediator.decide import Decider
from remediator.executor import ExecutionResult, Executor
from remediator.guard import Check
from remediator.journal import Journal
from remediator.killswitch import KillSwitch
from remediator.lock import LockError
from remediator.policy import Policy, Rule
from remediator.services import Services

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        config: RemediatorConfig,
        policy: Policy,
        services: Services,
        journal: Journal,
        kill_switch: KillSwitch,
    ) -> None:
        self.config = config
        self.policy = policy
        self.services = services
        self.journal = journal
        self.decider = Decider(config, services, journal, kill_switch)
        self.executor = Executor(services, journal, kill_switch, config.guard.poll_interval_seconds)
        self.current: dict[str, str] = {}
        """action -> id of the job running now (for the job_in_progress metric)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="cfha-remediator-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job in progress finishes its current step first."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # the worker must outlive any single bad job
                log.exception("worker iteration failed")
            self._wake.wait(timeout=5.0)
            self._wake.clear()

    def run_pending(self) -> int:
        """Process queued jobs until none is left (or stop was asked). Returns how many."""
        done = 0
        while not self._stop.is_set():
            job = self.journal.next_queued()
            if job is None:
                return done
            self.process(job)
            done += 1
        return done

    # -- recovery --------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark jobs a crash left running as interrupted; queue a fresh decision for each."""
        now = self.services.clock.time()
        redecided = []
        running = self.journal.execute(
            "SELECT * FROM jobs WHERE state = 'running' AND node = ?", (self.config.node_name,)
        )
        for job in running:
            detail = "the remediator stopped while this job was running"
            self.journal.update_job(job["id"], state="interrupted", detail=detail, finished_at=now)
            self._audit(job, "interrupted", "restart")
            episode = self.journal.episode(job["fingerprint"], job["starts_at"])
            if episode is None or episode.get("resolved_at") is not None:
                continue
            fields = {k: job[k] for k in ("rule", "action", "target", "alertname", "labels")}
            fields |= {k: job[k] for k in ("fingerprint", "starts_at", "dry_run")}
            new_id = self.journal.create_job(
                **fields, created_at=now, state="queued", parent_job=job["id"]
            )
            self.journal.record_episode(job["fingerprint"], job["starts_at"], now, new_id)
            self._audit(job, "redecide", "interrupted", new_job=new_id)
            redecided.append(new_id)
        self._release_leftover_lock()
        return redecided

    def _release_leftover_lock(self) -> None:
        lock = self.services.lock
        try:
            held = lock.read()
            if held.owner_node != self.config.node_name or held.job_id is None:
                return
            released = lock.release(held.job_id)
        except LockError as exc:
            log.error("cannot release this hub's leftover cluster lock: %s", exc)
            return
        if released:
            log.warning("released the cluster lock left by job %s", held.job_id)
            self.journal.audit(
                self.services.clock.time(), "lock_released", reason="recovery", job_id=held.job_id
            )

    # -- one job ---------------------------------------------------------------------------------
    def process(self, job: dict[str, Any]) -> None:
        rule = self.policy.rule(job["rule"])
        if rule is None:
            self._refuse(job, Check(guard.TARGET_UNKNOWN, False, "rule no longer in the policy"))
            return
        try:
            hints = Hints.from_labels(job["labels"])
        except HintError as exc:
            self._refuse(job, Check(guard.LABEL_INVALID, False, str(exc)))
            return
        kill_switch = self.decider.kill_switch_check()
        if not kill_switch.ok:  # before reading anything: the operator said stop
            self._refuse(job, kill_switch)
            return
        evaluation, snapshot = self.decider.evaluate(
            rule, job["id"], hints, record_observations=True
        )
        before = snapshot.summary() if snapshot else None
        job = self._live_target(job, evaluation.target)
        now = self.services.clock.time()
        limits = self.decider.limits(rule, job["target"], now, exclude_job=job["parent_job"])
        if limits.refusal is not None:
            if limits.refusal.name == guard.ATTEMPT_BUDGET:
                self._open_circuit(job, f"attempt budget exhausted: {limits.refusal.detail}")
            self._refuse(job, limits.refusal, evaluation, before, limits.checks)
            return
        refusal = evaluation.refusal
        # A lock held by the other hub is not a refusal yet: wait for it (bounded), then decide.
        if refusal is not None and (refusal.name != guard.CLUSTER_LOCK or job["dry_run"]):
            self._refuse(job, refusal, evaluation, before, limits.checks)
            return
        if job["dry_run"]:
            self._finish(job, "dry_run", "dry run: the plan was not executed", evaluation, before)
            return
        self._locked_run(job, rule, hints, evaluation)

    def _live_target(self, job: dict[str, Any], target: str) -> dict[str, Any]:
        """Key the job on what it would touch, as the live cluster names it (a clone and its
        primitive, a constraint by id or by resource and node, are one target), so that its
        circuit, cooldown and attempt budget are those of that target whatever the labels said."""
        if target == job["target"]:
            return job
        self.journal.update_job(job["id"], expect_state="queued", target=target)
        self._audit({**job, "target": target}, "target_resolved", job["target"])
        return {**job, "target": target}

    def _still_queued(self, job: dict[str, Any]) -> bool:
        current = self.journal.job(job["id"])
        return current is not None and current["state"] == "queued"

    def _locked_run(
        self, job: dict[str, Any], rule: Rule, hints: Hints, planned: Evaluation
    ) -> None:
        assert planned.plan is not None
        ttl = planned.plan.deadline_seconds + self.config.guard.lock_margin_seconds
        try:  # the acquisition itself may leave the lock behind when it fails half-way
            refusal = self._acquire(job, ttl)
            if refusal is not None:
                self._refuse(job, refusal, planned)
                return
            # The other hub may have acted while we waited: decide again, under the lock.
            evaluation, snapshot = self.decider.evaluate(
                rule, job["id"], hints, record_observations=True
            )
            before = snapshot.summary() if snapshot else None
            if evaluation.refusal is not None or evaluation.plan is None:
                refusal = evaluation.refusal or Check(guard.TARGET_UNKNOWN, False, "no plan")
                self._refuse(job, refusal, evaluation, before)
                return
            self._run(job, rule, evaluation, before)
        finally:
            try:
                self.services.lock.release(job["id"])
            except LockError as exc:
                log.error("job %s: cannot release the cluster lock: %s", job["id"], exc)
                self._audit(job, "lock_release_failed", str(exc))

    def _acquire(self, job: dict[str, Any], ttl: float) -> Check | None:
        """None when the lock is ours; else the refusal (busy past the wait, unreadable, or the
        job was cancelled while it waited)."""
        clock = self.services.clock
        deadline = clock.monotonic() + self.config.guard.lock_wait_seconds
        while True:
            try:
                outcome = self.services.lock.acquire(job["id"], clock.time(), ttl)
            except LockError as exc:
                return Check(guard.CLUSTER_LOCK, False, f"lock unavailable: {exc}")
            if outcome.acquired:
                self._audit(job, "lock_acquired", outcome.detail)
                return None
            if clock.monotonic() >= deadline:
                return Check(guard.CLUSTER_LOCK, False, outcome.detail)
            clock.sleep(self.config.guard.poll_interval_seconds)
            if not self._still_queued(job):
                return Check(guard.CLUSTER_LOCK, False, "cancelled while waiting for the lock")

    def _run(
        self,
        job: dict[str, Any],
        rule: Rule,
        evaluation: Evaluation,
        before: dict[str, object] | None,
    ) -> None:
        assert evaluation.plan is not None
        now = self.services.clock.time()
        with self.journal.transaction():  # the claim and its audit record, one commit
            claimed = self.journal.update_job(
                job["id"],
                expect_state="queued",
                state="running",
                executed=1,
                started_at=now,
                checks=[c.as_dict() for c in evaluation.checks],
                plan=evaluation.plan.describe(),
                before=before,
            )
            if claimed:
                self._audit(job, "executing")
        if not claimed:
            log.info("job %s was cancelled before it ran", job["id"])
            return
        self.current[rule.action] = job["id"]
        try:
            guard_fn = evaluation.guard
            lock_fn = lock_held_by(job["id"])
            result = self.executor.execute(
                job["id"], evaluation.plan, lambda s: [*guard_fn(s), *lock_fn(s)]
            )
        finally:
            self.current.pop(rule.action, None)
        if result.after is not None:
            self.decider.observe(result.after)
        self._finish(job, result.state, result.detail, result=result)
        if result.state == "failed":
            failures = self.journal.failures_in_a_row(rule.action, job["target"])
            if failures >= rule.circuit_failures:
                self._open_circuit(job, f"{failures} failed run(s) in a row: {result.detail}")
                return
        if self.journal.circuit(rule.action, job["target"]) is None:
            # Publish the circuit of every target that ever ran, closed, not only open ones.
            self.journal.set_circuit(
                rule.action,
                job["target"],
                is_open=False,
                now=self.services.clock.time(),
                reason="closed",
                job_id=job["id"],
            )

    # -- bookkeeping -----------------------------------------------------------------------------
    def _finish(
        self,
        job: dict[str, Any],
        state: str,
        detail: str,
        evaluation: Evaluation | None = None,
        before: dict[str, object] | None = None,
        *,
        result: ExecutionResult | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "state": state,
            "detail": detail,
            "finished_at": self.services.clock.time(),
        }
        if evaluation is not None:
            fields["checks"] = [c.as_dict() for c in evaluation.checks]
            fields["plan"] = evaluation.plan.describe() if evaluation.plan else None
            fields["before"] = before
        if result is not None:
            fields["refused_by"] = result.stopped_by
            fields["after"] = result.after.summary() if result.after else None
        was = "running" if result is not None else "queued"
        with self.journal.transaction():  # the outcome and its audit record, one commit
            if not self.journal.update_job(job["id"], expect_state=was, **fields):
                log.info("job %s was cancelled while it was decided", job["id"])
                return
            self._audit(job, state, detail)
        log.info("job %s %s %s: %s (%s)", job["id"], job["action"], job["target"], state, detail)

    def _refuse(
        self,
        job: dict[str, Any],
        check: Check,
        evaluation: Evaluation | None = None,
        before: dict[str, object] | None = None,
        checks: tuple[Check, ...] | list[Check] = (),
    ) -> None:
        all_checks = [*checks, *(evaluation.checks if evaluation else ())]
        with self.journal.transaction():  # the refusal and its audit record, one commit
            refused = self.journal.update_job(
                job["id"],
                expect_state="queued",
                state="refused",
                refused_by=check.name,
                detail=check.detail,
                finished_at=self.services.clock.time(),
                checks=[c.as_dict() for c in all_checks] or [check.as_dict()],
                plan=evaluation.plan.describe() if evaluation and evaluation.plan else None,
                before=before,
            )
            if not refused:
                log.info("job %s was cancelled while it was decided", job["id"])
                return
            self._audit(job, "refused", check.name, detail=check.detail)
        log.info("job %s %s refused by %s: %s", job["id"], job["action"], check.name, check.detail)

    def _open_circuit(self, job: dict[str, Any], reason: str) -> None:
        now = self.services.clock.time()
        self.journal.set_circuit(
            job["action"], job["target"], is_open=True, now=now, reason=reason, job_id=job["id"]
        )
        self._audit(job, "circuit_opened", reason)
        log.error("circuit opened for %s %s: %s", job["action"], job["target"], reason)

    def _audit(self, job: dict[str, Any], event: str, reason: str = "", **data: str) -> None:
        self.journal.audit(
            self.services.clock.time(),
            event,
            reason=reason,
            data=data or None,
            job_id=job["id"],
            fingerprint=job["fingerprint"],
            starts_at=job["starts_at"],
            alertname=job["alertname"],
            action=job["action"],
            target=job["target"],
        )
