"""The status document: one scrape's verdict and the facts behind it, as `/api/status` serves it
and as the page at `/` renders it (schema in docs/status-page.md). Pure: a Scrape in, a dict out.
"""

from __future__ import annotations

from typing import Any

from clusterstate.cfdb import HubFacts
from clusterstate.daemons import Daemons
from clusterstate.diagnosis import Diagnosis
from clusterstate.parsers.pg_messages import CAUSE_HELP
from clusterstate.postgres import PgFacts
from exporter import __version__
from exporter.collectors.disk import DiskFacts
from exporter.collectors.readiness_model import ReadinessFacts
from exporter.collectors.verdict_model import Verdict
from exporter.collectors.verdict_reasons import BY_CODE
from exporter.scrape import Scrape

SCHEMA_VERSION = 1
CAUSE_RUNBOOKS = "alerts/runbooks/causes"


def status_document(scrape: Scrape, now: float) -> dict[str, Any]:
    verdict = scrape.facts("verdict", Verdict)
    pg = scrape.facts("postgres", PgFacts)
    hub = scrape.facts("hub", HubFacts)
    readiness = scrape.facts("readiness", ReadinessFacts)
    status = "unknown" if verdict is None else "degraded" if verdict.degraded else "ok"
    return {
        "schema": SCHEMA_VERSION,
        "cluster": scrape.cluster,
        "node": scrape.node,
        "version": __version__,
        "observed_at": scrape.started_at,
        "observed_age_seconds": max(0.0, now - scrape.started_at),
        "status": status,
        "checked": sum(1 for f in verdict.findings if f.status != "unknown") if verdict else 0,
        "reasons": [
            {
                "code": f.code,
                "sentence": BY_CODE[f.code].sentence,
                "details": list(f.details),
            }
            for f in (verdict.holding if verdict else ())
        ],
        "unchecked": [
            {"code": f.code, "sentence": BY_CODE[f.code].sentence}
            for f in (verdict.unknown if verdict else ())
        ],
        "hubs": [
            {
                "node": h.node,
                "ip": h.ip,
                "role": h.role,
                "local": h.local,
                "state_as_of": h.state_as_of,
                "state_age_seconds": _age(now, h.state_as_of),
                "state_stale": h.stale,
            }
            for h in (verdict.hubs if verdict else ())
        ],
        "mission_portal": _mission_portal(readiness, status),
        "readiness": _readiness(
            readiness, scrape.facts("daemons", Daemons), scrape.facts("disk", DiskFacts)
        ),
        "replication": _replication(pg),
        "diagnosis": _diagnosis(scrape.facts("diagnosis", Diagnosis)),
        "reports": _reports(hub, now),
        "collectors": [
            {
                "name": r.name,
                "ok": r.ok,
                "reason": r.reason,
                "message": r.message,
                "duration_seconds": r.duration_seconds,
            }
            for r in sorted(scrape.results.values(), key=lambda r: r.name)
        ],
        "links": {"metrics": "metrics", "api": "api/status", "health": "healthz"},
    }


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else max(0.0, now - then)


def _replication(pg: PgFacts | None) -> dict[str, Any] | None:
    if pg is None:
        return None
    doc: dict[str, Any] = {
        "up": pg.up,
        "role": pg.role,
        "lag_seconds": None,
        "lag_bytes": None,
        "standbys": [],
        "receiver": None,
    }
    if pg.role == "primary":
        doc["standbys"] = [
            {
                "name": s.name,
                "state": s.state,
                "lag_bytes": (s.lag_bytes or {}).get("replay"),
                "lag_seconds": (s.lag_seconds or {}).get("replay"),
            }
            for s in pg.standbys
        ]
        connected = [s for s in doc["standbys"] if s["state"] != "disconnected"]
        doc["lag_bytes"] = _max(s["lag_bytes"] for s in connected)
        doc["lag_seconds"] = _max(s["lag_seconds"] for s in connected)
    elif pg.role == "standby":
        doc["receiver"] = pg.receiver.status if pg.receiver else "absent"
        doc["lag_seconds"] = pg.replay_lag_seconds
        if pg.replay_lag_seconds is not None:
            doc["lag_bytes"] = pg.replay_pending_bytes
    return doc


def _diagnosis(d: Diagnosis | None) -> dict[str, Any] | None:
    """Why this hub's standby does not stream: the cause, the words it came from, the runbook."""
    if d is None:
        return None
    return {
        **d.as_dict(),
        "sentence": CAUSE_HELP[d.cause],
        "runbook": f"{CAUSE_RUNBOOKS}/{d.cause.value}.md",
    }


def _max(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _reports(hub: HubFacts | None, now: float) -> dict[str, Any] | None:
    if hub is None or not hub.up:
        return None
    doc: dict[str, Any] = {
        "data_as_of": hub.data_as_of,
        "data_age_seconds": _age(now, hub.data_as_of),
        "horizon_seconds": hub.horizon_seconds,
        "window_seconds": hub.window_seconds,
        "hosts": None,
        "within_horizon": None,
        "beyond_horizon": None,
        "never_collected": None,
        "agent_fail": None,
        "collections_failed": None,
        "connection_errors": None,
        "missing_schema": list(hub.missing),
    }
    if hub.hosts is not None:
        doc.update(
            hosts=hub.hosts.live,
            within_horizon=hub.hosts.within_horizon,
            beyond_horizon=hub.hosts.beyond_horizon,
            never_collected=hub.hosts.never_collected,
        )
    if hub.agents is not None:
        doc["agent_fail"] = hub.agents["fail"]
    if hub.collections is not None:
        doc["collections_failed"] = hub.collections["failed"]
    if hub.connection_errors is not None:
        doc["connection_errors"] = dict(hub.connection_errors)
    return doc


def _mission_portal(r: ReadinessFacts | None, cfha_status: str) -> dict[str, Any]:
    """What Mission Portal's HA badge would show, beside cfha's own verdict."""
    view = r.mission_portal if r is not None else None
    if view is None:
        return {"status": "unknown", "badge": None, "summary": None, "hubs": [], "agrees": None}
    status = "degraded" if view.degraded else "ok"
    return {
        "status": status,
        "badge": status.upper(),
        "summary": view.summary,
        "hubs": [{"node": node, "role": role} for node, role in view.roles.items()],
        "agrees": None if cfha_status == "unknown" else status == cfha_status,
    }


def _readiness(
    r: ReadinessFacts | None,
    d: Daemons | None,
    disk: DiskFacts | None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "hub_keys": None,
        "client_keys": None,
        "client_keys_missing": None,
        "daemons": None,
        "filesystems": [],
        "reclone_needed_bytes": None,
        "reclone_fits": None,
    }
    if r is not None and r.hub_keys is not None:
        doc["hub_keys"] = [{"hub_ip": k.hub_ip, "state": k.state} for k in r.hub_keys]
    if r is not None and r.client_keys is not None:
        doc["client_keys"] = r.client_keys.trusted
        doc["client_keys_missing"] = r.client_keys.missing
    if r is not None and r.reclone is not None:
        doc["reclone_needed_bytes"] = r.reclone.needed_bytes
        doc["reclone_fits"] = r.reclone.fits
    if d is not None:
        doc["daemons"] = {name: state.state for name, state in d.states.items()}
    if disk is not None:
        doc["filesystems"] = [
            {
                "name": name,
                "free_bytes": fs.free_bytes,
                "size_bytes": fs.size_bytes,
                "free_inodes": fs.free_inodes,
            }
            for name, fs in disk.filesystems.items()
        ]
    return doc
