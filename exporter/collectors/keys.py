"""The trust keys on this hub: how many hosts it trusts (`ppkeys`) and the hub keys clients copy
(`ppkeys_hubs`), read by `clusterstate.cfengine_keys` (names and sizes only, never a key).

Example output (`cluster` label left out)::

    cfha_cfengine_key_directory_state{directory="ppkeys",node="hub2",state="ok"} 1.0
    cfha_cfengine_key_files{directory="ppkeys",node="hub2"} 10002.0
    cfha_cfengine_key_files{directory="ppkeys_hubs",node="hub2"} 2.0

Which keys are *missing* needs ha_info.json and cfdb as well: the derived `readiness` collector
compares (`cfha_cfengine_hub_key_state`, `cfha_cfengine_client_keys_missing`). A listing is
kept while the directory is unchanged, so 10,000 client keys cost one stat() per scrape.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clusterstate.cfengine_keys import PPKEYS, PPKEYS_HUBS, TrustKeys, TrustKeysReader
from exporter.collectors.settings import CollectorSettings
from exporter.scrape import CollectorError
from servicekit.metrics import Kind, MetricSpec, MetricWriter
from servicekit.settings import setting

DIRECTORY_STATES = ("ok", "missing", "unreadable")


class KeysConfig(CollectorSettings):
    workdir: Path = setting(
        default=Path("/var/cfengine"),
        description="CFEngine's work directory, holding ppkeys/ and ppkeys_hubs/.",
    )


N = ("node",)
DIRECTORY_STATE = MetricSpec(
    "cfha_cfengine_key_directory_state",
    "Whether each key directory (ppkeys, ppkeys_hubs) could be listed.",
    kind=Kind.STATESET,
    labels=(*N, "directory"),
    states=DIRECTORY_STATES,
    state_help=(
        "listed",
        "does not exist",
        "cannot be listed (permissions: see docs/operations.md)",
    ),
)
FILES = MetricSpec(
    "cfha_cfengine_key_files",
    "Host key files (`<user>-<hostkey>.pub`) in each key directory; ppkeys holds one per trusted "
    "host, the other hubs included.",
    labels=(*N, "directory"),
)


class KeysCollector:
    name: ClassVar[str] = "keys"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (DIRECTORY_STATE, FILES)

    def __init__(self, config: KeysConfig, node: str, reader: TrustKeysReader | None = None):
        self._node = node
        self._workdir = config.workdir
        self._reader = reader or TrustKeysReader(config.workdir)

    def collect(self, out: MetricWriter) -> TrustKeys:
        keys = self._reader.read()
        failed = []
        for name, directory in ((PPKEYS, keys.ppkeys), (PPKEYS_HUBS, keys.ppkeys_hubs)):
            state = {True: "ok", False: "missing", None: "unreadable"}[directory.present]
            out.state(DIRECTORY_STATE, state, node=self._node, directory=name)
            if directory.present:
                out.gauge(FILES, len(directory.hostkeys), node=self._node, directory=name)
            if directory.present is None:
                failed.append(directory)
        if not self._workdir.is_dir():
            raise CollectorError(
                "unavailable",
                f"{self._workdir} does not exist: CFEngine is not installed here",
                partial=out,
                facts=keys,
            )
        if failed:
            reason = failed[0].error_reason or "unavailable"
            detail = "; ".join(d.error or d.path for d in failed)
            raise CollectorError(reason, detail, partial=out, facts=keys)
        return keys
