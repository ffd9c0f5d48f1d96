"""Mission Portal's configuration on this hub: the files CFEngine's ha.cf copies from the active
hub.

On a hub that is not active, `ha_hub_sync_config_data` (masterfiles cfe_internal/enterprise/ha/
ha.cf) copies these from the active hub on every agent run; when it stops working, a failover
brings up a Mission Portal with other logins, LDAP settings or API keys. This reader keeps a
digest of each (`clusterstate.digest`; never the content), and the alert rules compare them
across the two hubs: one hub alone cannot tell which copy is the right one.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from clusterstate.digest import Digester

HTDOCS = PurePosixPath("httpd/htdocs")
CONFIG_FILES: dict[str, PurePosixPath] = {
    "cf_robot.php": HTDOCS / "application/config/cf_robot.php",
    "appsettings.php": HTDOCS / "application/config/appsettings.php",
    "config.php": HTDOCS / "application/config/config.php",
    "ldap/config/settings.php": HTDOCS / "ldap/config/settings.php",
    "api/config/config.php": HTDOCS / "api/config/config.php",
}
NOTIFICATION_SCRIPTS = "notification_scripts"
DEFAULT_NOTIFICATION_SCRIPTS = Path("/opt/cfengine/notification_scripts")
NAMES = (*CONFIG_FILES, NOTIFICATION_SCRIPTS)

CONFIG_STATES = ("ok", "missing", "unreadable")
CONFIG_STATE_HELP = (
    "read, its digest is published",
    "does not exist on this hub",
    "exists but cannot be read (permissions, I/O error)",
)


@dataclass(frozen=True)
class MissionPortalConfig:
    states: Mapping[str, str]  # name -> one of CONFIG_STATES
    digests: Mapping[str, int]  # name -> digest, for the ones read
    errors: Mapping[str, str] = field(default_factory=dict)
    files_in_scripts: int | None = None  # regular files under notification_scripts

    @property
    def unreadable(self) -> tuple[str, ...]:
        return tuple(n for n in NAMES if self.states.get(n) == "unreadable")


def read_mission_portal_config(
    workdir: Path,
    notification_scripts: Path = DEFAULT_NOTIFICATION_SCRIPTS,
    digester: Digester | None = None,
) -> MissionPortalConfig:
    """Digest every file ha.cf syncs; never raises."""
    digester = digester or Digester()
    states: dict[str, str] = {}
    digests: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, relative in CONFIG_FILES.items():
        path = workdir / relative
        try:
            digests[name] = digester.of_bytes(path.read_bytes())
            states[name] = "ok"
        except OSError as exc:
            states[name], errors[name] = _failure(path, exc)
    scripts: int | None = None
    if notification_scripts.is_dir():
        try:
            digests[NOTIFICATION_SCRIPTS], scripts = digester.of_tree(notification_scripts)
            states[NOTIFICATION_SCRIPTS] = "ok"
        except OSError as exc:
            states[NOTIFICATION_SCRIPTS], errors[NOTIFICATION_SCRIPTS] = _failure(
                notification_scripts, exc
            )
    else:
        try:
            notification_scripts.stat()
            problem = f"{notification_scripts} is not a directory"
            states[NOTIFICATION_SCRIPTS], errors[NOTIFICATION_SCRIPTS] = "unreadable", problem
        except OSError as exc:
            states[NOTIFICATION_SCRIPTS], errors[NOTIFICATION_SCRIPTS] = _failure(
                notification_scripts, exc
            )
    return MissionPortalConfig(states, digests, errors, scripts)


def _failure(path: Path, exc: OSError) -> tuple[str, str]:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "missing", f"{path} does not exist"
    return "unreadable", f"{path}: {exc.strerror or exc}"
