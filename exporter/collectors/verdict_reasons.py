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
        "hub collector (each HA hub's last report in cfdb, against the database's clock; on a "
        "lagging standby this also shows that the replica is old).",
        "`collectors.verdict.hub_report_stale_seconds` (default 900).",
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
