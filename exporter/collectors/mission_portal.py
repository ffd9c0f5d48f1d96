"""Mission Portal's configuration on this hub: a digest of each file CFEngine's ha.cf copies
from the active hub, for the alert rules to compare across the two hubs
(`clusterstate.mission_portal`; the content is never published nor logged).

Example output (`cluster` label left out)::

    cfha_mission_portal_config_state{file="config.php",node="hub2",state="ok"} 1.0
    cfha_mission_portal_config_digest{file="config.php",node="hub2"} 2.4e+14

The files hold Mission Portal's database, LDAP and API secrets: set `digest_key_file` to the
same secret on both hubs, so that a digest cannot confirm a guessed password (clusterstate/
digest.py). A file that cannot be read fails the collector (`permission`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clusterstate.digest import Digester
from clusterstate.mission_portal import (
    CONFIG_STATE_HELP,
    CONFIG_STATES,
    DEFAULT_NOTIFICATION_SCRIPTS,
    NAMES,
    MissionPortalConfig,
    read_mission_portal_config,
)
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting


class MissionPortalConfigSettings(CollectorSettings):
    workdir: Path = setting(
        default=Path("/var/cfengine"),
        description="CFEngine's work directory (Mission Portal's files are under httpd/htdocs).",
    )
    notification_scripts: Path = setting(
        default=DEFAULT_NOTIFICATION_SCRIPTS,
        description="The alert notification scripts directory ha.cf syncs as well.",
    )
    digest_key_file: Path | None = setting(
        default=None,
        description="A file holding a secret key for the digests (the same on both hubs); "
        "without one, a digest of a file with a weak password lets a guess be checked.",
    )


N = ("node",)
CONFIG_STATE = MetricSpec(
    "cfha_mission_portal_config_state",
    "Each Mission Portal file ha.cf syncs from the active hub, on this hub.",
    kind=Kind.STATESET,
    labels=(*N, "file"),
    states=CONFIG_STATES,
    state_help=CONFIG_STATE_HELP,
)
CONFIG_DIGEST = MetricSpec(
    "cfha_mission_portal_config_digest",
    "A 48-bit digest (keyed, see digest_key_file) of each synced file (notification_scripts: "
    "of the whole tree); the rules compare it across the hubs.",
    labels=(*N, "file"),
)


class MissionPortalCollector:
    name: ClassVar[str] = "mission_portal"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (CONFIG_STATE, CONFIG_DIGEST)

    def __init__(self, config: MissionPortalConfigSettings, node: str) -> None:
        self._config = config
        self._node = node

    def collect(self, out: MetricWriter) -> MissionPortalConfig:
        key_file = self._config.digest_key_file
        try:
            key = key_file.read_bytes().strip() if key_file is not None else b""
        except OSError as exc:
            raise CollectorError("permission", f"{key_file}: {exc.strerror or exc}") from exc
        found = read_mission_portal_config(
            self._config.workdir, self._config.notification_scripts, Digester(key)
        )
        for name in NAMES:
            out.state(CONFIG_STATE, found.states[name], node=self._node, file=name)
            out.gauge(CONFIG_DIGEST, found.digests.get(name), node=self._node, file=name)
        if not self._config.workdir.is_dir():
            message = f"{self._config.workdir} does not exist: CFEngine is not installed here"
            raise CollectorError("unavailable", message, partial=out, facts=found)
        if found.unreadable:
            detail = "; ".join(found.errors[n] for n in found.unreadable)
            raise CollectorError("permission", detail, partial=out, facts=found)
        return found
