"""Remediation: what cfha-remediator did (jobs by action and result), what it refused and why,
its circuits and kill switch, and when each action last succeeded."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.common import BigValueTextMode

from dashboards.fields import (
    BAD,
    MUTED,
    OK,
    WARN,
    Column,
    flag_map,
    matrix,
    merge,
    organize,
    value_map,
)
from dashboards.kit import Q, Section, assemble, stat_panel, table_panel, timeseries_panel
from dashboards.queries import as_ms, either, sel, with_node

UID = "cfha-remediation"
INFO_METRIC = "cfha_remediation_info"


def state() -> Section:
    paused = with_node(sel("cfha_remediation_kill_switch_engaged"), INFO_METRIC)
    journal = with_node(sel("cfha_remediation_journal_ok"), INFO_METRIC)
    return Section(
        "State",
        (
            stat_panel(
                "Kill switch",
                "Whether each hub's remediator is paused (its kill switch file exists). Orange "
                "PAUSED: no action runs there; fine during an intervention, but resume it "
                "afterwards with `cfha-remediator killswitch off` (runbook "
                "CfHaRemediationPaused).",
                [Q(f"max by (node) ({paused})", "{{node}}")],
                mappings=[flag_map(("PAUSED", WARN), ("active", OK))],
                steps=((None, OK), (1, WARN)),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=6,
            ),
            stat_panel(
                "Open circuits",
                "(action, target) pairs whose circuit breaker is open: the remediator tried, "
                "failed too often and now pages instead of retrying. Red: find out why the "
                "action failed (the Jobs table, `cfha-remediator jobs`), fix it by hand, then "
                "`cfha-remediator circuit reset ACTION TARGET` (runbook "
                "CfHaRemediationCircuitOpen). No value: no action has run yet.",
                [
                    Q(
                        f"sum({either('cfha_remediation_circuit_open', ('action', 'target'))})",
                        "open",
                    )
                ],
                steps=((None, OK), (1, BAD)),
                no_value="none ran yet",
                w=6,
            ),
            stat_panel(
                "Queue",
                "Jobs waiting for a worker and jobs running, over both hubs. A queue that does "
                "not drain: the worker is stuck on a long job (a re-sync) or waiting for the "
                "cluster lock; see `cfha-remediator jobs --state running`.",
                [
                    Q(f"sum({sel('cfha_remediation_queue_depth')})", "queued"),
                    Q(f"sum({sel('cfha_remediation_job_in_progress')})", "running"),
                ],
                steps=((None, OK), (5, WARN)),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=6,
            ),
            table_panel(
                "Remediators",
                "The remediator on each hub: version, dry-run mode, and whether it could read "
                "its journal. Red journal NO: the job counters are missing on that hub; check "
                "the journal file's disk and permissions. dry_run true: it only plans.",
                [
                    Q(f"max by (node, version, dry_run) ({sel(INFO_METRIC)})"),
                    Q(f"max by (node) ({journal})"),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "node": "Hub",
                            "version": "Version",
                            "dry_run": "Dry run",
                            "Value #B": "Journal",
                        },
                        hide=("Time", "Value #A"),
                    ),
                ],
                columns=[Column("Journal", mappings=[flag_map(("ok", OK), ("NO", BAD))])],
                w=6,
                h=4,
            ),
        ),
    )


def jobs() -> Section:
    jobs_in_range = (
        f"round(sum by (action, result) (increase({sel('cfha_remediation_jobs_total')}[$__range])))"
    )
    refusals_in_range = (
        f"round(sum by (action, precondition) "
        f"(increase({sel('cfha_remediation_refusals_total')}[$__range]))) > 0"
    )
    return Section(
        "Jobs and refusals",
        (
            table_panel(
                "Jobs in the time range, by action and result",
                "Finished jobs of both hubs (each hub counts the jobs it ran). Red failed: an "
                "action ran and did not verify; read `cfha-remediator jobs --state failed` and "
                "the audit trail, the cluster may need a human (runbook "
                "CfHaRemediationFailed). Many refused: see the refusals beside.",
                [Q(jobs_in_range)],
                transformations=[
                    matrix("action", "result"),
                    organize({"action\\result": "Action"}),
                ],
                columns=[
                    Column("failed", steps=((None, OK), (1, BAD))),
                    Column("interrupted", steps=((None, OK), (1, WARN))),
                ],
                steps=((None, MUTED),),
                w=12,
                h=6,
            ),
            table_panel(
                "Refusals in the time range, by reason",
                "Jobs refused by the first precondition that did not hold. nothing_to_do, "
                "cluster_lock and cooldown are normal (the other hub acted, or the alert was "
                "stale). Anything else means the cluster was not safe to touch (no quorum, no "
                "fencing, two primaries, ...): fix that first, the alert will come back.",
                [Q(refusals_in_range)],
                transformations=[
                    organize(
                        {"action": "Action", "precondition": "Refused by", "Value": "Refusals"}
                    )
                ],
                columns=[
                    Column(
                        "Refused by",
                        mappings=[
                            value_map(
                                {
                                    "nothing_to_do": ("nothing_to_do", MUTED),
                                    "cluster_lock": ("cluster_lock", MUTED),
                                    "cooldown": ("cooldown", MUTED),
                                }
                            )
                        ],
                    )
                ],
                steps=((None, WARN),),
                no_value="no refusal",
                w=12,
                h=6,
            ),
            timeseries_panel(
                "Jobs over time",
                "Finished jobs per action and result over time. Red bars: failed jobs; see "
                "the table above.",
                [
                    Q(
                        "sum by (action, result) "
                        f"(increase({sel('cfha_remediation_jobs_total')}[$__rate_interval]))",
                        "{{action}} {{result}}",
                    )
                ],
                bars=True,
                stacked=True,
                w=12,
            ),
            timeseries_panel(
                "Alerts received and webhook answers",
                "Alerts the remediators took in, by decision, and webhook answers by HTTP "
                "status. 401: Alertmanager's token is wrong; 400/413/415: Alertmanager sends "
                "something the remediator does not accept; 503: the remediator is shutting down "
                "or its journal is unavailable.",
                [
                    Q(
                        "sum by (decision) "
                        f"(increase({sel('cfha_remediation_alerts_total')}[$__rate_interval]))",
                        "alerts {{decision}}",
                    ),
                    Q(
                        "sum by (code) "
                        f"(increase({sel('cfha_remediation_webhook_requests_total')}"
                        "[$__rate_interval]))",
                        "HTTP {{code}}",
                    ),
                ],
                bars=True,
                w=12,
            ),
        ),
    )


def outcomes() -> Section:
    return Section(
        "Circuits and last success",
        (
            table_panel(
                "Circuits",
                "Each (action, target) that ever ran, with its circuit breaker. Red OPEN: the "
                "remediator stopped trying; reset it with `cfha-remediator circuit reset ACTION "
                "TARGET` once the cause is fixed (runbook CfHaRemediationCircuitOpen).",
                [Q(either("cfha_remediation_circuit_open", ("action", "target")))],
                transformations=[
                    organize({"action": "Action", "target": "Target", "Value": "Circuit"})
                ],
                columns=[Column("Circuit", mappings=[flag_map(("OPEN", BAD), ("closed", OK))])],
                no_value="no action ran yet",
                w=12,
                h=6,
            ),
            table_panel(
                "Last success per action",
                "When each action last succeeded on either hub. An action missing here never "
                "succeeded. Recent successes of the same action are repeated failures that "
                "heal each time: find the cause (e.g. a standby that keeps losing its "
                "replication).",
                [Q(as_ms(either("cfha_remediation_last_success_timestamp_seconds", ("action",))))],
                transformations=[organize({"action": "Action", "Value": "Last success"})],
                columns=[Column("Last success", unit="dateTimeFromNow")],
                no_value="no success yet",
                w=12,
                h=6,
            ),
        ),
    )


def build() -> dash.Dashboard:
    return assemble(
        uid=UID,
        title="cfha / Remediation",
        description="What cfha-remediator did, refused and why, its circuits and kill switch.",
        sections=[state(), jobs(), outcomes()],
    )
