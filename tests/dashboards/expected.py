"""Where each panel must show data on the live lab (tests/dashboards/test_live.py).

The live test drives the lab through three states and runs every panel's queries in each:

- `healthy`: the lab as `restore_healthy` leaves it, the HA hubs' own reports fresh;
- `degraded`: the `stop-standby` scenario (the standby's PostgreSQL killed, its monitor failed,
  cfpgsql stopped there) plus a `crm_resource --ban` of cfvirtip on the standby with a lifetime
  and a physical replication slot on the primary that nobody uses (kept until the end);
- `remediated`: after cfha-remediator cleaned cfpgsql up on the standby (a real job that
  succeeds) and refused a second, identical request (nothing to do).

Every query of a panel must return data in each state listed for it (`BY_QUERY` names the
queries that differ from their panel); a panel may show data in
other states too. A panel that is not listed fails the test, so a new panel needs a line here.
"""

from __future__ import annotations

HEALTHY, DEGRADED, REMEDIATED = "healthy", "degraded", "remediated"
STATES = (HEALTHY, DEGRADED, REMEDIATED)
ALWAYS = frozenset(STATES)
H, D, R = frozenset({HEALTHY}), frozenset({DEGRADED}), frozenset({REMEDIATED})

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # HA overview
    ("cfha-ha-overview", "HA verdict"): ALWAYS,
    ("cfha-ha-overview", "Verdict per hub"): ALWAYS,
    ("cfha-ha-overview", "Reasons the pair is degraded"): D,  # healthy: none hold
    ("cfha-ha-overview", "Hubs: role and state as of"): ALWAYS,
    ("cfha-ha-overview", "Where the primary is"): ALWAYS,
    ("cfha-ha-overview", "Replication lag (bytes)"): H,  # degraded: the standby is not connected
    ("cfha-ha-overview", "Replication lag (seconds)"): H,
    ("cfha-ha-overview", "Streaming standbys"): ALWAYS,
    ("cfha-ha-overview", "WAL senders (the primary's view)"): ALWAYS,  # degraded: disconnected
    ("cfha-ha-overview", "WAL receivers (the standby's view)"): H,  # degraded: no standby runs
    ("cfha-ha-overview", "PGSQL.lock"): ALWAYS,
    ("cfha-ha-overview", "Promotions in the time range"): ALWAYS,
    ("cfha-ha-overview", "Promoted database over time"): ALWAYS,
    ("cfha-ha-overview", "Active alerts"): D,  # at least the pending replication alerts
    # Pacemaker & corosync
    ("cfha-pacemaker", "Quorum"): ALWAYS,
    ("cfha-pacemaker", "Designated controller"): ALWAYS,
    ("cfha-pacemaker", "Cluster options"): ALWAYS,
    ("cfha-pacemaker", "Failed actions"): ALWAYS,
    ("cfha-pacemaker", "Leftover move/ban constraints"): ALWAYS,
    ("cfha-pacemaker", "Nodes"): ALWAYS,
    ("cfha-pacemaker", "Online nodes"): ALWAYS,
    ("cfha-pacemaker", "Resources running per node"): ALWAYS,
    ("cfha-pacemaker", "Resource roles"): ALWAYS,
    ("cfha-pacemaker", "Resource status"): ALWAYS,
    ("cfha-pacemaker", "Fail counts against migration thresholds"): ALWAYS,
    ("cfha-pacemaker", "Failed actions by resource and node"): D,  # the standby's monitor
    ("cfha-pacemaker", "Location constraints and bans"): D | R,  # the ban with a lifetime
    ("cfha-pacemaker", "Membership (each hub's view)"): ALWAYS,
    ("cfha-pacemaker", "Links"): ALWAYS,
    ("cfha-pacemaker", "Votes"): ALWAYS,
    # Hub reporting
    ("cfha-hub-reporting", "Hosts by last report"): ALWAYS,
    ("cfha-hub-reporting", "Hosts"): ALWAYS,
    ("cfha-hub-reporting", "Newest report"): ALWAYS,
    ("cfha-hub-reporting", "Collections by outcome"): ALWAYS,
    ("cfha-hub-reporting", "Connection errors by message"): ALWAYS,
    ("cfha-hub-reporting", "Agent status of hosts"): ALWAYS,
    ("cfha-hub-reporting", "Each hub's own reports"): ALWAYS,
    ("cfha-hub-reporting", "Data as of, per hub"): ALWAYS,
    ("cfha-hub-reporting", "Exporter collectors"): ALWAYS,
    ("cfha-hub-reporting", "Why a collector failed last"): D,  # the standby's database is down
    # Failover readiness (the lab renders every file, key and pid file as a hub has them)
    ("cfha-readiness", "Mission Portal would show"): ALWAYS,
    ("cfha-readiness", "cfha's verdict"): ALWAYS,
    ("cfha-readiness", "Each hub as Mission Portal shows it"): ALWAYS,
    ("cfha-readiness", "Client keys per hub"): ALWAYS,
    ("cfha-readiness", "Hub keys in ppkeys_hubs"): ALWAYS,
    ("cfha-readiness", "Files both hubs must hold alike"): ALWAYS,
    ("cfha-readiness", "HA files per hub"): ALWAYS,
    ("cfha-readiness", "CFEngine daemons per hub"): ALWAYS,
    ("cfha-readiness", "Free space"): ALWAYS,
    ("cfha-readiness", "What a re-clone copies, per hub"): ALWAYS,  # degraded: the primary's
    ("cfha-readiness", "Re-clone of the primary: needed and free"): ALWAYS,
    # Remediation
    ("cfha-remediation", "Kill switch"): ALWAYS,
    ("cfha-remediation", "Open circuits"): R,  # published once an action ran for a target
    ("cfha-remediation", "Queue"): ALWAYS,
    ("cfha-remediation", "Remediators"): ALWAYS,
    ("cfha-remediation", "Jobs in the time range, by action and result"): ALWAYS,  # zeros
    ("cfha-remediation", "Refusals in the time range, by reason"): R,
    ("cfha-remediation", "Jobs over time"): ALWAYS,
    ("cfha-remediation", "Alerts received and webhook answers"): ALWAYS,
    ("cfha-remediation", "Circuits"): R,
    ("cfha-remediation", "Last success per action"): R,
}

# (board, panel, query ref id): where one query of a panel differs from the panel
BY_QUERY: dict[tuple[str, str, str], frozenset[str]] = {
    # WAL kept by slots: a CFEngine pair has none; the degraded state makes an abandoned one
    ("cfha-readiness", "Re-clone of the primary: needed and free", "C"): D | R,
}
