"""The scenario matrix of the end-to-end test: what each fault must produce, and nothing else.

Nodes are named by role and resolved when the scenario runs: `T` is the node the fault hits,
`O` the other one ("" for a cluster-wide alert). Receivers are those of
alerts/alertmanager.example.yml as the lab runs it (`lab.product.stackconfig.alertmanager_config`):
`cfha-pager` and `cfha-ticket` for the humans, `cfha-remediator` for the remediation requests
(both hubs' remediators and the sink get them). A remediable alert is two alerts of one name
(alerts/README.md): the humans' copy, and the request (`cfha_route="remediator"`, severity
info), which alone the gates mute: `remediable(...)` names both.

Timings are the lab copy of the rules (alerts/README.md: every duration d becomes 15 s + d/30):
for 1m -> 17 s, 2m -> 19 s, 3m -> 21 s, 5m -> 25 s, 10m -> 35 s, 15m -> 45 s, 30m -> 75 s,
keep_firing_for 2m -> 19 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PAGER = "cfha-pager"
TICKET = "cfha-ticket"
REMEDIATOR = "cfha-remediator"
HEARTBEAT = "cfha-heartbeat"
ROUTE_LABEL = "cfha_route"
REQUEST = "remediator"  # the cfha_route of a remediation request

Key = tuple[str, str, str]  # (alertname, node or "", route: "" or REQUEST)

# Always firing on the lab: the heartbeat, and fencing disabled (a standing configuration).
BASELINE: frozenset[Key] = frozenset({("CfHaWatchdog", "", ""), ("CfHaFencingDisabled", "", "")})
# Info alerts go to no receiver. CfHaConfigChanged follows every CIB write (the pgsql agent's
# permanent attributes at each start and stop included), so any scenario may show it.
ANY_SCENARIO: frozenset[Key] = frozenset({("CfHaConfigChanged", "", "")})


@dataclass(frozen=True)
class AlertSpec:
    """An alert the scenario produces: about whom, and who must get it while the fault lasts.

    `muted`: it must reach Alertmanager and stay suppressed there (a gate or its cause
    inhibits it), so no receiver gets it while the fault lasts."""

    alertname: str
    about: str = ""  # "T", "O" or "" (cluster-wide)
    receivers: frozenset[str] = frozenset()
    muted: bool = False
    route: str = ""  # "" for the humans' copy, REQUEST for a remediation request


def alert(name: str, about: str = "", receivers: str = "", *, muted: bool = False) -> AlertSpec:
    """An alert for the humans, delivered to `receivers` (comma-separated) or muted."""
    return AlertSpec(name, about, frozenset(r for r in receivers.split(",") if r), muted)


def request(name: str, about: str, *, muted: bool = False) -> AlertSpec:
    """The remediation request of a remediable alert: to the remediators, or muted by a gate."""
    receivers = frozenset() if muted else frozenset({REMEDIATOR})
    return AlertSpec(name, about, receivers, muted, REQUEST)


def remediable(
    name: str, about: str, humans: str, *, gated: bool = False
) -> tuple[AlertSpec, AlertSpec]:
    """Both copies: the humans get theirs always; the request is muted while a gate holds."""
    return alert(name, about, humans), request(name, about, muted=gated)


@dataclass(frozen=True)
class JobSpec:
    """A remediator job the scenario must (or may) produce, on the hub(s) named by `hub`."""

    action: str
    target: str  # with {T}: "cfpgsql@{T}", "{T}", "cli-ban-mscfpgsql-on-{T}"
    state: str  # succeeded | refused
    refused_by: frozenset[str] = frozenset()
    hub: str = "T"  # "T", "O", or "any"
    required: bool = True
    may_be_cancelled: bool = False
    """The alert may resolve before this job is decided (another job cured its cause meanwhile):
    the remediator then cancels it, and it never runs."""


def job(
    action: str,
    target: str,
    state: str,
    refused_by: str = "",
    *,
    hub: str = "T",
    required: bool = True,
    may_be_cancelled: bool = False,
) -> JobSpec:
    reasons = frozenset(r for r in refused_by.split(",") if r)
    return JobSpec(action, target, state, reasons, hub, required, may_be_cancelled)


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix.

    - `inject`: lab scenarios injected in this order (`lab.inject`), the first picks `T`.
    - `alerts`: each must reach Alertmanager, and its receivers, while the fault lasts.
    - `tolerated`: may appear, each for the reason given where the scenario is defined.
    - `jobs` / `tolerated_jobs`: remediator jobs (any other job fails the test).
    - `heals`: the remediator is expected to bring the lab back to healthy by itself; else
      the fault is ended by hand (`end_by_hand`) once the checks of the fault are done.
    - `gated`: no job may execute anything while the fault lasts (maintenance, split brain,
      a node gone); `direct_request`: an alert sent straight to the target's remediator, as
      if Alertmanager's gate had let it through, must be refused by one of `refused_by`,
      with every check of `failed_checks` failed.
    - `standby_goal`: a broken standby: the goal "back to streaming within 60 s" applies.
    """

    name: str
    inject: tuple[str, ...]
    target: str  # "standby" or "primary": which node `T` is
    alerts: tuple[AlertSpec, ...]
    tolerated: tuple[AlertSpec, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    tolerated_jobs: tuple[JobSpec, ...] = ()
    heals: bool = True
    end_by_hand: str = "restore"  # "restore" (lab.restore_healthy) or "maintenance-off"
    gated: bool = False
    direct_request: str = ""  # the alertname sent past the gate
    refused_by: frozenset[str] = field(default_factory=frozenset)
    failed_checks: frozenset[str] = field(default_factory=frozenset)
    standby_goal: bool = False
    cause: str = ""
    """The cause the target's exporter must diagnose (cfha_pg_standby_cause; docs/diagnosis.md)."""
    decision: str = ""
    """The remediator's expected decision, in words, for the report."""


# A cleanup heals a stopped standby ~40 s after the fault; CfHaPgStandbyNotStreaming (45 s) was
# pending since the fault. When the standby streams a second too late, it fires: a page that
# resolves by itself, and a re-sync request that the remediator must refuse: nothing_to_do, or
# diagnosis while it is still stopped with intact data (a cleanup's cause, not a re-sync's);
# or, when the page resolves while the request waits behind the cleanup, cancelled unrun.
_LATE_RESYNC = remediable("CfHaPgStandbyNotStreaming", "T", PAGER)
_LATE_RESYNC_JOB = job(
    "resync_standby",
    "{T}",
    "refused",
    "nothing_to_do,diagnosis",
    required=False,
    may_be_cancelled=True,
)

MATRIX: tuple[Scenario, ...] = (
    Scenario(
        name="stop-standby",
        inject=("stop-standby",),
        target="standby",
        alerts=(
            alert("CfHaPgDown", "T", TICKET),
            *remediable("CfHaFailCountAtThreshold", "T", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        tolerated=_LATE_RESYNC,
        jobs=(job("resource_cleanup", "cfpgsql@{T}", "succeeded"),),
        tolerated_jobs=(_LATE_RESYNC_JOB,),
        standby_goal=True,
    ),
    Scenario(
        name="wipe-standby",
        inject=("wipe-standby",),
        target="standby",
        alerts=(
            alert("CfHaPgDown", "T", TICKET),
            *remediable("CfHaFailCountAtThreshold", "T", TICKET),
            *remediable("CfHaPgStandbyNotStreaming", "T", PAGER),
            alert("CfHaDegraded", "", TICKET),
        ),
        jobs=(
            # no data directory: a cleanup would only fail again
            job("resource_cleanup", "cfpgsql@{T}", "refused", "cause_gone"),
            job("resync_standby", "{T}", "succeeded"),
        ),
        standby_goal=True,
    ),
    Scenario(
        name="kill-primary",
        inject=("kill-primary",),
        target="primary",
        alerts=(
            alert("CfHaPgDown", "T", TICKET),
            *remediable("CfHaPgsqlLockStale", "T", TICKET),
            alert("CfHaPgFailoverHappened", "O", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        jobs=(job("resync_standby", "{T}", "succeeded"),),
        standby_goal=True,
    ),
    Scenario(
        name="diverge",
        inject=("diverge",),
        target="primary",
        alerts=(
            alert("CfHaPgDown", "T", TICKET),
            *remediable("CfHaPgsqlLockStale", "T", TICKET),
            alert("CfHaPgFailoverHappened", "O", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        jobs=(job("resync_standby", "{T}", "succeeded"),),
        standby_goal=True,
    ),
    Scenario(
        name="fail-monitor",
        inject=("fail-monitor",),
        target="standby",
        alerts=(
            alert("CfHaPgDown", "T", TICKET),
            *remediable("CfHaFailCountAtThreshold", "T", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        tolerated=_LATE_RESYNC,
        jobs=(job("resource_cleanup", "cfpgsql@{T}", "succeeded"),),
        tolerated_jobs=(_LATE_RESYNC_JOB,),
        standby_goal=True,
    ),
    Scenario(
        name="ban",
        inject=("ban",),
        target="standby",
        alerts=(
            *remediable("CfHaLeftoverCliConstraint", "T", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        jobs=(
            # a cluster action: both hubs decide, one takes the CIB lock and acts, the other
            # finds nothing left to do (or the lock taken), or, when the alert resolves while it
            # waits for the lock, is cancelled (seen in CI)
            job("clear_cli_constraints", "cli-ban-mscfpgsql-on-{T}", "succeeded", hub="any"),
            job(
                "clear_cli_constraints",
                "cli-ban-mscfpgsql-on-{T}",
                "refused",
                "nothing_to_do,cluster_lock",
                hub="any",
                may_be_cancelled=True,
            ),
        ),
    ),
    Scenario(
        name="maintenance",
        # the standby's PostgreSQL dies, then the cluster goes into maintenance: the humans get
        # every alert, the cleanup and re-sync requests are held back by the gate, and refused
        # by the remediator if sent anyway
        inject=("stop-standby", "maintenance"),
        target="standby",
        alerts=(
            alert("CfHaMaintenanceMode", "", TICKET),
            alert("CfHaPgDown", "T", TICKET),
            alert("CfHaDegraded", "", TICKET),
            *remediable("CfHaFailCountAtThreshold", "T", TICKET, gated=True),
            *remediable("CfHaPgStandbyNotStreaming", "T", PAGER, gated=True),
        ),
        # when maintenance ends, the gate opens and the held requests leave Alertmanager
        tolerated=(
            request("CfHaFailCountAtThreshold", "T"),
            request("CfHaPgStandbyNotStreaming", "T"),
        ),
        # the cleanup request was already decided (refused) when it was sent past the gate, so
        # its episode is a duplicate; the re-sync request heals the standby
        tolerated_jobs=(
            job("resource_cleanup", "cfpgsql@{T}", "succeeded", required=False),
            job(
                "resource_cleanup",
                "cfpgsql@{T}",
                "refused",
                "nothing_to_do",
                required=False,
                may_be_cancelled=True,
            ),
            job("resync_standby", "{T}", "succeeded", required=False),
            # stopped with intact data: the cleanup's cause; a re-sync is refused for it (or
            # cancelled unrun when its alert resolves first), as for a late one
            _LATE_RESYNC_JOB,
        ),
        end_by_hand="maintenance-off",
        gated=True,
        direct_request="CfHaFailCountAtThreshold",
        refused_by=frozenset({"not_maintenance"}),
        failed_checks=frozenset({"not_maintenance"}),
    ),
    Scenario(
        name="two-primaries",
        inject=("two-primaries",),
        target="standby",
        alerts=(
            alert("CfHaTwoWritableDatabases", "", PAGER),
            alert("CfHaNodeMaintenance", "T", TICKET),
            alert("CfHaDegraded", "", TICKET),
            # the cause explains it: muted by CfHaTwoWritableDatabases
            alert("CfHaPrimaryMismatch", "", muted=True),
            # each writable hub publishes its expected standby as not streaming
            *remediable("CfHaPgStandbyNotStreaming", "T", PAGER, gated=True),
            *remediable("CfHaPgStandbyNotStreaming", "O", PAGER, gated=True),
            # neither hub is a standby with a curable cause: the cause gate of each (info)
            alert("CfHaPgStandbyNotCurable", "T"),
            alert("CfHaPgStandbyNotCurable", "O"),
        ),
        # after the repair by hand the gates resolve while CfHaPgStandbyNotStreaming keeps
        # firing for its keep_firing_for: the requests then reach the remediators, which find
        # the standby streaming, and refuse to touch the primary
        tolerated=(
            request("CfHaPgStandbyNotStreaming", "T"),
            request("CfHaPgStandbyNotStreaming", "O"),
            # CFEngine runs cf-hub wherever the database is writable, and Mission Portal still
            # shows OK: the cause explains both (muted by CfHaTwoWritableDatabases, which
            # outlives them); whether they fire before the repair depends on the timing
            alert("CfHaCfHubOnPassive", "T", muted=True),
            # ... and after the repair, while the second primary is re-cloned, Mission Portal
            # shows it passive (OK) and cfha not streaming: a true disagreement that may
            # outlast the split brain's inhibition and reach the ticket queue (seen in CI)
            alert("CfHaMissionPortalDisagrees", "", TICKET),
        ),
        tolerated_jobs=(
            _LATE_RESYNC_JOB,
            job(
                "resync_standby",
                "{O}",
                "refused",
                "target_not_primary",
                hub="O",
                required=False,
                may_be_cancelled=True,
            ),
        ),
        heals=False,
        gated=True,
        direct_request="CfHaPgStandbyNotStreaming",
        refused_by=frozenset({"target_not_primary", "single_primary", "not_maintenance"}),
        failed_checks=frozenset({"target_not_primary", "single_primary"}),
    ),
    Scenario(
        name="stop-node",
        inject=("stop-node",),
        target="standby",
        alerts=(
            alert("CfHaNodeOffline", "T", PAGER),
            alert("CfHaDegraded", "", TICKET),
            # the node's own alerts follow from it being gone: muted by CfHaNodeOffline
            alert("CfHaCorosyncLinkFaulty", "", muted=True),
        ),
        tolerated=(
            # Lab timing, not the design: CfHaClusterStackDown (3m -> 21 s) is pending from the
            # first scrape after the kill, CfHaNodeOffline (2m -> 19 s) only once pacemaker has
            # declared the node lost (~4 s later), so the lab copy's 2 s margin (60 s in the
            # shipped rules) lets it reach the pager just before CfHaNodeOffline would mute it.
            alert("CfHaClusterStackDown", "T", PAGER),
            alert("CfHaExporterCollectorFailing", "T", muted=True),
        ),
        heals=False,
        gated=True,
    ),
)

# Above the database (issue 20): the cluster stays healthy, the remediator does nothing (no job
# at all: none of these is a database action), each fault's own alert reaches a human. The four
# file faults of the passive hub run as one scenario: each is seen by its own reader (keys,
# the marker, ha.cfg, Mission Portal's files) and raises its own alert, so their union is still
# "the right alerts and no other" at the cost of one run (~2 min) instead of four.
READINESS: tuple[Scenario, ...] = (
    Scenario(
        name="passive-hub-files",
        inject=("passive-hub-files",),
        target="standby",
        alerts=(
            alert("CfHaHubKeysMissing", "T", TICKET),
            alert("CfHaPolicyHubMarkerMissing", "T", TICKET),
            alert("CfHaHaCfgInvalid", "T", TICKET),
            alert("CfHaHaFilesDiffer", "", TICKET),
            alert("CfHaMissionPortalConfigDiffers", "", TICKET),
            alert("CfHaDegraded", "", TICKET),
        ),
        heals=False,
    ),
    Scenario(
        name="cf-hub-both",
        inject=("cf-hub-both",),
        target="standby",
        alerts=(alert("CfHaCfHubOnPassive", "T", TICKET), alert("CfHaDegraded", "", TICKET)),
        heals=False,
    ),
    Scenario(
        # issue 20 item 6: the active hub's collection stops; one alert names it, the passive
        # hub (whose own report ages like everything else) is not blamed
        name="freeze-cf-hub",
        inject=("freeze-cf-hub",),
        target="primary",
        alerts=(alert("CfHaHubReportsStale", "", TICKET), alert("CfHaDegraded", "", TICKET)),
        heals=False,
    ),
    Scenario(
        name="inventory-wrong",
        inject=("inventory-wrong",),
        target="standby",
        alerts=(alert("CfHaHaInventoryMismatch", "", TICKET), alert("CfHaDegraded", "", TICKET)),
        heals=False,
    ),
    Scenario(
        name="archive-filling",
        inject=("archive-filling",),
        target="primary",
        alerts=(alert("CfHaDiskFullSoon", "T", PAGER),),
        # after the writer stops, the 24-hour prediction still sees the slope for a while
        tolerated=(alert("CfHaDiskFillingUp", "T", TICKET),),
        heals=False,
    ),
)

MATRIX = (*MATRIX, *READINESS)
# Diagnose before cure (docs/diagnosis.md): a standby that does not stream for a cause no re-sync
# cures pages with the cause, gets no re-sync request (CfHaPgStandbyNotCurable closes the route)
# and no job, and is never stopped; the generic page is muted by the cause's own.
_CAUSE_GATE = alert("CfHaPgStandbyNotCurable", "T")  # info: reaches no receiver
_GENERIC_PAGE_MUTED = (
    alert("CfHaPgStandbyNotStreaming", "T", muted=True),
    request("CfHaPgStandbyNotStreaming", "T", muted=True),
)
# The agent calls a running standby that does not stream HS:alone, which Mission Portal shows as
# passive (OK) while cfha finds it not streaming: their disagreement is a ticket of its own
# (lab copy of `for: 15m`: 45 s), which may fire before the fault is ended by hand.
_PORTAL_DISAGREES = (alert("CfHaMissionPortalDisagrees", "", TICKET),)


def _rejected(name: str) -> Scenario:
    return Scenario(
        name=name,
        inject=(name,),
        target="standby",
        alerts=(
            alert("CfHaPgReplicationAuthRejected", "T", PAGER),
            _CAUSE_GATE,
            *_GENERIC_PAGE_MUTED,
            alert("CfHaDegraded", "", TICKET),
        ),
        tolerated=_PORTAL_DISAGREES,
        heals=False,  # a human fixes it (the lab's restore); the standby then streams by itself
        cause="auth_rejected",
        decision="no job: page with the cause, fixed by hand, streams again by itself",
    )


DIAGNOSIS: tuple[Scenario, ...] = (
    _rejected("replication-auth-rejected"),
    _rejected("replication-password-changed"),
    Scenario(
        name="primary-unreachable-from-standby",
        inject=("primary-unreachable-from-standby",),
        target="standby",
        alerts=(
            alert("CfHaPgPrimaryUnreachable", "T", PAGER),
            _CAUSE_GATE,
            *_GENERIC_PAGE_MUTED,
            alert("CfHaDegraded", "", TICKET),
        ),
        tolerated=_PORTAL_DISAGREES,
        heals=False,
        cause="primary_unreachable",
        decision="no job: page with the cause",
    ),
    Scenario(
        name="wal-removed",
        inject=("wal-removed",),
        target="standby",
        alerts=(
            *remediable("CfHaPgStandbyNotStreaming", "T", PAGER),
            alert("CfHaDegraded", "", TICKET),
        ),
        # the injection stops the standby while the primary recycles its WAL (a few seconds
        # up to the lab copy of CfHaPgDown's 1m)
        tolerated=(alert("CfHaPgDown", "T", TICKET), *_PORTAL_DISAGREES),
        jobs=(job("resync_standby", "{T}", "succeeded"),),
        cause="wal_removed",
        decision="resync_standby: re-clone (no pg_rewind)",
    ),
    Scenario(
        name="replay-paused",
        inject=("replay-paused",),
        target="standby",
        alerts=(alert("CfHaPgReplayPaused", "T", TICKET), alert("CfHaDegraded", "", TICKET)),
        heals=False,
        cause="replay_paused",
        decision="no job: a ticket (it streams)",
    ),
)
MATRIX = MATRIX + DIAGNOSIS
SCENARIOS = {s.name: s for s in MATRIX}
