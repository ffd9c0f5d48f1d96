"""The HA verdict's reason codes: stable, snake_case, each with a sentence for humans.

The codes are part of the exporter's interface (label values of `cfha_ha_degraded_reason`, keys
of `/api/status`, alert rules): never rename one, only add. docs/verdict.md is generated from
this table (`python -m exporter.collectors.verdict_reasons`), and a test keeps it current.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    sentence: str  # what is wrong, for the status page
    inputs: str  # which facts decide it
    threshold: str = ""  # the configurable limit, if any


REASONS: tuple[Reason, ...] = (
    Reason(
        "database_down",
        "This hub's PostgreSQL does not accept connections.",
        "postgres collector: connection refused or impossible (its failure reason `connect`).",
    ),
    Reason(
        "replication_not_streaming",
        "Database replication is not streaming: the passive hub is not receiving changes.",
        "postgres (primary: a standby absent or not `streaming`, or none at all; standby: WAL "
        "receiver not `streaming`; a hub whose database is down); pgsql agent via pacemaker (a "
        "node's `cfpgsql-data-status` neither LATEST nor STREAMING|*). On the standby's hub the "
        "details name the diagnosed cause and the line it came from (diagnosis collector).",
    ),
    Reason(
        "replication_lag",
        "The passive hub's database is too far behind the active hub's.",
        "postgres (primary: replay lag of each connected standby; standby: replay lag and WAL "
        "received but not replayed). Unknown while not streaming.",
        "`collectors.verdict.max_lag_bytes` (default 64 MiB), `max_lag_seconds` (default 60).",
    ),
    Reason(
        "replay_paused",
        "WAL replay is paused on the passive hub: it receives changes but applies none, and a "
        "failover would have to replay everything first (or lose it).",
        "postgres (standby: pg_is_wal_replay_paused()). Clear on the primary (it replays "
        "nothing); the primary's view is the standby's growing replay lag.",
    ),
    Reason(
        "no_primary",
        "No hub runs the primary database: nothing accepts reports or serves Mission Portal.",
        "pacemaker (no node promoted for the database resource); without it, postgres (this hub "
        "is primary, or streams from one: there is one).",
    ),
    Reason(
        "two_primaries",
        "Two databases accept writes (split brain): reports may be lost when it is resolved.",
        "pacemaker (more than one promoted node, or `cfpgsql-status` PRI on more than one) and "
        "postgres (this hub's database accepts writes while pacemaker promoted another).",
    ),
    Reason(
        "vip_not_on_primary",
        "The floating IP is not on the primary hub: clients and Mission Portal reach the wrong "
        "hub, or none.",
        "pacemaker (where the VIP resource runs, against the promoted node).",
    ),
    Reason(
        "pgsql_lock_on_standby",
        "PGSQL.lock exists on a hub that is not primary: its database will not start as a "
        "standby until the hub is re-synced and the lock removed.",
        "pgsql_agent collector (PGSQL.lock in the agent's tmpdir on this hub, the path from the "
        "CIB), and who is primary (pacemaker, else postgres).",
    ),
    Reason(
        "node_offline",
        "A cluster node is offline: there is no failover target.",
        "pacemaker (node not online).",
    ),
    Reason(
        "node_standby",
        "A cluster node is in standby: it cannot run the database, so there is no failover target.",
        "pacemaker (node standby or standby on-fail).",
    ),
    Reason(
        "node_unclean",
        "A cluster node is UNCLEAN: pacemaker does not know its state and will not start "
        "resources safely until it is fenced or cleared.",
        "pacemaker (node unclean).",
    ),
    Reason(
        "quorum_lost",
        "The cluster partition has no quorum.",
        "pacemaker (the DC's partition has no quorum) or corosync (not quorate).",
    ),
    Reason(
        "failed_actions",
        "Pacemaker recorded failed resource actions: they block resources from that node until "
        "cleaned up.",
        "pacemaker (crm_mon's failed actions).",
    ),
    Reason(
        "cli_constraints",
        "Leftover move or ban constraints (cli-ban / cli-prefer) pin resources: failover may not "
        "happen.",
        "pacemaker (location constraints `cli-ban-*` / `cli-prefer-*` left by crm_resource or "
        "pcs resource move / ban).",
    ),
    Reason(
        "maintenance_mode",
        "Maintenance mode is on: pacemaker does not manage the resources, so there is no failover.",
        "pacemaker (cluster property maintenance-mode, or a node in maintenance).",
    ),
    Reason(
        "hub_reports_stale",
        "A hub's own reports in the database are stale or missing: its state is not current "
        "(Mission Portal shows it as unknown).",
        "hub collector (each HA hub's last report in cfdb, against the newest report of any "
        "host: when collection as a whole stopped, `hub_collection_stopped` names that cause "
        "instead of blaming the hub whose report aged first).",
        "`collectors.verdict.hub_report_stale_seconds`; default: the horizon in use "
        "(Mission Portal's blueHostHorizon where it can be read, else "
        "`collectors.hub.horizon_seconds`, 900).",
    ),
    Reason(
        "hub_collection_stopped",
        "The active hub has stopped collecting reports (cf-hub): Mission Portal shows stale "
        "data, and soon every host as not reporting.",
        "daemons collector on the active hub (its cf-hub absent or stopped: seen at once), hub "
        "collector on both hubs (the newest report of any host in cfdb older than the horizon, "
        "against the time cfdb's data is current as of). Named once, with the active hub.",
        "the horizon in use (Mission Portal's blueHostHorizon, else "
        "`collectors.hub.horizon_seconds`).",
    ),
    Reason(
        "corosync_link_down",
        "A corosync link is down: the cluster has lost redundancy in its communication.",
        "corosync collector (each knet link to each peer: disconnected or disabled is down).",
    ),
    Reason(
        "master_hub_not_primary",
        "master_hub.dat names a hub that is not the primary: clients follow the wrong hub for "
        "policy and reporting.",
        "cfengine collector (the IP in master_hub.dat, this hub's addresses, ha_info.json) and "
        "who is primary (pacemaker, else postgres).",
    ),
    Reason(
        "cfengine_ha_config",
        "CFEngine's HA files on this hub are missing or inconsistent (ha_enabled marker, "
        "ha_info.json, master_hub.dat).",
        "cfengine collector (file states; ha_info.json lists at least two cluster hubs, this "
        "hub among them).",
    ),
    Reason(
        "ha_cfg_invalid",
        "ha.cfg is missing, malformed, or not what the installation guide writes: the agent "
        "cannot tell active from passive, and Mission Portal's view is wrong.",
        "cfengine collector (/var/cfengine/ha.cfg: cmp_master PRI, cmp_slave "
        "HS:async,HS:sync,HS:alone, cmd `/usr/sbin/crm_attribute -l reboot -n <pgsql "
        "primitive>-status -G -q`, the command compared word by word). Across the hubs: the "
        "alert rules compare its digest.",
    ),
    Reason(
        "ha_info_drift",
        "The ha_info.json the agent reads (under inputs) differs from masterfiles': update.cf "
        "is not copying policy to this hub.",
        "cfengine collector (digests of both copies). Across the hubs: the alert rules compare "
        "the digests of the inputs copy.",
    ),
    Reason(
        "ha_inventory_mismatch",
        "A hub's HA inventory in cfdb (HA node state, HA node state extended, HA master IP) "
        "contradicts pacemaker, master_hub.dat or the floating IP: Mission Portal reports "
        "differ from the cluster.",
        "hub collector (each HA hub's inventory attributes, by name), pacemaker (promoted node, "
        "the agent's status, the last promotion), cfengine collector (master_hub.dat), the "
        "pgsql resource's master_ip. A disagreeing report collected within 5 minutes of the "
        "last promotion is not judged (it may predate it).",
        "`collectors.verdict.inventory_settle_seconds` (default 300: one agent run).",
    ),
    Reason(
        "hub_keys_missing",
        "Keys a failover needs are missing: a hub's key in ppkeys_hubs (clients would not trust "
        "it), or clients' keys on this hub (they could not connect to it).",
        "readiness (ha_info.json's hubs against ppkeys_hubs, 426-byte files; cfdb's hosts "
        "against this hub's ppkeys).",
    ),
    Reason(
        "mission_portal_config",
        "Mission Portal's configuration files are missing on this hub: ha.cf cannot have "
        "synced them from the active hub.",
        "mission_portal collector (the files ha.cf syncs, under httpd/htdocs, and "
        "/opt/cfengine/notification_scripts). Whether the two hubs' copies are equal: the "
        "alert rules compare their digests.",
    ),
    Reason(
        "policy_hub_marker_missing",
        "The am_policy_hub marker is missing on this hub: CFEngine does not treat it as a hub "
        "of ha_info.json.",
        "cfengine collector (state/am_policy_hub, which ha_update.cf creates).",
    ),
    Reason(
        "cf_hub_on_passive",
        "cf-hub runs on a hub that is not active: only the active hub may collect reports "
        "(CFEngine disables it on the passive hub).",
        "daemons collector (cf-hub's pid file and process on this hub) and who is primary "
        "(pacemaker, else postgres). cf-hub missing on the active hub is "
        "`hub_collection_stopped`.",
    ),
    Reason(
        "cf_serverd_down",
        "cf-serverd is not running on this hub: clients and the other hub cannot fetch "
        "policy, keys or Mission Portal's files from it.",
        "daemons collector (cf-serverd's pid file and process on this hub).",
    ),
    Reason(
        "reclone_would_not_fit",
        "A re-clone of this standby would not fit on its disk: if it broke, it could not be "
        "re-synced.",
        "readiness and disk collectors on a hub that is not the primary (free space beside the "
        "data directory against the headroom factor times its databases, pg_wal and WAL "
        "archive, a lower bound of the primary's: the alert compares with the primary's own "
        "figures); clear on the primary, which is not re-cloned.",
        "`collectors.readiness.reclone_headroom_factor` (default 1.2, the remediator's).",
    ),
    Reason(
        "collector_failed",
        "The exporter could not observe part of the cluster: an unknown is not OK.",
        "every collector's success in this scrape.",
    ),
)

CODES: tuple[str, ...] = tuple(r.code for r in REASONS)
BY_CODE: dict[str, Reason] = {r.code: r for r in REASONS}


def render_markdown() -> str:
    lines = [
        "# The HA verdict: reason codes",
        "",
        "Generated from `exporter/collectors/verdict_reasons.py` by `make docs`; do not edit by "
        "hand.",
        "",
        "Each hub's exporter gives its own verdict from what it can see: `cfha_ha_degraded{node}` "
        "is 1 when at least one reason holds. `cfha_ha_degraded_reason{node,reason}` is published "
        "for every code below: 1 while the reason holds, 0 while it does not, NaN while its "
        "inputs are unknown (then `cfha_ha_reason_checked` is 0; a collector that failed makes "
        "`collector_failed` hold, so an unknown never reads as OK). The alert rules combine both "
        "hubs (`max by (cluster, reason)`). The status page (`/`, `/api/status`) shows the "
        "sentences.",
        "",
        "| code | sentence | inputs | threshold |",
        "| --- | --- | --- | --- |",
    ]
    for r in REASONS:
        cells = [f"`{r.code}`", r.sentence, r.inputs, r.threshold or "-"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
