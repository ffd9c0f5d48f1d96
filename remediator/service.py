"""The remediator as one object: journal, intake, worker, kill switch, metrics, plan preview.

The Flask views and the CLI talk to this; it owns the lifecycle (recover interrupted jobs, start
and stop the worker, close the journal).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from prometheus_client import CollectorRegistry

from remediator.actions import ACTIONS
from remediator.config import RemediatorConfig
from remediator.decide import Decider
from remediator.guard import Check
from remediator.intake import Intake, IntakeResult
from remediator.journal import Journal
from remediator.killswitch import KillSwitch
from remediator.metrics import RemediatorCollector, RequestCounter
from remediator.models import Alert, WebhookPayload
from remediator.policy import Policy
from remediator.services import Services
from remediator.worker import Worker

log = logging.getLogger(__name__)


class Remediator:
    def __init__(
        self,
        config: RemediatorConfig,
        policy: Policy,
        services: Services,
        *,
        start_worker: bool = True,
        recover: bool = True,
    ) -> None:
        """`recover=False` (the `plan` command) leaves jobs of a running service alone."""
        self.config = config
        self.policy = policy
        self.services = services
        self.journal = Journal(config.journal, config.node_name)
        self.kill_switch = KillSwitch(config.kill_switch_file)
        self.intake = Intake(config, policy, self.journal)
        self.decider = Decider(config, services, self.journal, self.kill_switch)
        self.worker = Worker(config, policy, services, self.journal, self.kill_switch)
        self.requests = RequestCounter()
        self.registry = CollectorRegistry()
        self.registry.register(
            RemediatorCollector(
                cluster=config.cluster,
                node=config.node_name,
                dry_run=config.dry_run,
                journal=self.journal,
                kill_switch=self.kill_switch,
                requests=self.requests,
                in_progress=self.worker.current,
            )
        )
        if recover:
            redecided = self.worker.recover()
            if redecided:
                log.warning("re-deciding %d job(s) interrupted by a restart", len(redecided))
        if start_worker:
            self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.journal.close()

    def receive(self, payload: WebhookPayload) -> IntakeResult:
        result = self.intake.receive(payload, self.services.clock.time())
        if result.accepted:
            self.worker.wake()
        return result

    # -- read-only views -------------------------------------------------------------------------
    def job_detail(self, job_id: str) -> dict[str, Any] | None:
        job = self.journal.job(job_id)
        if job is None:
            return None
        job["steps"] = self.journal.steps(job_id)
        job["audit"] = self.journal.audit_log(limit=200, job_id=job_id)
        return job

    def preview(self, payload: WebhookPayload) -> list[dict[str, Any]]:
        """What would happen now for each alert, with every check's result. Changes nothing."""
        return [
            self._preview_alert(item)
            if isinstance(item, Alert)
            else {"decision": "invalid", **item.as_dict()}
            for item in payload.items
        ]

    def _preview_alert(self, alert: Alert) -> dict[str, Any]:
        base: dict[str, Any] = {
            "alertname": alert.alertname,
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "labels": alert.labels,
        }
        if alert.status == "resolved":
            active = self.journal.active_for_alert(alert.fingerprint, alert.starts_at_key)
            return base | {
                "decision": "resolve",
                "would_cancel": [j["id"] for j in active if j["state"] == "queued"],
            }
        rule = self.policy.match(alert)
        if rule is None:
            return base | {"decision": "ignore", "reason": "no_rule"}
        spec = ACTIONS[rule.action]
        base |= {"rule": rule.name, "action": rule.action}
        hints = self.intake.screen(alert)
        if isinstance(hints, Check):
            return base | {"decision": "refuse", "refused_by": hints.name, "reason": hints.detail}
        target = spec.target_key(hints)
        base["target"] = target
        if spec.scope(hints, self.config) == "local" and hints.node not in (
            None,
            self.config.node_name,
        ):
            return base | {"decision": "ignore", "reason": "not_my_node"}
        episode = self.journal.episode(alert.fingerprint, alert.starts_at_key)
        job_id = f"preview{uuid.uuid4().hex[:12]}"
        evaluation, _snapshot = self.decider.evaluate(
            rule, job_id, hints, record_observations=False
        )
        base["target"] = evaluation.target  # as the live cluster names it, as a job is keyed
        limits = self.decider.limits(rule, evaluation.target, self.services.clock.time())
        refusal = limits.refusal or evaluation.refusal
        return base | {
            "decision": "refuse" if refusal else "act",
            "refused_by": refusal.name if refusal else None,
            "dry_run": self.config.dry_run or rule.dry_run,
            "known_episode_job": episode.get("job_id") if episode else None,
            "checks": [c.as_dict() for c in (*limits.checks, *evaluation.checks)],
            "plan": evaluation.plan.describe() if evaluation.plan else None,
        }

    # -- operator actions ------------------------------------------------------------------------
    def reset_circuit(self, action: str, target: str, by: str) -> bool:
        circuit = self.journal.circuit(action, target)
        if circuit is None or not circuit["open"]:
            return False
        now = self.services.clock.time()
        with self.journal.transaction():
            self.journal.set_circuit(
                action, target, is_open=False, now=now, reason=f"reset by {by}", job_id=None
            )
            self.journal.audit(now, "circuit_reset", reason=by, action=action, target=target)
        return True

    def engage_kill_switch(self, by: str, reason: str) -> None:
        now = self.services.clock.time()
        self.kill_switch.engage(now, by, reason)
        self.journal.audit(now, "kill_switch_engaged", reason=reason, data={"by": by})

    def release_kill_switch(self, by: str) -> bool:
        released = self.kill_switch.release()
        self.journal.audit(self.services.clock.time(), "kill_switch_released", reason=by)
        if released:
            self.worker.wake()
        return released
