"""Pacemaker & corosync: quorum, nodes, resources and roles, fail counts against thresholds,
failed actions, constraints and bans, membership, links and votes."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.common import BigValueTextMode

from dashboards import corosync
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
    organize,
    state_map,
    value_map,
)
from dashboards.kit import Q, Section, assemble, stat_panel, table_panel
from dashboards.queries import as_ms, both, dc_view, either, is_one, per_hub

UID = "cfha-pacemaker"
INFINITY = (
    1_000_000  # scores are clamped to +-1e6 for display, as ha_cluster_exporter's dashboards do
)
# OCF exit codes a failed action can record (ocf-shellfuncs / Pacemaker Explained).
OCF_EXIT = value_map(
    {
        "1": ("1 generic error", BAD),
        "2": ("2 invalid argument", BAD),
        "3": ("3 unimplemented", BAD),
        "4": ("4 insufficient privileges", BAD),
        "5": ("5 not installed", BAD),
        "6": ("6 not configured", BAD),
        "7": ("7 not running", BAD),
        "8": ("8 running promoted", WARN),
        "9": ("9 failed promoted", BAD),
        "190": ("190 degraded", WARN),
        "191": ("191 degraded promoted", WARN),
    }
)
YES_NO = flag_map(("yes", INFO), ("no", MUTED))


def cluster() -> Section:
    quorate = flag_map(("quorate", OK), ("NO QUORUM", BAD))
    return Section(
        "Cluster",
        (
            stat_panel(
                "Quorum",
                "Whether the DC's partition has quorum (pacemaker, both hubs must agree) and "
                "whether each hub's corosync partition has it. Red: the partition stops or "
                "freezes resources (no-quorum-policy); check the corosync links below and that "
                "both nodes run corosync (runbook CfHaQuorumLost).",
                [
                    Q(both("cfha_pacemaker_quorate", ("cluster",)), "pacemaker"),
                    Q(per_hub("cfha_corosync_quorate"), "corosync {{node}}"),
                ],
                mappings=[quorate],
                steps=((None, BAD), (1, OK)),
                no_value="no DC",
                w=6,
                h=5,
            ),
            stat_panel(
                "Designated controller",
                "The hub that is pacemaker's DC. Two tiles: two DCs, a split brain, each "
                "partition elected its own (check the corosync links). No value: no DC anywhere, "
                "pacemaker is down or still electing (runbook CfHaClusterStackDown).",
                [Q(is_one(either("cfha_pacemaker_local_is_dc", ("node",))), "{{node}}")],
                text=BigValueTextMode.NAME,
                steps=((None, INFO),),
                no_value="no DC",
                w=4,
                h=5,
            ),
            stat_panel(
                "Cluster options",
                "Red maintenance-mode or stop-all-resources: pacemaker manages nothing, so there "
                "is no failover; turn it off after the intervention (runbook CfHaMaintenanceMode). "
                "Orange fencing disabled: pacemaker cannot recover an UNCLEAN node and the "
                "remediator refuses destructive actions (runbook CfHaFencingDisabled).",
                [
                    Q(either("cfha_pacemaker_maintenance_mode", ("cluster",)), "maintenance-mode"),
                    Q(
                        either("cfha_pacemaker_stop_all_resources", ("cluster",)),
                        "stop-all-resources",
                    ),
                    Q(both("cfha_pacemaker_fencing_enabled", ("cluster",)), "fencing"),
                ],
                columns=[
                    Column("maintenance-mode", mappings=[flag_map(("ON", BAD), ("off", OK))]),
                    Column("stop-all-resources", mappings=[flag_map(("ON", BAD), ("off", OK))]),
                    Column("fencing", mappings=[flag_map(("enabled", OK), ("DISABLED", WARN))]),
                ],
                text=BigValueTextMode.VALUE_AND_NAME,
                w=6,
                h=5,
            ),
            stat_panel(
                "Failed actions",
                "Failed resource actions pacemaker keeps in its history (either hub's view). "
                "Red: they keep the resource away from that node until cleaned up; find the "
                "cause in the table below, then `pcs resource cleanup` (the remediator's "
                "resource_cleanup does it for CfHaFailCountAtThreshold).",
                [Q(either("cfha_pacemaker_failed_actions", ("cluster",)), "failed actions")],
                steps=((None, OK), (1, BAD)),
                w=4,
                h=5,
            ),
            stat_panel(
                "Leftover move/ban constraints",
                "cli-ban / cli-prefer constraints left by `pcs resource ban/move` or "
                "crm_resource. Orange: they pin resources and can prevent a failover; remove "
                "them with `pcs resource clear` once the intervention is over (runbook "
                "CfHaLeftoverCliConstraint; the remediator's clear_cli_constraints).",
                [Q(either("cfha_pacemaker_cli_constraints", ("kind",)), "{{kind}}")],
                steps=((None, OK), (1, WARN)),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=4,
                h=5,
            ),
        ),
    )


def nodes() -> Section:
    online = flag_map(("yes", OK), ("NO", BAD))
    bad_when_set = flag_map(("YES", BAD), ("no", MUTED))
    warn_when_set = flag_map(("YES", WARN), ("no", MUTED))
    return Section(
        "Nodes",
        (
            table_panel(
                "Nodes",
                "Each node's flags as the DC sees them. Red: online NO (the node is down: no "
                "failover target; runbook CfHaNodeOffline), unclean YES (pacemaker will not run "
                "anything it had until it is fenced; runbook CfHaNodeUnclean). Orange: standby or "
                "maintenance left on after an intervention (`pcs node unstandby` / "
                "`pcs node unmaintenance`).",
                [Q(dc_view("cfha_pacemaker_node_state", ("node", "state")))],
                transformations=[matrix("node", "state"), organize({"node\\state": "Node"})],
                mappings=[YES_NO],
                columns=[
                    Column("online", mappings=[online]),
                    Column("unclean", mappings=[bad_when_set]),
                    Column("pending", mappings=[warn_when_set]),
                    Column("standby", mappings=[warn_when_set]),
                    Column("standby_onfail", mappings=[bad_when_set]),
                    Column("maintenance", mappings=[warn_when_set]),
                ],
                w=14,
                h=6,
            ),
            stat_panel(
                "Online nodes",
                "Nodes online in the DC's partition against nodes configured. Red below 2: the "
                "pair has no failover target; see the Nodes table.",
                [
                    Q(
                        f"sum({dc_view('cfha_pacemaker_node_state', ('node',), state='online')})",
                        "online",
                    ),
                    Q(either("cfha_pacemaker_configured_nodes", ("cluster",)), "configured"),
                ],
                steps=((None, BAD), (2, OK)),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=5,
                h=6,
            ),
            stat_panel(
                "Resources running per node",
                "Resource instances active on each node (DC's view). A node at 0 runs nothing: "
                "it is offline, in standby, or its resources failed there (see Resources).",
                [Q(dc_view("cfha_pacemaker_node_resources_running", ("node",)), "{{node}}")],
                steps=((None, WARN), (1, OK)),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=5,
                h=6,
            ),
        ),
    )


def resources() -> Section:
    role = state_map(
        "cfha_pacemaker_resource_role",
        {
            "promoted": ("promoted", INFO),
            "unpromoted": ("unpromoted", OK),
            "started": ("started", OK),
            "stopped": ("stopped", MUTED),
            "starting": ("starting", WARN),
            "stopping": ("stopping", WARN),
            "migrating": ("migrating", WARN),
            "promoting": ("promoting", WARN),
            "demoting": ("demoting", WARN),
            "unknown": ("UNKNOWN", BAD),
        },
    )
    kind = value_map(
        {
            "cli-ban": ("cli-ban", BAD),
            "cli-prefer": ("cli-prefer", WARN),
            "configured": ("configured", MUTED),
        }
    )
    score = value_map({f"{INFINITY}": ("+INFINITY", MUTED), f"{-INFINITY}": ("-INFINITY", MUTED)})
    failure = ("resource", "node", "operation", "interval")
    constraint = ("constraint", "resource", "node", "role", "kind")
    return Section(
        "Resources",
        (
            table_panel(
                "Resource roles",
                "The role of each resource on each node (DC's view). Healthy: cfpgsql promoted "
                "on the active hub and unpromoted on the passive one, cfvirtip started with the "
                "promoted cfpgsql. cfpgsql stopped on a node: it failed there (fail counts) or "
                "is banned (constraints).",
                [Q(is_one(dc_view("cfha_pacemaker_resource_role", ("resource", "node", "state"))))],
                transformations=[
                    matrix("resource", "node", "state"),
                    organize({"resource\\node": "Resource"}),
                ],
                mappings=[role],
                w=12,
                h=6,
            ),
            table_panel(
                "Resource status",
                "Flags of each resource over all its instances (either hub's view). Red failed, "
                "blocked or multi_active: pacemaker could not recover it, will not act on it, or "
                "runs it twice (runbooks CfHaResourceFailed, CfHaResourceBlocked). Orange managed "
                "NO: unmanaged or in maintenance, pacemaker does not recover it.",
                [Q(either("cfha_pacemaker_resource_status", ("resource", "state")))],
                transformations=[
                    matrix("resource", "state"),
                    organize({"resource\\state": "Resource"}),
                ],
                mappings=[YES_NO],
                columns=[
                    Column("managed", mappings=[flag_map(("yes", OK), ("NO", WARN))]),
                    Column("failed", mappings=[flag_map(("YES", BAD), ("no", MUTED))]),
                    Column("blocked", mappings=[flag_map(("YES", BAD), ("no", MUTED))]),
                    Column("multi_active", mappings=[flag_map(("YES", BAD), ("no", MUTED))]),
                ],
                w=12,
                h=6,
            ),
            table_panel(
                "Fail counts against migration thresholds",
                "Failures of each resource on each node and the threshold after which pacemaker "
                "moves it away (the lab and the CFEngine guide use 1). Red at 100 %: the "
                "resource is kept off that node until cleaned up; fix the cause, then "
                "`pcs resource cleanup` (runbook CfHaFailCountAtThreshold).",
                [
                    Q(either("cfha_pacemaker_failcount", ("resource", "node"))),
                    Q(either("cfha_pacemaker_migration_threshold", ("resource", "node"))),
                    Q(
                        f"{either('cfha_pacemaker_failcount', ('resource', 'node'))} / "
                        f"{either('cfha_pacemaker_migration_threshold', ('resource', 'node'))}"
                    ),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "resource": "Resource",
                            "node": "Node",
                            "Value #A": "Fail count",
                            "Value #B": "Threshold",
                            "Value #C": "Used",
                        }
                    ),
                ],
                columns=[
                    Column("Used", unit="percentunit", steps=((None, OK), (0.5, WARN), (1, BAD))),
                ],
                w=12,
                h=7,
            ),
            table_panel(
                "Failed actions by resource and node",
                "Failed resource actions still recorded, with the OCF exit code and when. Read "
                "the cause in the node's pacemaker log at that time, fix it, then `pcs resource "
                "cleanup <resource> --node <node>`. Empty: no failures since the last cleanup.",
                [
                    Q(either("cfha_pacemaker_failed_action_exit_code", failure)),
                    Q(as_ms(either("cfha_pacemaker_failed_action_timestamp_seconds", failure))),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "resource": "Resource",
                            "node": "Node",
                            "operation": "Operation",
                            "interval": "Interval (s)",
                            "Value #A": "Exit code",
                            "Value #B": "When",
                        }
                    ),
                ],
                columns=[
                    Column("Exit code", mappings=[OCF_EXIT]),
                    Column("When", unit="dateTimeFromNow"),
                ],
                no_value="none",
                w=12,
                h=7,
            ),
            table_panel(
                "Location constraints and bans",
                "Location constraints in the CIB with their score, and when one with a lifetime "
                "expires. Red cli-ban: a leftover `pcs resource ban` that keeps the resource off "
                "the node; orange cli-prefer: a leftover `pcs resource move`. Remove them with "
                "`pcs resource clear <resource>` once the intervention is over (runbook "
                "CfHaLeftoverCliConstraint).",
                [
                    Q(
                        f"clamp({either('cfha_pacemaker_location_constraint_score', constraint)}, "
                        f"{-INFINITY}, {INFINITY})"
                    ),
                    Q(
                        as_ms(
                            either(
                                "cfha_pacemaker_location_constraint_expiry_timestamp_seconds",
                                ("constraint",),
                            )
                        )
                    ),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "constraint": "Constraint",
                            "kind": "Kind",
                            "resource": "Resource",
                            "node": "Node",
                            "role": "Role",
                            "Value #A": "Score",
                            "Value #B": "Expires",
                        }
                    ),
                ],
                columns=[
                    Column("Kind", mappings=[kind]),
                    Column("Score", mappings=[score]),
                    Column("Expires", unit="dateTimeFromNow"),
                ],
                no_value="none",
                w=24,
                h=6,
            ),
        ),
    )


def build() -> dash.Dashboard:
    return assemble(
        uid=UID,
        title="cfha / Pacemaker & corosync",
        description="The cluster stack of the CFEngine HA pair, read once (the DC's view).",
        sections=[cluster(), nodes(), resources(), corosync.section()],
    )
