"""CFEngine's daemons on this hub: cf-hub (collects reports; the active hub only) and cf-serverd
(serves policy, keys and Mission Portal's files to the other hub and the clients; both hubs),
by their pid files (`clusterstate.daemons`).

Example output on the passive hub (`cluster` label left out)::

    cfha_cfengine_daemon_state{daemon="cf-hub",node="hub2",state="absent"} 1.0
    cfha_cfengine_daemon_state{daemon="cf-serverd",node="hub2",state="running"} 1.0

Where each should run is judged by the verdict (`cf_hub_misplaced`, `cf_serverd_down`), which
knows which hub is active; the alert rules also see cf-hub running on both hubs at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clusterstate.daemons import (
    DAEMON_STATE_HELP,
    DAEMON_STATES,
    DAEMONS,
    Daemons,
    read_daemons,
)
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting


class DaemonsConfig(CollectorSettings):
    pid_directory: Path = setting(
        default=Path("/var/cfengine"),
        description="Where CFEngine's daemons write their pid files (its work directory).",
    )


STATE = MetricSpec(
    "cfha_cfengine_daemon_state",
    "Each CFEngine daemon on this hub (cf-hub, cf-serverd), by its pid file and process.",
    kind=Kind.STATESET,
    labels=("node", "daemon"),
    states=DAEMON_STATES,
    state_help=DAEMON_STATE_HELP,
)


class DaemonsCollector:
    name: ClassVar[str] = "daemons"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (STATE,)

    def __init__(self, config: DaemonsConfig, node: str) -> None:
        self._piddir = config.pid_directory
        self._node = node

    def collect(self, out: MetricWriter) -> Daemons:
        daemons = read_daemons(self._piddir)
        for name in DAEMONS:
            out.state(STATE, daemons.states[name].state, node=self._node, daemon=name)
        if not self._piddir.is_dir():
            message = f"{self._piddir} does not exist: CFEngine is not installed here"
            raise CollectorError("unavailable", message, partial=out, facts=daemons)
        unreadable = [d for d in daemons.states.values() if d.state == "unreadable"]
        if unreadable:
            detail = "; ".join(d.detail or d.name for d in unreadable)
            raise CollectorError("permission", detail, partial=out, facts=daemons)
        return daemons
