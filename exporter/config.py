"""Exporter configuration: a YAML file validated up front, every error reported at once.

Each collector owns its config model (in its own module); this file assembles them. Unknown keys
are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

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
from servicekit.config import (
    ConfigError,
    StrictModel,
    parse_listen_address,
    read_yaml,
    validation_messages,
)

__all__ = ["ConfigError", "ExporterConfig", "load_config", "parse_listen_address"]

DEFAULT_LISTEN_ADDRESS = ":9732"


class WebConfig(StrictModel):
    listen_address: str = DEFAULT_LISTEN_ADDRESS

    @field_validator("listen_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        parse_listen_address(value)
        return value


class CollectorsConfig(StrictModel):
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    pacemaker: PacemakerConfig = Field(default_factory=PacemakerConfig)
    corosync: CorosyncConfig = Field(default_factory=CorosyncConfig)
    pgsql_agent: PgsqlAgentConfig = Field(default_factory=PgsqlAgentConfig)
    diagnosis: DiagnosisConfig = Field(default_factory=DiagnosisConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    cfengine: CfengineConfig = Field(default_factory=CfengineConfig)
    keys: KeysConfig = Field(default_factory=KeysConfig)
    mission_portal: MissionPortalConfigSettings = Field(default_factory=MissionPortalConfigSettings)
    daemons: DaemonsConfig = Field(default_factory=DaemonsConfig)
    disk: DiskConfig = Field(default_factory=DiskConfig)
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    verdict: VerdictConfig = Field(default_factory=VerdictConfig)


class ExporterConfig(StrictModel):
    cluster: str | None = Field(
        default=None,
        description="Cluster name for the `cluster` label; default: pacemaker's cluster-name.",
    )
    node: str | None = Field(
        default=None,
        description="This hub's pacemaker node name; default: `uname -n` (the pgsql agent's rule).",
    )
    web: WebConfig = Field(default_factory=WebConfig)
    collectors: CollectorsConfig = Field(default_factory=CollectorsConfig)

    @property
    def node_name(self) -> str:
        return self.node or os.uname().nodename


def load_config(path: Path | None) -> ExporterConfig:
    """Read and validate the config file (None: all defaults). Raises ConfigError."""
    if path is None:
        return ExporterConfig()
    data = read_yaml(path)
    return config_from_mapping(data if data is not None else {}, str(path))


def config_from_mapping(data: Any, source: str = "<config>") -> ExporterConfig:
    try:
        return ExporterConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_messages(exc)) from exc
