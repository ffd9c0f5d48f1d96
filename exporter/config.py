"""Exporter configuration: a YAML file validated up front, every error reported at once.

Each collector owns its config model (in its own module); this file assembles them. Unknown keys
are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from exporter.collectors.cfengine import CfengineConfig
from exporter.collectors.corosync import CorosyncConfig
from exporter.collectors.daemons import DaemonsConfig
from exporter.collectors.diagnosis import DiagnosisConfig
from exporter.collectors.disk import DiskConfig
from exporter.collectors.hub import HubConfig
from exporter.collectors.keys import KeysConfig
from exporter.collectors.mission_portal import MissionPortalConfigSettings
from exporter.collectors.pacemaker import PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentConfig
from exporter.collectors.postgres import PostgresConfig
from exporter.collectors.readiness import ReadinessConfig
from exporter.collectors.verdict import VerdictConfig
from servicekit.config import ConfigError, parse_listen_address, read_yaml
from servicekit.settings import Settings, parse_settings, setting

__all__ = ["ConfigError", "ExporterConfig", "load_config", "parse_listen_address"]

DEFAULT_LISTEN_ADDRESS = ":9732"


def _listen_address(value: str, _: object) -> str:
    parse_listen_address(value)
    return value


class WebConfig(Settings):
    listen_address: str = setting(default=DEFAULT_LISTEN_ADDRESS, check=_listen_address)


class CollectorsConfig(Settings):
    postgres: PostgresConfig = setting(default_factory=PostgresConfig)
    pacemaker: PacemakerConfig = setting(default_factory=PacemakerConfig)
    corosync: CorosyncConfig = setting(default_factory=CorosyncConfig)
    pgsql_agent: PgsqlAgentConfig = setting(default_factory=PgsqlAgentConfig)
    diagnosis: DiagnosisConfig = setting(default_factory=DiagnosisConfig)
    hub: HubConfig = setting(default_factory=HubConfig)
    cfengine: CfengineConfig = setting(default_factory=CfengineConfig)
    keys: KeysConfig = setting(default_factory=KeysConfig)
    mission_portal: MissionPortalConfigSettings = setting(
        default_factory=MissionPortalConfigSettings
    )
    daemons: DaemonsConfig = setting(default_factory=DaemonsConfig)
    disk: DiskConfig = setting(default_factory=DiskConfig)
    readiness: ReadinessConfig = setting(default_factory=ReadinessConfig)
    verdict: VerdictConfig = setting(default_factory=VerdictConfig)


class ExporterConfig(Settings):
    cluster: str | None = setting(
        default=None,
        description="Cluster name for the `cluster` label; default: pacemaker's cluster-name.",
    )
    node: str | None = setting(
        default=None,
        description="This hub's pacemaker node name; default: `uname -n` (the pgsql agent's rule).",
    )
    web: WebConfig = setting(default_factory=WebConfig)
    collectors: CollectorsConfig = setting(default_factory=CollectorsConfig)

    @property
    def node_name(self) -> str:
        return self.node or os.uname().nodename


def load_config(path: Path | None) -> ExporterConfig:
    """Read and validate the config file (None: all defaults). Raises ConfigError."""
    if path is None:
        return ExporterConfig()
    return config_from_mapping(read_yaml(path), str(path))


def config_from_mapping(data: Any, source: str = "<config>") -> ExporterConfig:
    return parse_settings(ExporterConfig, data, source)
