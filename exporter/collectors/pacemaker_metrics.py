"""Metric declarations of the `pacemaker` collector (see `pacemaker.py` for the collector).

Label conventions: `node` is the pacemaker node a series is about; for the local facts
(`up`, `local_is_dc`, `pacemakerd_state`) it is this hub. `resource` is a primitive's id as
crm_mon prints it (`cfpgsql`, not its clone `mscfpgsql`): `cfha_pacemaker_resource_info` ties it
to its clone, group or bundle. Everything except the local facts is the cluster-wide view that
both hubs publish alike; docs/pacemaker.md shows how rules read it once.
"""

from __future__ import annotations

from clusterstate.pacemaker_cli import CrmMonFlavour
from clusterstate.parsers.crm_mon_model import (
    FenceStatus,
    NodeHealth,
    NodeType,
    NoQuorumPolicy,
    PacemakerdState,
)
from clusterstate.parsers.pcmk_values import Role
from servicekit.metrics import Kind, MetricSpec

N = ("node",)
R = ("resource",)
RN = ("resource", "node")

# -- this hub's own view -------------------------------------------------------------------

UP = MetricSpec(
    "cfha_pacemaker_up",
    "1 if crm_mon on this hub returned the cluster's status; 0 if the cluster is not running or "
    "not reachable here (the reason is in cfha_exporter_collector_failure_reason).",
    labels=N,
)
LOCAL_IS_DC = MetricSpec(
    "cfha_pacemaker_local_is_dc",
    "1 if this hub is the designated controller (DC), else 0 (also when pacemaker is down "
    "here). Select the DC's copy of a cluster-wide series with `and on(instance) "
    "cfha_pacemaker_local_is_dc == 1`.",
    labels=N,
)
PACEMAKERD_STATE = MetricSpec(
    "cfha_pacemaker_pacemakerd_state",
    "State of this hub's pacemakerd launcher as crm_mon reports it; absent when crm_mon does "
    "not say (a saved CIB, or no answer at all).",
    kind=Kind.STATESET,
    labels=N,
    states=tuple(s.value for s in PacemakerdState),
    state_help=tuple(s.description for s in PacemakerdState),
)

CRM_MON_FORMAT = MetricSpec(
    "cfha_pacemaker_crm_mon_format",
    "Which XML crm_mon on this hub is read through: detected once per binary (pacemaker 1.1 "
    "and 2.0.0-2.0.2 have no --output-as). Absent before crm_mon was first run.",
    kind=Kind.STATESET,
    labels=N,
    states=tuple(f.value for f in CrmMonFlavour),
    state_help=tuple(f.description for f in CrmMonFlavour),
)

# -- cluster-wide summary --------------------------------------------------------------------

DC_PRESENT = MetricSpec(
    "cfha_pacemaker_dc_present", "1 if the cluster has a designated controller (DC)."
)
QUORATE = MetricSpec(
    "cfha_pacemaker_quorate",
    "1 if the DC's partition has quorum as pacemaker sees it; absent without a DC.",
)
VERSION_INFO = MetricSpec(
    "cfha_pacemaker_version_info",
    "Pacemaker version of the DC (crm_mon's current_dc).",
    kind=Kind.INFO,
    labels=("version",),
)
LAST_CHANGE = MetricSpec(
    "cfha_pacemaker_config_last_change_timestamp_seconds",
    "When the CIB configuration last changed (Unix time; crm_mon prints local time without a "
    "zone and it is read in the hub's real time zone).",
)
CONFIG_DIGEST = MetricSpec(
    "cfha_pacemaker_config_digest",
    "A 52-bit digest of the CIB configuration without cfha's own writes (its `cfha-hold-*` "
    "constraints and remediation lock), pacemaker's `last-lrm-refresh` and the pgsql agent's "
    "permanent `<rsc>-data-status` node attribute: it changes only when someone else changes "
    "the configuration (CfHaConfigChanged). Absent without a current CIB copy.",
)
CIB_AGE = MetricSpec(
    "cfha_pacemaker_cib_config_age_seconds",
    "Age of the CIB configuration copy (cibadmin) used for constraints and resource parameters; "
    "re-read when the configuration changes, at least every cib_max_age_seconds.",
)
CONFIGURED_NODES = MetricSpec("cfha_pacemaker_configured_nodes", "Nodes configured.")
CONFIGURED_RESOURCES = MetricSpec(
    "cfha_pacemaker_configured_resources", "Resource instances configured."
)
DISABLED_RESOURCES = MetricSpec(
    "cfha_pacemaker_disabled_resources", "Resource instances disabled (target-role Stopped)."
)
BLOCKED_RESOURCES = MetricSpec(
    "cfha_pacemaker_blocked_resources", "Resource instances blocked (pacemaker will not act)."
)
FENCING_ENABLED = MetricSpec(
    "cfha_pacemaker_fencing_enabled",
    "Cluster option fencing-enabled (stonith-enabled before pacemaker 3.0.2).",
)
MAINTENANCE_MODE = MetricSpec(
    "cfha_pacemaker_maintenance_mode",
    "Cluster option maintenance-mode: 1 means pacemaker manages nothing.",
)
STOP_ALL = MetricSpec("cfha_pacemaker_stop_all_resources", "Cluster option stop-all-resources.")
SYMMETRIC = MetricSpec("cfha_pacemaker_symmetric_cluster", "Cluster option symmetric-cluster.")
NO_QUORUM_POLICY = MetricSpec(
    "cfha_pacemaker_no_quorum_policy",
    "Cluster option no-quorum-policy ('suicide' of pacemaker < 3.0 is `fence`).",
    kind=Kind.STATESET,
    states=tuple(p.value for p in NoQuorumPolicy),
    state_help=tuple(p.description for p in NoQuorumPolicy),
)
FENCING_TIMEOUT = MetricSpec(
    "cfha_pacemaker_fencing_timeout_seconds", "Cluster option fencing-timeout (stonith-timeout)."
)
PRIORITY_FENCING_DELAY = MetricSpec(
    "cfha_pacemaker_priority_fencing_delay_seconds", "Cluster option priority-fencing-delay."
)

# -- nodes -----------------------------------------------------------------------------------

NODE_FLAGS = ("online", "standby", "standby_onfail", "maintenance", "pending", "unclean",
              "shutdown", "expected_up", "dc")  # fmt: skip
NODE_STATE = MetricSpec(
    "cfha_pacemaker_node_state",
    "Flags of each node (several may be 1 at once; all 0 = offline and clean).",
    kind=Kind.STATESET,
    labels=N,
    states=NODE_FLAGS,
    state_help=(
        "member of the DC's partition",
        "in standby: runs no resources",
        "put in standby because a resource failed there (on-fail=standby)",
        "in maintenance: resources there are not managed",
        "joining, not yet a full member",
        "state unknown and not fenced: pacemaker will not run anything it had until fenced",
        "shutting down",
        "pacemaker expects it to be up",
        "the designated controller",
    ),
)
NODE_TYPE = MetricSpec(
    "cfha_pacemaker_node_type",
    "Kind of cluster member.",
    kind=Kind.STATESET,
    labels=N,
    states=tuple(t.value for t in NodeType),
    state_help=tuple(t.description for t in NodeType),
)
NODE_HEALTH = MetricSpec(
    "cfha_pacemaker_node_health",
    "Node health colour (pacemaker >= 2.1; absent when not reported).",
    kind=Kind.STATESET,
    labels=N,
    states=tuple(h.value for h in NodeHealth),
    state_help=tuple(h.description for h in NodeHealth),
)
NODE_RESOURCES = MetricSpec(
    "cfha_pacemaker_node_resources_running", "Resource instances active on the node.", labels=N
)
NODE_INFO = MetricSpec(
    "cfha_pacemaker_node_info",
    "Pacemaker's id of each node (the corosync node id on corosync clusters).",
    kind=Kind.INFO,
    labels=(*N, "id"),
)

# -- resources -------------------------------------------------------------------------------

RESOURCE_INFO = MetricSpec(
    "cfha_pacemaker_resource_info",
    "Each primitive with its agent and parents (empty label = none); promotable = 'true' for "
    "an instance of a promotable clone.",
    kind=Kind.INFO,
    labels=(*R, "agent", "clone", "group", "bundle", "promotable"),
)
ROLE = MetricSpec(
    "cfha_pacemaker_resource_role",
    "Role of each primitive on each node (normalised: Master = promoted, Slave = unpromoted); "
    "`stopped` where it does not run. One series set per resource and cluster node.",
    kind=Kind.STATESET,
    labels=RN,
    states=tuple(r.value for r in Role),
    state_help=tuple(r.description for r in Role),
)
TARGET_ROLES = ("unset", "stopped", "started", "unpromoted", "promoted", "other")
TARGET_ROLE = MetricSpec(
    "cfha_pacemaker_resource_target_role",
    "The target-role meta attribute (inherited from a clone or group); `stopped` = disabled.",
    kind=Kind.STATESET,
    labels=R,
    states=TARGET_ROLES,
    state_help=(
        "no target-role: pacemaker may run it in any role",
        "disabled",
        "may run, not promoted",
        "may run, not promoted (promotable clones)",
        "may be promoted",
        "a value unknown to this exporter",
    ),
)
RESOURCE_FLAGS = ("managed", "failed", "blocked", "failure_ignored", "removed",
                  "multi_active", "pending")  # fmt: skip
RESOURCE_STATUS = MetricSpec(
    "cfha_pacemaker_resource_status",
    "Flags of each primitive over all its instances (several may be 1 at once).",
    kind=Kind.STATESET,
    labels=R,
    states=RESOURCE_FLAGS,
    state_help=(
        "every instance is managed (0 in maintenance or when unmanaged)",
        "an instance has failed and was not recovered",
        "an instance is blocked: pacemaker cannot act on it",
        "failures are ignored (on-fail=ignore)",
        "no longer configured but still known (orphaned before pacemaker 3.0.2)",
        "an instance runs on more than one node at once (split brain for a primitive)",
        "an action is pending",
    ),
)
ACTIVE_NODES = MetricSpec(
    "cfha_pacemaker_resource_active_nodes",
    "Number of nodes on which the primitive is active (all its instances).",
    labels=R,
)

# -- the database and the floating IP (agreement facts) -------------------------------------

DATABASE_PROMOTED = MetricSpec(
    "cfha_pacemaker_database_promoted",
    "1 on the node where pacemaker has the database resource (config database_resource) "
    "promoted, 0 on every other node. An UNCLEAN node keeps its last known role. Compare "
    'with cfha_pgsql_status{state="PRI"} and cfha_pg_role{state="primary"}.',
    labels=(*N, "resource"),
)
DATABASE_PROMOTED_AT = MetricSpec(
    "cfha_pacemaker_database_promoted_timestamp_seconds",
    "When the current primary was promoted (Unix time): its newest promote, or its first "
    "promoted monitor result when the history was cleaned since; absent without exactly known "
    "primary history. The remediator's failover freeze counts from this same time.",
    labels=("resource",),
)
VIP_ACTIVE = MetricSpec(
    "cfha_pacemaker_vip_active",
    "1 on the node where the floating IP resource (config vip_resource) is active, 0 elsewhere.",
    labels=(*N, "resource"),
)

# -- history, failures, constraints, fencing, tickets ------------------------------------------

FAIL_COUNT = MetricSpec(
    "cfha_pacemaker_failcount",
    "Failures of the resource on the node (INFINITY = +Inf).",
    labels=RN,
)
MIGRATION_THRESHOLD = MetricSpec(
    "cfha_pacemaker_migration_threshold",
    "Failures after which the resource is moved away from the node (INFINITY = +Inf).",
    labels=RN,
)
LAST_FAILURE = MetricSpec(
    "cfha_pacemaker_last_failure_timestamp_seconds",
    "When the resource last failed on the node (Unix time).",
    labels=RN,
)
MONITOR_RC = MetricSpec(
    "cfha_pacemaker_monitor_rc",
    "OCF exit code of the most recent monitor of the resource on the node (0 running, 7 not "
    "running, 8 running promoted, 1-6 and 9 failures).",
    labels=RN,
)
MONITOR_DURATION = MetricSpec(
    "cfha_pacemaker_monitor_duration_seconds",
    "How long that monitor took.",
    labels=RN,
)
MONITOR_INTERVAL = MetricSpec(
    "cfha_pacemaker_monitor_interval_seconds",
    "Interval of that monitor (0 = a one-off probe).",
    labels=RN,
)
FA_LABELS = ("resource", "node", "operation", "interval")
FAILED_ACTION = MetricSpec(
    "cfha_pacemaker_failed_action_exit_code",
    "A failed action still recorded (until cleanup): its OCF exit code; `interval` in seconds, "
    "`node` empty when pacemaker does not say.",
    labels=FA_LABELS,
)
FAILED_ACTION_TIME = MetricSpec(
    "cfha_pacemaker_failed_action_timestamp_seconds",
    "When that failed action's result last changed (Unix time).",
    labels=FA_LABELS,
)
FAILED_ACTIONS = MetricSpec(
    "cfha_pacemaker_failed_actions", "Number of failed actions recorded (0 after cleanup)."
)
CONSTRAINT_KINDS = ("cli-ban", "cli-prefer", "configured")
LOCATION_SCORE = MetricSpec(
    "cfha_pacemaker_location_constraint_score",
    "Score of each location constraint (+/-Inf for INFINITY). `kind` tells leftovers of "
    "`crm_resource --ban/--move` or `pcs resource ban/move` (cli-ban, cli-prefer) and the "
    "remediator's own resync holds (cfha-hold) from configured ones; `role` empty = any role, "
    "`node` empty = a rule without a single node.",
    labels=("constraint", "resource", "node", "role", "kind"),
)
LOCATION_EXPIRY = MetricSpec(
    "cfha_pacemaker_location_constraint_expiry_timestamp_seconds",
    "When a constraint with a lifetime stops applying (Unix time).",
    labels=("constraint",),
)
CLI_CONSTRAINTS = MetricSpec(
    "cfha_pacemaker_cli_constraints",
    "Number of leftover cli-ban-* / cli-prefer-* location constraints.",
    labels=("kind",),
)
FENCING_ACTIONS = MetricSpec(
    "cfha_pacemaker_fencing_actions",
    "Fencing actions against each node in pacemaker's fencing history, by outcome (0 for "
    "every node and outcome without one; a saved CIB has no fencing history).",
    labels=("target", "status"),
)
FENCING_LAST = MetricSpec(
    "cfha_pacemaker_fencing_last_timestamp_seconds",
    "When the most recent fencing action against the node with this outcome completed.",
    labels=("target", "status"),
)
FENCE_STATUSES = tuple(s.value for s in FenceStatus)
TICKET_GRANTED = MetricSpec(
    "cfha_pacemaker_ticket_granted", "1 if the multi-site ticket is granted.", labels=("ticket",)
)

METRICS: tuple[MetricSpec, ...] = (
    UP, LOCAL_IS_DC, PACEMAKERD_STATE, CRM_MON_FORMAT, DC_PRESENT, QUORATE, VERSION_INFO,
    LAST_CHANGE, CONFIG_DIGEST, CIB_AGE, CONFIGURED_NODES, CONFIGURED_RESOURCES, DISABLED_RESOURCES,
    BLOCKED_RESOURCES, FENCING_ENABLED, MAINTENANCE_MODE, STOP_ALL, SYMMETRIC, NO_QUORUM_POLICY,
    FENCING_TIMEOUT, PRIORITY_FENCING_DELAY, NODE_STATE, NODE_TYPE, NODE_HEALTH, NODE_RESOURCES,
    NODE_INFO, RESOURCE_INFO, ROLE, TARGET_ROLE, RESOURCE_STATUS, ACTIVE_NODES,
    DATABASE_PROMOTED, DATABASE_PROMOTED_AT, VIP_ACTIVE, FAIL_COUNT, MIGRATION_THRESHOLD,
    LAST_FAILURE, MONITOR_RC, MONITOR_DURATION, MONITOR_INTERVAL, FAILED_ACTION,
    FAILED_ACTION_TIME, FAILED_ACTIONS, LOCATION_SCORE, LOCATION_EXPIRY, CLI_CONSTRAINTS,
    FENCING_ACTIONS, FENCING_LAST, TICKET_GRANTED,
)  # fmt: skip
