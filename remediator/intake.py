"""From a validated webhook payload to queued jobs, committed before the HTTP answer.

Each alert is read on its own (a group mixes firing and resolved alerts):
* resolved: the episode is marked resolved and its *queued* jobs are cancelled (audited); a job
  already running is never interrupted, the resolve is only recorded.
* firing: the first matching policy rule picks the action; no rule is "ignored". The episode
  `(fingerprint, startsAt)` is looked up: an episode that already has a job is a duplicate
  (Alertmanager repeats and HA peers send the same alert again), except that a *refused* episode
  is decided again after `redecide_after_seconds` (a refusal such as "recent failover" or "lock
  busy" changes with time). Label hints are validated (a bad label is a refusal, nothing runs).
  A local action for another hub is "not my node". Otherwise a job is queued.
Nothing here reads the cluster or runs a command: that is the worker's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remediator import guard
from remediator.actions import ACTIONS
from remediator.actions.base import HintError, Hints
from remediator.config import RemediatorConfig
from remediator.journal import Journal
from remediator.models import Alert, WebhookPayload
from remediator.policy import Policy

REDECIDABLE_STATES = ("refused", "cancelled", "interrupted")


@dataclass
class IntakeResult:
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    duplicates: int = 0
    ignored: list[dict[str, str]] = field(default_factory=list)
    resolved: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "cancelled": self.cancelled,
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
            for alert in payload.alerts:
                if alert.status == "resolved":
                    self._resolved(alert, now, result)
                else:
                    self._firing(alert, now, result)
        return result

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

    def _resolved(self, alert: Alert, now: float, result: IntakeResult) -> None:
        result.resolved += 1
        self.journal.resolve_episode(alert.fingerprint, alert.starts_at_key, now)
        self._audit(alert, now, "resolved")
        for job in self.journal.queued_for_alert(alert.fingerprint, alert.starts_at_key):
            self.journal.update_job(
                job["id"], state="cancelled", detail="alert resolved before start", finished_at=now
            )
            self._audit(alert, now, "cancelled", "resolved", job_id=job["id"])
            result.cancelled.append(job["id"])

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
        try:
            hints = Hints.from_labels(alert.labels)
        except HintError as exc:
            job_id = self.journal.create_job(
                **job,
                target="?",
                state="refused",
                refused_by=guard.LABEL_INVALID,
                detail=str(exc),
                finished_at=now,
            )
            self.journal.record_episode(alert.fingerprint, alert.starts_at_key, now, job_id)
            self._audit(alert, now, "refused", guard.LABEL_INVALID, job_id=job_id)
            result.refused.append(job_id)
            return
        target = spec.target_key(hints)
        if spec.scope(hints, self.config) == "local" and hints.node not in (
            None,
            self.config.node_name,
        ):
            self._ignore(alert, now, result, "not_my_node", action=rule.action, target=target)
            return
        job_id = self.journal.create_job(**job, target=target, state="queued")
        self.journal.record_episode(alert.fingerprint, alert.starts_at_key, now, job_id)
        self._audit(alert, now, "accepted", job_id=job_id, action=rule.action, target=target)
        result.accepted.append(job_id)

    def _is_duplicate(self, episode: dict[str, object], now: float) -> bool:
        if episode.get("resolved_at") is not None:
            return True  # a late copy of an episode that is already over
        state = episode.get("job_state")  # None: no job (or it is gone)
        if state is None or state not in REDECIDABLE_STATES:
            return state is not None
        if episode.get("job_refused_by") == guard.LABEL_INVALID:
            return True  # the labels of an episode never change
        last = episode.get("last_decided")
        assert isinstance(last, float | int)
        return now - float(last) < self.config.redecide_after_seconds

    def _ignore(
        self, alert: Alert, now: float, result: IntakeResult, reason: str, **kw: str
    ) -> None:
        result.ignored.append({"fingerprint": alert.fingerprint, "reason": reason})
        self._audit(alert, now, "ignored", reason, **kw)
