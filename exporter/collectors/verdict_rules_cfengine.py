"""The verdict's CFEngine rules: hub reporting, the HA files, and failover readiness above the
database (keys, Mission Portal's files, the daemons, room for a re-clone). Pure, like
`verdict_rules`, which calls them in the order of the reason codes.
"""

from __future__ import annotations

from clusterstate.cfdb_sql import HaInventory
from clusterstate.mission_portal import CONFIG_FILES
from clusterstate.parsers.cfengine_files import documented_ha_cfg, ha_cfg_deviations
from clusterstate.parsers.pgsql_ra import DEFAULT_PGSQL_RESOURCE, PgsqlStatus

from .verdict_model import Status, Thresholds, VerdictInputs
from .verdict_primary import holds_if, primary_known_elsewhere, primary_node, promoted

Result = tuple[Status, tuple[str, ...]]
_LABEL = {"mission_portal": "Mission Portal's blueHostHorizon", "configured": "configured"}


def stale_limit(i: VerdictInputs, t: Thresholds) -> float | None:
    """How old a hub's own report may be: configured, else the horizon in use."""
    if t.hub_report_stale_seconds is not None:
        return t.hub_report_stale_seconds
    return float(i.hub.horizon_seconds) if i.hub is not None else None


# -- hub reporting -----------------------------------------------------------------------------
def reports_stale(i: VerdictInputs, t: Thresholds) -> Result:
    """Each HA hub's own last report against the newest report of any host: when collection as
    a whole stops, every report ages alike and no hub is blamed (`collection_stopped` is)."""
    hub, limit = i.hub, stale_limit(i, t)
    if hub is None or not hub.up or hub.members is None or hub.now is None or limit is None:
        return "unknown", ()
    newest = hub.hosts.last_collection_time if hub.hosts is not None else None
    reference = newest if newest is not None else hub.now
    details = []
    for m in hub.members:
        if not m.is_in_cluster:
            continue
        if m.last_report_time is None:
            details.append(f"{m.name} has never reported")
        elif reference - m.last_report_time > limit:
            age = reference - m.last_report_time
            details.append(f"{m.name} last reported {age:.0f} s before the newest report in cfdb")
    return holds_if(details)


def collection_stopped(i: VerdictInputs) -> Result:
    """The active hub's cf-hub is not collecting: seen at once on the active hub itself (its
    cf-hub absent or stopped), and by both hubs once cfdb's newest report is beyond the horizon."""
    active = primary_node(i)
    local = i.daemons.get("cf-hub") if active == i.node and i.daemons else None
    evidence = []
    if local is not None and local.state in ("absent", "stopped"):
        evidence.append(
            f"cf-hub on {i.node} is {local.state}"
            + (" (frozen)" if local.state == "stopped" else "")
        )
    hub = i.hub
    known = local is not None and local.running is not None
    if hub is not None and hub.up and hub.hosts is not None and hub.data_as_of is not None:
        newest = hub.hosts.last_collection_time
        if newest is None and hub.hosts.live > 0:
            evidence.append("no host has ever been collected")
            known = True
        elif newest is not None:
            known = True
            age = hub.data_as_of - newest
            if age > hub.horizon_seconds:
                source = _LABEL[hub.horizon_source]
                evidence.append(
                    f"the newest report in cfdb is {age:.0f} s old (horizon "
                    f"{hub.horizon_seconds} s, {source})"
                )
    if not evidence:
        return ("clear" if known else "unknown"), ()
    who = f"{active}, the active hub," if active else "the active hub"
    return "holds", (f"cf-hub on {who} is not collecting: " + "; ".join(evidence),)


# -- the HA files ------------------------------------------------------------------------------
def ip_of(i: VerdictInputs, node: str) -> str | None:
    if node == i.node and i.files is not None and i.files.local_hub is not None:
        return i.files.local_hub.ip
    for m in (i.hub.members if i.hub else None) or ():
        if m.name == node:
            return m.ip
    return None


def master_hub(i: VerdictInputs) -> Result:
    f = i.files
    primary = primary_node(i)
    if f is None or f.master_hub_ip is None or primary is None:
        return "unknown", ()
    master = f.master_hub_ip
    names_local = master in f.local_ips
    if primary == i.node:
        if names_local:
            return "clear", ()
        return "holds", (f"master_hub.dat names {master}, the primary is this hub ({i.node})",)
    expected = ip_of(i, primary)
    if names_local or (expected is not None and master != expected):
        shown = expected or "another hub"
        return "holds", (f"master_hub.dat names {master}, the primary is {primary} ({shown})",)
    if expected is None:
        return "unknown", ()
    return "clear", ()


HA_CONFIG_FILES = ("ha_info.json", "masterfiles/ha_info.json", "master_hub.dat", "ha_enabled")


def ha_config(i: VerdictInputs) -> Result:
    f = i.files
    if f is None:
        return "unknown", ()
    details = [f"{name}: {f.errors[name]}" for name in HA_CONFIG_FILES if name in f.errors]
    if f.hubs is not None:
        if len(f.cluster_hubs) < 2:
            details.append(f"ha_info.json lists {len(f.cluster_hubs)} cluster hub(s), not two")
        if f.local_ips and f.local_hub is None:
            details.append(f"ha_info.json does not list this hub ({i.node})")
    return holds_if(details)


def ha_cfg(i: VerdictInputs) -> Result:
    f = i.files
    state = f.file_states.get("ha.cfg") if f is not None else None
    if f is None or state in (None, "unreadable"):
        return "unknown", ()
    if f.ha_cfg is None:
        return "holds", (f"ha.cfg: {f.errors.get('ha.cfg', state)}",)
    pgsql = i.pacemaker.pgsql if i.pacemaker is not None else None
    expected = documented_ha_cfg(pgsql.resource if pgsql else DEFAULT_PGSQL_RESOURCE)
    return holds_if(f"ha.cfg: {d}" for d in ha_cfg_deviations(f.ha_cfg, expected))


def ha_info_drift(i: VerdictInputs) -> Result:
    drift = i.files.ha_info_drift if i.files is not None else None
    if drift is None:
        return "unknown", ()
    if not drift:
        return "clear", ()
    return "holds", ("inputs/…/ha_info.json differs from masterfiles/…/ha_info.json",)


def inventory(i: VerdictInputs, t: Thresholds) -> Result:
    """Each hub's reported HA state against the cluster. A report that agrees is fine at any age;
    one that disagrees counts only once it is recent enough not to predate the last promotion."""
    hub, p, nodes = i.hub, i.pacemaker, promoted(i)
    if hub is None or not hub.up or hub.members is None or p is None or nodes is None:
        return "unknown", ()
    if len(nodes) != 1:
        return "unknown", ()  # no_primary / two_primaries say why
    primary = nodes[0]
    since = (p.last_promotion or 0.0) + t.inventory_settle_seconds
    masters = {ip for ip in (i.files.master_hub_ip if i.files else None,
                             p.pgsql.master_ip if p.pgsql else None,
                             ip_of(i, primary)) if ip}  # fmt: skip
    details: list[str] = []
    judged = unsure = False
    for m in hub.members:
        if not m.is_in_cluster or m.inventory is None:
            continue
        found = _inventory_problems(m.name, m.inventory, primary, masters)
        if found and (m.last_report_time or 0.0) < since:
            unsure = True  # it may have been gathered before the promotion
            continue
        judged = True
        details += found
    if details:
        return "holds", tuple(details)
    return ("clear", ()) if judged and not unsure else ("unknown", ())


def _inventory_problems(name: str, inv: HaInventory, primary: str, masters: set[str]) -> list[str]:
    role = "active" if name == primary else "passive"
    out = []
    if inv.state and inv.state.lower() != role:
        out.append(f"{name} reports HA node state {inv.state}, pacemaker promoted {primary}")
    extended_primary = inv.state_extended == PgsqlStatus.PRI.value
    if inv.state_extended and extended_primary != (role == "active"):
        out.append(f"{name} reports HA node state extended {inv.state_extended}")
    if inv.master_ip and masters and inv.master_ip not in masters:
        out.append(f"{name} reports HA master IP {inv.master_ip}, not {', '.join(sorted(masters))}")
    return out


# -- failover readiness ------------------------------------------------------------------------
def hub_keys(i: VerdictInputs) -> Result:
    r = i.readiness
    known, details = False, []
    if r is not None and r.hub_keys is not None:
        known = True
        details += [
            f"{k.hub_ip}'s key is {k.state.replace('_', ' ')} in ppkeys_hubs"
            for k in r.hub_keys
            if k.state != "ok"
        ]
    if r is not None and r.client_keys is not None and r.client_keys.missing is not None:
        known = True
        if r.client_keys.missing:
            details.append(
                f"{r.client_keys.missing} of cfdb's hosts have no key in {i.node}'s ppkeys"
            )
    return holds_if(details) if known else ("unknown", ())


def mission_portal_config(i: VerdictInputs) -> Result:
    c = i.mission_portal_config
    if c is None:
        return "unknown", ()
    missing = [n for n in CONFIG_FILES if c.states.get(n) == "missing"]
    if not missing and any(c.states.get(n) != "ok" for n in CONFIG_FILES):
        return "unknown", ()
    return holds_if(f"{n} is missing" for n in missing)


def policy_hub_marker(i: VerdictInputs) -> Result:
    present = i.files.policy_hub_marker if i.files is not None else None
    if present is None:
        return "unknown", ()
    return holds_if([] if present else [f"state/am_policy_hub does not exist on {i.node}"])


def cf_hub_on_passive(i: VerdictInputs) -> Result:
    cf_hub = i.daemons.get("cf-hub") if i.daemons else None
    if cf_hub is None or cf_hub.state == "unreadable":
        return "unknown", ()
    if primary_node(i) == i.node:
        return "clear", ()  # the active hub's cf-hub: collection_stopped watches it
    if not primary_known_elsewhere(i):
        return "unknown", ()
    if cf_hub.state in ("running", "stopped"):
        return "holds", (f"cf-hub runs on {i.node}, which is not the active hub",)
    return "clear", ()


def cf_serverd(i: VerdictInputs) -> Result:
    serverd = i.daemons.get("cf-serverd") if i.daemons else None
    if serverd is None or serverd.running is None:
        return "unknown", ()
    return holds_if([] if serverd.running else [f"cf-serverd on {i.node}: {serverd.detail}"])


def reclone(i: VerdictInputs) -> Result:
    room = i.readiness.reclone if i.readiness is not None else None
    if primary_node(i) == i.node:
        return "clear", ()  # the primary is the source of a re-clone, never its target
    if room is None or room.fits is None or not primary_known_elsewhere(i):
        return "unknown", ()
    if room.fits:
        return "clear", ()
    return "holds", (
        f"{_gib(room.free_bytes)} free beside the data directory on {i.node}, "
        f"a re-clone needs at least {_gib(room.needed_bytes)}",
    )


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**30:.1f} GiB"
