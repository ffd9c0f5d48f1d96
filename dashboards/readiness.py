"""Failover readiness above the database: what Mission Portal would show beside cfha's verdict,
the keys a failover needs, the files both hubs must hold alike, CFEngine's daemons and markers,
and disk room (filesystems, WAL and its archive, a re-clone of the primary)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.fields import (
    BAD,
    INFO,
    OK,
    WARN,
    Column,
    matrix,
    merge,
    organize,
    state_map,
    value_map,
)
from dashboards.kit import Q, Section, assemble, stat_panel, table_panel, timeseries_panel
from dashboards.queries import either, is_one, per_hub, sel

UID = "cfha-readiness"
VERDICT = value_map({"0": ("OK", OK), "1": ("DEGRADED", BAD)})


def views() -> Section:
    portal_role = state_map(
        "cfha_mission_portal_hub_role",
        {"active": ("active", INFO), "passive": ("passive", OK), "unknown": ("unknown", BAD)},
    )
    return Section(
        "Mission Portal and cfha",
        (
            stat_panel(
                "Mission Portal would show",
                "The HA badge Mission Portal would show, computed its way: each hub's status by "
                "ha.cfg's mapping of the pgsql agent's status (HS:alone is passive there), "
                "unknown when the hub's own report is beyond the horizon; OK when one hub is "
                "active and the other passive. The worse of the two hubs' views.",
                [Q(either("cfha_mission_portal_degraded", ("cluster",)), "Mission Portal")],
                mappings=[VERDICT],
                steps=((None, OK), (1, BAD)),
                no_value="unknown",
                w=4,
                h=6,
            ),
            stat_panel(
                "cfha's verdict",
                "cfha's own verdict (the HA overview's). It is stricter: it also judges "
                "replication, keys, files, daemons and disks. When the two differ for long, "
                "CfHaMissionPortalDisagrees fires; its runbook says why they may.",
                [Q(either("cfha_ha_degraded", ("cluster",)), "cfha")],
                mappings=[VERDICT],
                steps=((None, OK), (1, BAD)),
                no_value="unknown",
                w=4,
                h=6,
            ),
            table_panel(
                "Each hub as Mission Portal shows it",
                "Each hub's status by ha.cfg's mapping (each exporter computes it for both hubs; "
                "the worse copy is shown). Red unknown: the agent's status is neither in "
                "cmp_master nor cmp_slave, or the hub's last report is too old.",
                [Q(is_one(either("cfha_mission_portal_hub_role", ("node", "state"))))],
                transformations=[
                    organize({"node": "Hub", "state": "Status"}, hide=("Time", "Value"))
                ],
                columns=[Column("Status", mappings=[portal_role])],
                no_value="unknown: ha.cfg or pacemaker's view not read",
                w=16,
                h=6,
            ),
        ),
    )


def keys() -> Section:
    hub_key = state_map(
        "cfha_cfengine_hub_key_state",
        {"ok": ("ok", OK), "missing": ("MISSING", BAD), "wrong_size": ("wrong size", BAD)},
    )
    return Section(
        "Keys a failover needs",
        (
            table_panel(
                "Client keys per hub",
                "Per hub: the client keys it trusts (ppkeys), and how many of the hosts cfdb "
                "knows have no key there. Red: after a failover to that hub, those clients "
                "cannot connect (ha_update.cf syncs the keys; runbook CfHaHubKeysMissing).",
                [
                    Q(per_hub("cfha_cfengine_client_keys")),
                    Q(per_hub("cfha_cfengine_client_keys_missing")),
                ],
                transformations=[
                    merge(),
                    organize({"node": "Hub", "Value #A": "Trusted", "Value #B": "Missing"}),
                ],
                columns=[Column("Missing", steps=((None, OK), (1, BAD)))],
                w=12,
                h=6,
            ),
            table_panel(
                "Hub keys in ppkeys_hubs",
                "Per hub (rows) and HA hub of ha_info.json (columns): its key in ppkeys_hubs, "
                "426 bytes, which clients copy to trust the standby. Red: clients will not "
                "trust that hub after a failover.",
                [Q(is_one(per_hub("cfha_cfengine_hub_key_state", ("node", "hub_ip", "state"))))],
                transformations=[
                    organize(
                        {"node": "Hub", "hub_ip": "Key of", "state": "State"},
                        hide=("Time", "Value"),
                    ),
                ],
                columns=[Column("State", mappings=[hub_key])],
                w=12,
                h=6,
            ),
        ),
    )


def _distinct(metric: str) -> str:
    """How many different digests the hubs publish per file: 1 when all copies are alike."""
    return f'count by (file) (count_values by (file) ("digest", {sel(metric)}))'


def files() -> Section:
    differ = value_map({"1": ("same on both hubs", OK), "2": ("DIFFER", BAD)})
    file_state = state_map(
        "cfha_cfengine_file_state",
        {
            "ok": ("ok", OK),
            "missing": ("MISSING", BAD),
            "invalid": ("INVALID", BAD),
            "unreadable": ("unreadable", WARN),
        },
    )
    daemon = state_map(
        "cfha_cfengine_daemon_state",
        {
            "running": ("running", OK),
            "stopped": ("STOPPED", BAD),
            "absent": ("absent", INFO),
            "unreadable": ("unreadable", WARN),
        },
    )
    return Section(
        "Files and daemons",
        (
            table_panel(
                "Files both hubs must hold alike",
                "Per file, whether the hubs' copies are alike (by their digests): ha_info.json "
                "as the agent reads it, ha.cfg, and the Mission Portal files ha.cf syncs from "
                "the active hub. Red DIFFER: runbooks CfHaHaFilesDiffer and "
                "CfHaMissionPortalConfigDiffers.",
                [
                    Q(_distinct("cfha_cfengine_file_digest")),
                    Q(_distinct("cfha_mission_portal_config_digest")),
                ],
                transformations=[
                    merge(),
                    organize(
                        {"file": "File", "Value #A": "HA file", "Value #B": "Mission Portal file"}
                    ),
                ],
                columns=[
                    Column("HA file", mappings=[differ]),
                    Column("Mission Portal file", mappings=[differ]),
                ],
                w=10,
                h=8,
            ),
            table_panel(
                "HA files per hub",
                "Each hub's CFEngine HA files (ha_info.json, ha.cfg, master_hub.dat, the "
                "markers ha_enabled and am_policy_hub). Red: the verdict's reasons "
                "cfengine_ha_config, ha_cfg_invalid or policy_hub_marker_missing say what to fix.",
                [Q(is_one(per_hub("cfha_cfengine_file_state", ("node", "file", "state"))))],
                transformations=[matrix("file", "node", "state")],
                mappings=[file_state],
                w=7,
                h=8,
            ),
            table_panel(
                "CFEngine daemons per hub",
                "cf-hub must run on the active hub only (red STOPPED: frozen; running on the "
                "passive hub: CfHaCfHubOnPassive), cf-serverd on both (CfHaCfServerdDown).",
                [Q(is_one(per_hub("cfha_cfengine_daemon_state", ("node", "daemon", "state"))))],
                transformations=[matrix("daemon", "node", "state")],
                mappings=[daemon],
                w=7,
                h=8,
            ),
        ),
    )


def disk() -> Section:
    free = per_hub("cfha_disk_filesystem_free_bytes", ("node", "filesystem"))
    needed = (
        f"max by (cluster) ({sel('cfha_disk_reclone_needed_bytes')} "
        f"and on (cluster, node) ({sel('cfha_pg_role', state='primary')} == 1))"
    )
    return Section(
        "Disk and WAL",
        (
            timeseries_panel(
                "Free space",
                "Free bytes of each hub's filesystems: pgdata (where the data directory lives), "
                "and the archive's or /var/cfengine's when they are separate. A steady slope "
                "down: the WAL archive grows (CfHaDiskFillingUp, CfHaDiskFullSoon).",
                [Q(free, "{{node}} {{filesystem}}")],
                unit="bytes",
                w=8,
            ),
            timeseries_panel(
                "What a re-clone copies, per hub",
                "Databases, pg_wal and the WAL archive inside the data directory (data/pg_arch, "
                "which nothing prunes in CFEngine's guide). The archive is usually the one "
                "that grows.",
                [Q(per_hub("cfha_disk_data_bytes", ("node", "part")), "{{node}} {{part}}")],
                unit="bytes",
                stacked=True,
                w=8,
            ),
            timeseries_panel(
                "Re-clone of the primary: needed and free",
                "What a re-clone of the primary needs (the headroom factor included) against the "
                "free space beside each hub's data directory. A standby below the line could not "
                "be re-synced (CfHaReCloneWouldNotFit).",
                [
                    Q(needed, "needed"),
                    Q(
                        per_hub("cfha_disk_filesystem_free_bytes", filesystem="pgdata"),
                        "free on {{node}}",
                    ),
                    Q(
                        per_hub("cfha_pg_slot_retained_wal_bytes", ("node", "slot")),
                        "WAL kept by slot {{slot}} on {{node}}",
                    ),
                ],
                unit="bytes",
                w=8,
            ),
        ),
    )


def build() -> dash.Dashboard:
    return assemble(
        uid=UID,
        title="cfha / Failover readiness",
        description="What breaks a failover above the database, and what Mission Portal shows.",
        sections=[views(), keys(), files(), disk()],
    )
