"""HA overview: is the pair healthy, and if not, why; who is primary by every source; replication;
PGSQL.lock; failovers; the alerts that fire."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.fields import (
    BAD,
    INFO,
    MUTED,
    OK,
    WARN,
    Column,
    flag_map,
    matrix,
    merge,
    nan_map,
    organize,
    state_map,
    value_map,
)
from dashboards.kit import (
    Q,
    Section,
    assemble,
    stat_panel,
    state_timeline_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.queries import as_ms, dc_view, either, is_one, per_hub, sel, tagged
from exporter.collectors.verdict_reasons import REASONS

UID = "cfha-ha-overview"
MIB = 1024 * 1024
VERDICT = value_map({"0": ("OK", OK), "1": ("DEGRADED", BAD)})


def verdict() -> Section:
    reasons = value_map({r.code: (f"{r.sentence} ({r.code})", BAD) for r in REASONS})
    return Section(
        "Verdict",
        (
            stat_panel(
                "HA verdict",
                "The worse of the two hubs' verdicts (cfha_ha_degraded). DEGRADED: read the "
                "reasons beside it; each reason has an alert and a runbook in alerts/runbooks/. "
                "No value: no exporter answers, check that cfha-exporter runs on both hubs.",
                [Q(f"max by (cluster) ({sel('cfha_ha_degraded')})", "cluster")],
                mappings=[VERDICT],
                steps=((None, OK), (1, BAD)),
                no_value="unknown",
                w=4,
                h=6,
            ),
            stat_panel(
                "Verdict per hub",
                "Each hub's own verdict from what it can see. The hubs disagree when one of them "
                "cannot see part of the cluster: the reasons table and 'Exporter collectors' on "
                "the hub reporting dashboard say what it misses.",
                [Q(per_hub("cfha_ha_degraded"), "{{node}}")],
                mappings=[VERDICT],
                steps=((None, OK), (1, BAD)),
                no_value="unknown",
                w=4,
                h=6,
            ),
            table_panel(
                "Reasons the pair is degraded",
                "The verdict's reasons that hold now on either hub (red), or whose inputs are "
                "unknown (orange: a collector failed). Empty when the pair is healthy. Act on the "
                "first one that explains the others: docs/verdict.md lists the inputs of each, "
                "the alert of the same name links its runbook.",
                [Q(f"{either('cfha_ha_degraded_reason', ('reason',))} != 0")],
                transformations=[organize({"reason": "Reason", "Value": "State"})],
                columns=[
                    Column("Reason", mappings=[reasons]),
                    Column(
                        "State",
                        mappings=[value_map({"1": ("holds", BAD)}), nan_map("unknown", WARN)],
                        width=100,
                    ),
                ],
                no_value="none: the pair is healthy",
                w=16,
                h=6,
            ),
        ),
    )


def hubs() -> Section:
    role = state_map(
        "cfha_ha_hub_role",
        {"active": ("active", INFO), "passive": ("passive", OK), "unknown": ("unknown", BAD)},
    )
    primary_sources = " or ".join(
        (
            tagged(dc_view("cfha_pacemaker_database_promoted", ("node",)), "source", "1 promoted"),
            tagged(
                dc_view("cfha_pgsql_status", ("node",), state="PRI"), "source", "2 agent says PRI"
            ),
            tagged(per_hub("cfha_pg_role", state="primary"), "source", "3 database writable"),
            tagged(dc_view("cfha_pacemaker_vip_active", ("node",)), "source", "4 VIP"),
            tagged(per_hub("cfha_cfengine_master_hub_is_local"), "source", "5 master_hub.dat"),
        )
    )
    return Section(
        "Hubs",
        (
            table_panel(
                "Hubs: role and state as of",
                "Each HA hub's role (active runs the primary database, passive a hot standby) "
                "and its 'state as of': its own last report in cfdb, as Mission Portal shows it. "
                "Red 'unknown': pacemaker's pgsql agent says the database there is stopped or "
                "unknown; see 'Where the primary is'. A state as of older than 15 minutes means "
                "the hub does not report to itself: see the hub reporting dashboard.",
                [
                    Q(is_one(dc_view("cfha_ha_hub_role", ("node", "state")))),
                    Q(as_ms(either("cfha_hub_member_last_report_timestamp_seconds", ("node",)))),
                ],
                transformations=[
                    merge(),
                    organize(
                        {"node": "Hub", "state": "Role", "Value #B": "State as of"},
                        hide=("Time", "Value #A"),
                    ),
                ],
                columns=[
                    Column("Role", mappings=[role]),
                    Column("State as of", unit="dateTimeFromNow"),
                ],
                w=10,
                h=6,
            ),
            table_panel(
                "Where the primary is",
                "Which hub each source names as the primary: pacemaker's promoted instance (the "
                "DC's view), the pgsql agent's status attribute, the database itself (writable, "
                "from each hub's own PostgreSQL), the floating IP, and CFEngine's master_hub.dat. "
                "Healthy: every column marks the same hub. A column marking no hub or both hubs, "
                "or two columns that disagree, is a failover in progress or a split: see the "
                "alerts CfHaPrimaryMismatch and CfHaTwoWritableDatabases.",
                [Q(primary_sources)],
                transformations=[matrix("node", "source")],
                mappings=[flag_map(("● here", INFO), ("-", MUTED))],
                w=14,
                h=6,
            ),
        ),
    )


def replication() -> Section:
    sender = state_map(
        "cfha_pg_standby_state",
        {
            "streaming": ("streaming", OK),
            "catchup": ("catching up", WARN),
            "startup": ("starting", WARN),
            "backup": ("base backup", WARN),
            "stopping": ("stopping", WARN),
            "disconnected": ("DISCONNECTED", BAD),
        },
    )
    receiver = state_map(
        "cfha_pg_wal_receiver_status",
        {
            "streaming": ("streaming", OK),
            "starting": ("starting", WARN),
            "waiting": ("waiting", WARN),
            "restarting": ("restarting", WARN),
            "stopping": ("stopping", WARN),
            "stopped": ("STOPPED", BAD),
            "absent": ("ABSENT", BAD),
        },
    )
    return Section(
        "Replication",
        (
            timeseries_panel(
                "Replication lag (bytes)",
                "WAL the standby has not yet written, flushed or replayed (the primary's view), "
                "and WAL the standby received but has not replayed (its own view). Red above "
                "64 MiB, the verdict's default limit: look for a long query on the standby, "
                "disk or network saturation; a standby that never catches up needs a re-sync "
                "(runbook CfHaPgReplicationLagBytes). No line: the standby is not connected.",
                [
                    Q(
                        per_hub("cfha_pg_standby_lag_bytes", ("standby", "stage")),
                        "{{standby}} {{stage}}",
                    ),
                    Q(per_hub("cfha_pg_replay_pending_bytes"), "{{node}} received, not replayed"),
                ],
                unit="bytes",
                steps=((None, OK), (16 * MIB, WARN), (64 * MIB, BAD)),
                w=9,
            ),
            timeseries_panel(
                "Replication lag (seconds)",
                "How far the standby is behind in time, per stage (primary's view) and for replay "
                "(standby's view; 0 when everything received is replayed). Red above 60 s, the "
                "verdict's default limit: act as for the byte lag (runbook "
                "CfHaPgReplicationLagSeconds). No line: unknown (not streaming), never 0.",
                [
                    Q(
                        per_hub("cfha_pg_standby_lag_seconds", ("standby", "stage")),
                        "{{standby}} {{stage}}",
                    ),
                    Q(per_hub("cfha_pg_replay_lag_seconds"), "{{node}} replay"),
                ],
                unit="s",
                steps=((None, OK), (30, WARN), (60, BAD)),
                w=9,
            ),
            stat_panel(
                "Streaming standbys",
                "Standbys streaming from the primary (shown under the primary's name). Red at 0: "
                "the passive hub receives no changes and a failover would lose data. Check the "
                "WAL tables below and the standby's PostgreSQL; runbook CfHaPgStandbyNotStreaming.",
                [Q(per_hub("cfha_pg_streaming_standbys"), "{{node}}")],
                steps=((None, BAD), (1, OK)),
                no_value="no primary",
                w=6,
                h=8,
            ),
            table_panel(
                "WAL senders (the primary's view)",
                "Each expected standby as the primary sees it. Red DISCONNECTED: the standby is "
                "not connected; see the standby's PostgreSQL (runbook CfHaPgStandbyNotStreaming).",
                [Q(is_one(per_hub("cfha_pg_standby_state", ("node", "standby", "state"))))],
                transformations=[
                    organize(
                        {"node": "Primary", "standby": "Standby", "state": "WAL sender"},
                        hide=("Time", "Value"),
                    ),
                ],
                columns=[Column("WAL sender", mappings=[sender])],
                w=12,
                h=5,
            ),
            table_panel(
                "WAL receivers (the standby's view)",
                "The standby's WAL receiver. Red ABSENT or STOPPED: the standby is not connected "
                "to any primary; check primary_conninfo and the primary's pg_hba.conf, or "
                "re-sync (runbook CfHaPgStandbyNotStreaming). Empty: no standby is running.",
                [Q(is_one(per_hub("cfha_pg_wal_receiver_status", ("node", "state"))))],
                transformations=[
                    organize({"node": "Standby", "state": "WAL receiver"}, hide=("Time", "Value")),
                ],
                columns=[Column("WAL receiver", mappings=[receiver])],
                w=12,
                h=5,
            ),
        ),
    )


def failover() -> Section:
    promoted_by_node = per_hub("cfha_pacemaker_database_promoted")
    lock = (
        f"{per_hub('cfha_pgsql_lock_present')} * on (node) "
        f"(2 - {dc_view('cfha_pacemaker_database_promoted', ('node',))})"
    )
    return Section(
        "PGSQL.lock and failovers",
        (
            stat_panel(
                "PGSQL.lock",
                "The pgsql agent's lock file on each hub. The primary has its own. Red STALE: a "
                "hub that is not primary has one (a primary that did not stop cleanly); the agent "
                "will not start PostgreSQL there until it is re-synced and the lock removed "
                "(runbook CfHaPgsqlLockStale; the remediator's resync_standby does both).",
                [Q(lock, "{{node}}")],
                mappings=[
                    value_map(
                        {"0": ("no lock", OK), "1": ("primary's lock", OK), "2": ("STALE", BAD)}
                    )
                ],
                steps=((None, OK), (2, BAD)),
                w=6,
                h=6,
            ),
            stat_panel(
                "Promotions in the time range",
                "How often the database was promoted on some hub in the dashboard's time range "
                "(each failover is one). Orange at 1 or more: find out why the old primary "
                "failed (pacemaker dashboard: failed actions) and re-sync it before it can be a "
                "standby again (runbook CfHaPgFailoverHappened).",
                [Q(f"sum(changes(({promoted_by_node})[$__range:])) / 2", "promotions")],
                steps=((None, OK), (1, WARN)),
                decimals=0,
                w=4,
                h=6,
            ),
            state_timeline_panel(
                "Promoted database over time",
                "Where pacemaker had the database promoted (the DC's view). A move from one hub "
                "to the other is a failover; a gap is a time without a primary (red alerts "
                "CfHaNoPromotedPostgres).",
                [Q(dc_view("cfha_pacemaker_database_promoted", ("node",)), "{{node}}")],
                mappings=[flag_map(("primary", INFO), ("-", "transparent"))],
                w=14,
                h=6,
            ),
        ),
    )


def alerts() -> Section:
    severity = value_map(
        {"critical": ("critical", BAD), "warning": ("warning", WARN), "info": ("info", INFO)}
    )
    state = value_map({"firing": ("firing", BAD), "pending": ("pending", WARN)})
    active_alerts = sel("ALERTS", 'alertname!="CfHaWatchdog"')
    return Section(
        "Alerts",
        (
            table_panel(
                "Active alerts",
                "The cfha alerts Prometheus evaluates for this cluster, firing (red) or pending "
                "(orange: the condition holds, its 'for' has not passed yet), without the "
                "always-firing CfHaWatchdog. Each alert's runbook (alerts/runbooks/<alertname>.md) "
                "says what to do. Empty: nothing is wrong, or the rules are not loaded into this "
                "Prometheus (then CfHaWatchdog is missing too).",
                [Q(f"max by (alertname, alertstate, severity, node) ({active_alerts})")],
                transformations=[
                    organize(
                        {
                            "alertname": "Alert",
                            "severity": "Severity",
                            "alertstate": "State",
                            "node": "Node",
                        },
                        hide=("Time", "Value"),
                    ),
                ],
                columns=[
                    Column("Severity", mappings=[severity], width=110),
                    Column("State", mappings=[state], width=110),
                ],
                no_value="no alert",
                w=24,
                h=8,
            ),
        ),
    )


def build() -> dash.Dashboard:
    return assemble(
        uid=UID,
        title="cfha / HA overview",
        description="CFEngine Enterprise HA: verdict, roles, replication, failovers, alerts.",
        sections=[verdict(), hubs(), replication(), failover(), alerts()],
    )
