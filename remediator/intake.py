"""From a validated webhook payload to queued jobs, committed before the HTTP answer.

Each alert is read on its own (a group mixes firing and resolved alerts, and may carry invalid
alerts: those are audited as `invalid` and listed in the answer, the others are taken):
* resolved: the episode is marked resolved and its *queued* jobs are cancelled (audited), those
  being decided or waiting for the lock included: the worker never runs a cancelled job. A job
  already running is never interrupted; the answer says so (`not_cancelled`). A resolved alert
  about a constraint also forgets that constraint's sightings: it may have gone, and one placed
  again later must be young again (forgetting only ever makes the remediator wait longer).
* firing: the first matching policy rule picks the action; no rule is "ignored". The episode
  `(fingerprint, startsAt)` is looked up: an episode that already has a job is a duplicate
  (Alertmanager repeats and HA peers send the same alert again), except that a *refused* episode
  is decided again after `redecide_after_seconds` (a refusal such as "recent failover" or "lock
  busy" changes with time). An alert of another cluster (`cluster` label) or with a hint label
  that is not a pacemaker id is refused, and nothing runs. A local action for another hub is "not
  my node". Past `max_queued_jobs` waiting jobs, a new one is refused (`queue_full`). Otherwise a
  job is queued.
Nothing here reads the cluster or runs a command: that is the worker's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remediator import guard
from remediator.actions import ACTIONS
from remediator.actions.base import HintError, Hints
from remediator.config import RemediatorConfig
from remediator.guard import Check
from remediator.journal import Journal
from remediator.models import Alert, RejectedAlert, WebhookPayload, valid_hint
from remediator.policy import Policy

REDECIDABLE_STATES = ("refused", "cancelled", "interrupted")
WRONG_CLUSTER = "wrong_cluster"
QUEUE_FULL = "queue_full"
INTAKE_REFUSALS = (WRONG_CLUSTER, QUEUE_FULL)
"""Refusals decided at intake, besides the guard's `label_invalid`."""
FINAL_REFUSALS = (guard.LABEL_INVALID, WRONG_CLUSTER)
"""Refusals by the labels, which never change within an episode: a repeat is a duplicate."""


@dataclass
class IntakeResult:
    accepted: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    invalid: list[dict[str, object]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    not_cancelled: list[dict[str, str]] = field(default_factory=list)
    duplicates: int = 0
    ignored: list[dict[str, str]] = field(default_factory=list)
    resolved: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "invalid": self.invalid,
            "cancelled": self.cancelled,
            "not_cancelled": self.not_cancelled,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "resolved": self.resolved,
        }


class Intake:
    def __init__(self, config: RemediatorConfig, policy: Policy, journal: Journal) -> None:
        self.config = config
        self.policy = policy
        self.journal = journal

    def receive(self, payload: WebhookPayload, now: float) -> IntakeResult:
        result = IntakeResult()
        with self.journal.transaction():
            for item in payload.items:
                if isinstance(item, RejectedAlert):
                    self._invalid(item, now, result)
                elif item.status == "resolved":
                    self._resolved(item, now, result)
                else:
                    self._firing(item, now, result)
        return result

    def screen(self, alert: Alert) -> Hints | Check:
        """The hints of an alert for this cluster, or the refusal that its labels earn."""
        cluster = alert.labels.get("cluster")
        if cluster != self.config.cluster:
            said = f"label cluster={cluster!r}" if cluster is not None else "no cluster label"
            detail = f"{said}: this remediator serves cluster {self.config.cluster!r}"
            return Check(WRONG_CLUSTER, False, detail)
        try:
            return Hints.from_labels(alert.labels)
        except HintError as exc:
            return Check(guard.LABEL_INVALID, False, str(exc))

    def _audit(self, alert: Alert, now: float, event: str, reason: str = "", **kw: str) -> None:
        self.journal.audit(
            now,
            event,
            reason=reason,
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at_key,
            alertname=alert.alertname,
            **kw,
        )

    def _invalid(self, rejected: RejectedAlert, now: float, result: IntakeResult) -> None:
        result.invalid.append(rejected.as_dict())
        self.journal.audit(
            now,
            "invalid",
            reason=rejected.errors[0][:300],
            data={"index": rejected.index, "errors": [e[:300] for e in rejected.errors[:20]]},
            fingerprint=rejected.fingerprint,
        )

    def _resolved(self, alert: Alert, now: float, result: IntakeResult) -> None:
        result.resolved += 1
        self.journal.resolve_episode(alert.fingerprint, alert.starts_at_key, now)
        self._audit(alert, now, "resolved")
        constraint = alert.labels.get("constraint")
        if constraint is not None and valid_hint(constraint):
            self.journal.forget_constraint(constraint)
        for job in self.journal.active_for_alert(alert.fingerprint, alert.starts_at_key):
            # The worker changes a queued job only if it is still queued: this wins or it ran.
            if job["state"] == "queued" and self.journal.update_job(
                job["id"],
                expect_state="queued",
                state="cancelled",
                detail="alert resolved before start",
                finished_at=now,
            ):
                self._audit(alert, now, "cancelled", "resolved", job_id=job["id"])
                result.cancelled.append(job["id"])
            else:
                result.not_cancelled.append({"job_id": job["id"], "state": job["state"]})

    def _firing(self, alert: Alert, now: float, result: IntakeResult) -> None:
        rule = self.policy.match(alert)
        if rule is None:
            self._ignore(alert, now, result, "no_rule")
            return
        episode = self.journal.episode(alert.fingerprint, alert.starts_at_key)
        if episode is not None and self._is_duplicate(episode, now):
            result.duplicates += 1
            self._audit(alert, now, "duplicate", job_id=episode.get("job_id") or "")
            return
        spec = ACTIONS[rule.action]
        job = {
            "created_at": now,
            "rule": rule.name,
            "action": rule.action,
            "alertname": alert.alertname,
            "fingerprint": alert.fingerprint,
            "starts_at": alert.starts_at_key,
            "labels": alert.labels,
            "dry_run": int(self.config.dry_run or rule.dry_run),
        }
        hints = self.screen(alert)
        if isinstance(hints, Check):
            self._refuse(alert, now, result, job | {"target": "?"}, hints)
            return
        target = spec.target_key(hints)
        if spec.scope(hints, self.config) == "local" and hints.node not in (
            None,
            self.config.node_name,
        ):
            self._ignore(alert, now, result, "not_my_node", action=rule.action, target=target)
            return
        waiting = self.journal.queued_count()
        if waiting >= self.config.max_queued_jobs:
            detail = f"{waiting} jobs waiting for the worker (max_queued_jobs)"
            self._refuse(
                alert, now, result, job | {"target": target}, Check(QUEUE_FULL, False, detail)
            )
            return
        job_id = self.journal.create_job(**job, target=target, state="queued")
        self.journal.record_episode(alert.fingerprint, alert.starts_at_key, now, job_id)
        self._audit(alert, now, "accepted", job_id=job_id, action=rule.action, target=target)
        result.accepted.append(job_id)

    def _refuse(
        self, alert: Alert, now: float, result: IntakeResult, job: dict[str, object], check: Check
    ) -> None:
        job_id = self.journal.create_job(
            **job, state="refused", refused_by=check.name, detail=check.detail, finished_at=now
        )
        self.journal.record_episode(alert.fingerprint, alert.starts_at_key, now, job_id)
        self._audit(alert, now, "refused", check.name, job_id=job_id)
        result.refused.append(
            {
                "job_id": job_id,
                "fingerprint": alert.fingerprint,
                "refused_by": check.name,
                "detail": check.detail,
            }
        )

    def _is_duplicate(self, episode: dict[str, object], now: float) -> bool:
        if episode.get("resolved_at") is not None:
            return True  # a late copy of an episode that is already over
        state = episode.get("job_state")  # None: no job (or it is gone)
        if state is None or state not in REDECIDABLE_STATES:
            return state is not None
        if episode.get("job_refused_by") in FINAL_REFUSALS:
            return True  # the labels of an episode never change
        last = episode.get("last_decided")
        assert isinstance(last, float | int)
        return now - float(last) < self.config.redecide_after_seconds

    def _ignore(
        self, alert: Alert, now: float, result: IntakeResult, reason: str, **kw: str
    ) -> None:
        result.ignored.append({"fingerprint": alert.fingerprint, "reason": reason})
        self._audit(alert, now, "ignored", reason, **kw)
