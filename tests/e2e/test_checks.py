"""The e2e verdicts and report on hand-made observations, and the lab stack's configuration
(no lab needed): each check must catch what it is there for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lab.loopback import free_port
from lab.pglayout import for_major
from lab.product import stackconfig
from remediator.policy import load_policy
from tests.e2e import checks, report
from tests.e2e.matrix import MATRIX, SCENARIOS, remediable
from tests.e2e.observe import Seen, Timeline

ROLES = {"T": "hub2", "O": "hub1"}
CLEANUP = ["crm_resource", "--cleanup", "--resource", "cfpgsql", "--node"]
REPO = Path(__file__).resolve().parents[2]


def step(name: str, argv: list[str], runs_on: str, *, destructive: bool = True, at: float = 100):
    return {
        "name": name,
        "argv": argv,
        "runs_on": runs_on,
        "destructive": int(destructive),
        "started_at": at,
        "outcome": "ok",
        "duration": 1.0,
    }


def a_job(action: str, target: str, state: str, hub: str = "hub2", **kw: Any) -> dict[str, Any]:
    return {"id": f"{action}-{target}-{state}", "action": action, "target": target,
            "state": state, "hub": hub, "refused_by": None, "steps": [], **kw}  # fmt: skip


def test_the_matrix_covers_the_issue() -> None:
    assert [s.name for s in MATRIX] == [
        *("stop-standby", "wipe-standby", "kill-primary", "diverge", "fail-monitor", "ban"),
        *("maintenance", "two-primaries", "stop-node"),
        # issue 20: above the database (one scenario for the four file faults of the passive hub)
        *("passive-hub-files", "cf-hub-both", "freeze-cf-hub", "inventory-wrong"),
        "archive-filling",
        # issue 16: diagnose before cure
        *("replication-auth-rejected", "replication-password-changed"),
        *("primary-unreachable-from-standby", "wal-removed", "replay-paused"),
    ]
    for scenario in MATRIX[9:14]:  # none of these is a database action: no job at all
        assert not scenario.jobs and not scenario.tolerated_jobs and not scenario.gated
    for name, cause in (
        ("replication-auth-rejected", "auth_rejected"),
        ("replication-password-changed", "auth_rejected"),
        ("primary-unreachable-from-standby", "primary_unreachable"),
        ("replay-paused", "replay_paused"),
    ):  # a cause no re-sync cures: no job, no request, the standby never stopped
        s = SCENARIOS[name]
        assert s.cause == cause and not s.jobs and not s.tolerated_jobs and not s.heals
        assert all(a.muted for a in s.alerts if a.route == "remediator")
    wal = SCENARIOS["wal-removed"]
    assert wal.cause == "wal_removed" and [j.action for j in wal.jobs] == ["resync_standby"]
    two = SCENARIOS["two-primaries"]
    assert any(a.alertname == "CfHaTwoWritableDatabases" and "cfha-pager" in a.receivers
               for a in two.alerts)  # fmt: skip
    assert two.gated and two.direct_request and not two.jobs
    for scenario in MATRIX:  # a gate mutes the requests only: the humans get their copy
        for spec in scenario.alerts:
            assert not (
                spec.muted and spec.route == "" and scenario.direct_request == spec.alertname
            )


def test_remediable_alerts_are_two_copies() -> None:
    human, request = remediable("CfHaFailCountAtThreshold", "T", "cfha-ticket", gated=True)
    assert (human.receivers, human.route, human.muted) == (frozenset({"cfha-ticket"}), "", False)
    assert (request.receivers, request.route, request.muted) == (frozenset(), "remediator", True)
    _, open_request = remediable("CfHaFailCountAtThreshold", "T", "cfha-ticket")
    assert open_request.receivers == {"cfha-remediator"}


def test_unexpected_and_missing_alerts() -> None:
    s = SCENARIOS["stop-standby"]
    seen = {("CfHaPgDown", "hub2", ""), ("CfHaWatchdog", "", ""), ("CfHaConfigChanged", "", "")}
    assert checks.unexpected_alerts(seen, s, ROLES) == []
    extra = {("CfHaPgDown", "hub1", ""), ("CfHaPgDown", "hub2", "remediator")}
    assert checks.unexpected_alerts(seen | extra, s, ROLES) == [
        "unexpected alert CfHaPgDown hub1",
        "unexpected alert CfHaPgDown hub2 (request)",
    ]
    missing = checks.missing_alerts(seen, set(), s, ROLES)
    assert "CfHaFailCountAtThreshold hub2 never reached Alertmanager" in missing
    assert "CfHaFailCountAtThreshold hub2 (request) never reached Alertmanager" in missing
    gated = SCENARIOS["two-primaries"]
    reached = {("CfHaPgStandbyNotStreaming", "hub2", "remediator")}
    assert "CfHaPgStandbyNotStreaming hub2 (request) was not muted in Alertmanager" in (
        checks.missing_alerts(reached, set(), gated, ROLES)
    )


def test_deliveries() -> None:
    s = SCENARIOS["maintenance"]
    got = {
        ("cfha-ticket", "CfHaPgDown", "hub2", "", "firing"): 20.0,
        ("cfha-ticket", "CfHaMaintenanceMode", "", "", "firing"): 25.0,
        ("cfha-ticket", "CfHaFailCountAtThreshold", "hub2", "", "firing"): 40.0,
        ("cfha-remediator", "CfHaFailCountAtThreshold", "hub2", "remediator", "firing"): 50.0,
        ("cfha-heartbeat", "CfHaWatchdog", "", "", "firing"): 1.0,
    }
    missing = checks.missing_deliveries(got, s, ROLES)
    assert ("cfha-ticket", "CfHaDegraded", "", "", "firing") in missing
    assert ("cfha-pager", "CfHaPgStandbyNotStreaming", "hub2", "", "firing") in missing
    assert checks.delivery_problems(got, s, ROLES, fault_end=60.0) == [
        "CfHaFailCountAtThreshold hub2 (request) reached cfha-remediator while it was to be muted"
    ]
    assert checks.delivery_problems(got, s, ROLES, fault_end=45.0) == []
    wrong = {
        ("cfha-pager", "CfHaPgDown", "hub2", "", "firing"): 5.0,
        ("cfha-remediator", "CfHaPgDown", "hub2", "", "firing"): 6.0,
        ("cfha-ticket", "CfHaFailCountAtThreshold", "hub2", "remediator", "firing"): 7.0,
        ("cfha-ticket", "CfHaPgDown", "hub1", "", "resolved"): 8.0,  # a late resolution: fine
    }
    assert checks.delivery_problems(wrong, s, ROLES, 0) == [
        "CfHaPgDown hub2 delivered to cfha-pager, not allowed",
        "CfHaPgDown hub2 delivered to cfha-remediator, not allowed",
        "CfHaFailCountAtThreshold hub2 (request) delivered to cfha-ticket, not allowed",
    ]
    assert checks.unresolved(got) == [
        ("cfha-remediator", "CfHaFailCountAtThreshold", "hub2", "remediator", "firing"),
        ("cfha-ticket", "CfHaFailCountAtThreshold", "hub2", "", "firing"),
        ("cfha-ticket", "CfHaMaintenanceMode", "", "", "firing"),
        ("cfha-ticket", "CfHaPgDown", "hub2", "", "firing"),
    ]


def test_jobs_against_the_design() -> None:
    s = SCENARIOS["wipe-standby"]
    refused = a_job("resource_cleanup", "cfpgsql@hub2", "refused", refused_by="cause_gone")
    resync = a_job("resync_standby", "hub2", "succeeded")
    assert checks.job_problems([refused, resync], s, ROLES) == []
    assert checks.job_problems([resync], s, ROLES) == [
        "missing job: resource_cleanup cfpgsql@hub2 refused"
    ]
    other_hub = a_job("resync_standby", "hub2", "succeeded", hub="hub1")
    assert checks.job_problems([refused, resync, other_hub], s, ROLES) == [
        "job not in the design: hub1: resync_standby hub2 succeeded"
    ]
    ban = SCENARIOS["ban"]
    target = "cli-ban-mscfpgsql-on-hub2"
    both = [
        a_job("clear_cli_constraints", target, "succeeded", hub="hub1"),
        a_job("clear_cli_constraints", target, "refused", hub="hub2", refused_by="nothing_to_do"),
    ]
    assert checks.job_problems(both, ban, ROLES) == []
    # the alert resolved while the second hub waited for the lock: its job is cancelled, not run
    cancelled = [both[0], a_job("clear_cli_constraints", target, "cancelled", hub="hub2")]
    assert checks.job_problems(cancelled, ban, ROLES) == []
    # a cancellation the design does not allow is not in the design
    cleanup_cancelled = a_job("resource_cleanup", "cfpgsql@hub2", "cancelled")
    assert checks.job_problems([refused, resync, cleanup_cancelled], s, ROLES) == [
        "job not in the design: hub2: resource_cleanup cfpgsql@hub2 cancelled"
    ]
    # a late re-sync request (tolerated, refused) may be cancelled unrun when its page resolves
    stop = SCENARIOS["stop-standby"]
    cleanup = a_job("resource_cleanup", "cfpgsql@hub2", "succeeded")
    late = a_job("resync_standby", "hub2", "cancelled")
    assert checks.job_problems([cleanup, late], stop, ROLES) == []
    # a refusal for another reason is still wrong
    locked_out = a_job("clear_cli_constraints", target, "refused", hub="hub2", refused_by="guard")
    assert checks.job_problems([both[0], locked_out], ban, ROLES) == [
        "job not in the design: hub2: clear_cli_constraints cli-ban-mscfpgsql-on-hub2 refused "
        "(guard)",
        "missing job: clear_cli_constraints cli-ban-mscfpgsql-on-hub2 refused",
    ]


def test_forbidden_actions() -> None:
    resync_primary = a_job(
        "resync_standby",
        "hub1",
        "succeeded",
        hub="hub1",
        steps=[step("basebackup", ["pg_basebackup", "-D", "/x"], "hub1")],
    )
    problems = checks.forbidden_actions(
        [resync_primary], primary="hub1", gated_until=None, destructive_allowed=True
    )
    assert "a re-sync of the primary" in problems[0]
    assert any("runs on the primary's hub" in p for p in problems)
    refused = a_job(
        "resync_standby", "hub1", "refused", hub="hub1", refused_by="target_not_primary"
    )
    assert (
        checks.forbidden_actions(
            [refused], primary="hub1", gated_until=0.0, destructive_allowed=False
        )
        == []
    )
    cleanup_primary = a_job(
        "resource_cleanup",
        "cfpgsql@hub1",
        "succeeded",
        steps=[step("cleanup", [*CLEANUP, "hub1"], "hub2")],
    )
    assert checks.forbidden_actions(
        [cleanup_primary], primary="hub1", gated_until=None, destructive_allowed=True
    ) == [
        "hub2: resource_cleanup cfpgsql@hub1 succeeded: step cleanup crm_resource --cleanup "
        "--resource cfpgsql --node hub1: acts on the primary"
    ]
    pcs_style = a_job(
        "resource_cleanup",
        "cfpgsql@hub1",
        "succeeded",
        steps=[step("cleanup", ["pcs", "resource", "cleanup", "cfpgsql", "node=hub1"], "hub2")],
    )
    assert checks.forbidden_actions(
        [pcs_style], primary="hub1", gated_until=None, destructive_allowed=True
    )
    cleanup = a_job(
        "resource_cleanup",
        "cfpgsql@hub2",
        "succeeded",
        steps=[step("cleanup", [*CLEANUP, "hub2"], "hub2")],
    )
    assert (
        checks.forbidden_actions(
            [cleanup], primary="hub1", gated_until=None, destructive_allowed=True
        )
        == []
    )
    assert (
        "executed while the gate was closed"
        in checks.forbidden_actions(
            [cleanup], primary="hub1", gated_until=150.0, destructive_allowed=True
        )[0]
    )
    assert (
        "destructive"
        in checks.forbidden_actions(
            [cleanup], primary="hub1", gated_until=None, destructive_allowed=False
        )[0]
    )


def test_timeline_streaming_and_health() -> None:
    t = Timeline(start=0)
    t.streaming = [(1, frozenset({"hub2"})), (2, frozenset()), (5, frozenset()),
                   (9, frozenset({"hub2"}))]  # fmt: skip
    assert t.streaming_again("hub2", 0) == 9
    assert t.streaming_again("hub1", 0) is None
    t.health = [(1, True), (2, False), (4, True), (6, False), (8, True), (9, True)]
    assert t.healthy_again(0) == 8


def test_postgres_programs_are_read_from_executed_steps() -> None:
    as_user = ["setpriv", "--reuid=105", "--", "env", "USER=postgres"]
    resync = a_job("resync_standby", "hub2", "succeeded", steps=[
        step("controldata", [*as_user, "/var/cfengine/bin/pg_controldata", "/d"], "hub2"),
        step("rewind_dry_run", [*as_user, "/var/cfengine/bin/pg_rewind", "-n"], "hub2"),
        step("basebackup", [*as_user, "/usr/lib/postgresql/15/bin/pg_basebackup", "-U",
                            "postgres"], "hub2"),
        {**step("start", ["/var/cfengine/bin/pg_ctl"], "hub2"), "started_at": None},  # skipped
    ])  # fmt: skip
    programs = checks.postgres_programs([resync])
    assert programs == [
        "/usr/lib/postgresql/15/bin/pg_basebackup",
        "/var/cfengine/bin/pg_controldata",
        "/var/cfengine/bin/pg_rewind",
    ]
    assert checks.foreign_postgres_programs(programs, Path("/var/cfengine/bin")) == [
        "ran /usr/lib/postgresql/15/bin/pg_basebackup, not the lab's PostgreSQL (/var/cfengine/bin)"
    ]
    assert checks.foreign_postgres_programs(programs[1:], Path("/var/cfengine/bin")) == []


def test_report_files(tmp_path: Path) -> None:
    s = SCENARIOS["stop-standby"]
    t = Timeline(start=0)
    t.firing[("CfHaPgDown", "hub2", "")] = Seen(117.0, 140.0)
    t.streaming = [(101, frozenset()), (145, frozenset({"hub2"}))]
    t.health = [(146, True)]
    got = {
        ("cfha-ticket", "CfHaPgDown", "hub2", "", "firing"): 118.0,
        ("cfha-ticket", "CfHaPgDown", "hub2", "", "resolved"): 160.0,
    }
    start = step("start", ["/var/cfengine/bin/pg_ctl"], "hub2", at=142.0)
    cleanup = a_job("resource_cleanup", "cfpgsql@hub2", "succeeded", started_at=140.0,
                    finished_at=145.5, alertname="CfHaFailCountAtThreshold", created_at=139.0,
                    steps=[step("cleanup", ["crm_resource"], "hub2", at=141.0), start])  # fmt: skip
    r = report.ScenarioRecord(name=s.name, fault_at=100.0, resolved_at=170.0, target="hub2")
    report.summarise(r, scenario=s, roles=ROLES, t=t, got=got, jobs=[cleanup], direct_ids=set())
    assert (r.detect_seconds, r.remediate_seconds, r.streaming_seconds) == (18.0, 5.5, 45.0)
    assert (r.healthy_seconds, r.recover_seconds, r.standby_goal_met) == (46.0, 70.0, True)
    assert r.first_notification == "CfHaPgDown hub2 -> cfha-ticket"
    json_path, md_path = report.write([r], tmp_path, started=0.0, pg=for_major(18, "18.6"))
    assert json_path.name == "e2e-report-pg18.json"
    data = json.loads(json_path.read_text())
    assert data["scenarios"][0]["passed"] is True
    assert data["meta"]["postgres_major"] == 18
    text = md_path.read_text()
    assert "| stop-standby | hub2 | 18.0 | 5.5 | 45.0 | 46.0 | 70.0 |" in text
    assert "ran PostgreSQL 18.6 (CFEngine's layout, /var/cfengine/bin)" in text
    assert "PostgreSQL programs run: /var/cfengine/bin/pg_ctl." in text


def test_lab_policy_shortens_waits_only() -> None:
    shipped = load_policy(None).model_dump(mode="json")
    lab = stackconfig.lab_policy()
    for before, after in zip(shipped["rules"], lab["rules"], strict=True):
        assert after["cooldown_seconds"] == 0
        assert after["attempts"] == before["attempts"]
        assert after["circuit_failures"] == before["circuit_failures"]
        assert after["dry_run"] is False
    load_policy_from = yaml.safe_dump(lab)
    assert "resync_standby" in load_policy_from


def test_alertmanager_config_for_the_lab() -> None:
    example = yaml.safe_load((REPO / "alerts" / "alertmanager.example.yml").read_text())
    token = Path("/tmp/token")
    urls = {"hub1": "http://127.0.0.1:1/webhook", "hub2": "http://127.0.0.1:2/webhook"}
    sink = f"http://127.0.0.1:{free_port()}"
    config = stackconfig.alertmanager_config(example, sink, urls, token)
    receivers = {r["name"]: r for r in config["receivers"]}
    hooks = [h["url"] for h in receivers["cfha-remediator"]["webhook_configs"]]
    assert hooks == [f"{sink}/cfha-remediator", *urls.values()]
    for hook in receivers["cfha-remediator"]["webhook_configs"][1:]:
        assert hook["http_config"]["authorization"]["credentials_file"] == str(token)
        assert hook["send_resolved"] is True
    assert receivers["cfha-pager"]["webhook_configs"][0]["url"] == f"{sink}/cfha-pager"
    sources = [r["source_matchers"] for r in config["inhibit_rules"]]
    assert ['alertname="CfHaFencingDisabled"'] not in sources
    assert len(sources) == len(example["inhibit_rules"]) - 1
    assert config["route"]["routes"] is not example["route"]["routes"]


def test_scrape_configs_follow_the_contract() -> None:
    jobs = stackconfig.scrape_configs({"hub1": "127.0.0.1:1"}, {"hub1": "127.0.0.1:2"})
    assert [j["job_name"] for j in jobs] == ["cfha", "cfha-remediator"]
    for job in jobs:
        assert job["honor_labels"] is True
        assert job["static_configs"][0]["labels"] == {"cluster": "cfcluster", "node": "hub1"}
