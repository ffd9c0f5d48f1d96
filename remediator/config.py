"""Remediator configuration: one YAML file, validated up front, every error reported with its path.

Unknown keys are errors, so a typo never silently falls back to a default. Facts about the
cluster (data directory, PostgreSQL user, the primary's address) are *not* configured here: they
are read live from the CIB; the `postgres` section only holds explicit overrides.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clusterstate.timezone import valid_zone_name
from servicekit.config import ConfigError, parse_listen_address, read_yaml

__all__ = [
    "ConfigError",
    "RemediatorConfig",
    "StrictModel",
    "config_from_mapping",
    "load_config",
    "parse_listen_address",
    "read_yaml",
    "validation_messages",
]

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9735"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]+\Z")  # \Z: `$` also matches before a final newline


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must never silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validation_messages(exc: ValidationError) -> list[str]:
    """Every pydantic error as 'dotted.path: message'."""
    messages = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        messages.append(f"{path}: {error['msg']}")
    return messages


class TlsConfig(StrictModel):
    certfile: Path
    keyfile: Path
    client_ca_file: Path | None = Field(
        default=None,
        description="Require a client certificate signed by this CA on every connection "
        "(Alertmanager's and Prometheus' tls_config cert_file/key_file), on top of the token.",
    )


class WebConfig(StrictModel):
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    token_file: Path | None = Field(
        default=None,
        description="File holding the bearer token; required unless started with "
        "--insecure-no-auth. Refused when group or others may read it or another user owns it.",
    )
    allow_insecure_token_file: bool = Field(
        default=False,
        description="Start even when the token file is readable by group or others, or owned "
        "by another user (a warning is logged instead).",
    )
    tls: TlsConfig | None = None
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, le=64 * 1024 * 1024)
    threads: int = Field(default=4, ge=1, le=32)
    metrics_require_auth: bool = Field(
        default=False, description="/metrics asks for the bearer token too."
    )

    @field_validator("listen_address")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_listen_address(value)
        return value


class GuardConfig(StrictModel):
    require_fencing: bool = Field(
        default=True,
        description="Refuse every action while stonith is disabled (a two-node cluster without "
        "fencing cannot rule out split brain).",
    )
    failover_freeze_seconds: float = Field(default=900, ge=0)
    pgsql_resource: str = "cfpgsql"
    vip_resource: str = "cfvirtip"
    lock_wait_seconds: float = Field(default=120, ge=0)
    lock_margin_seconds: float = Field(default=300, ge=0)
    poll_interval_seconds: float = Field(default=2.0, gt=0, le=60)

    @field_validator("pgsql_resource", "vip_resource")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must be a pacemaker id ([A-Za-z0-9_.:-]+)")
        return value


class PgsqlOverrides(StrictModel):
    """Overrides of what the CIB's pgsql resource says; leave unset to use the CIB."""

    user: str | None = Field(default=None, description="OS user owning the data (CIB: pgdba)")
    bin_dir: Path | None = Field(default=None, description="PostgreSQL binaries (CIB: pgctl dir)")
    primary_host: str | None = Field(default=None, description="the primary (CIB: master_ip)")
    port: int | None = Field(default=None, gt=0, lt=65536, description="CIB: pgport")
    replication_user: str | None = Field(default=None, description="CIB: repuser")
    monitor_user: str | None = Field(
        default=None, description="role for read-only checks (default: the OS user)"
    )
    database: str = "postgres"
    password_file: Path | None = None
    replication_password_file: Path | None = Field(
        default=None,
        description="the replication user's password, for the diagnosis' handshake, only if "
        "the standby's own primary_conninfo and its OS user's ~/.pgpass do not hold it",
    )
    connect_timeout_seconds: int = Field(default=3, ge=2, le=60)
    statement_timeout_seconds: float = Field(default=5, gt=0, le=60)

    @field_validator("user", "replication_user", "monitor_user", "primary_host", "database")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError("must match [A-Za-z0-9_.:-]+")
        return value


class ToolsConfig(StrictModel):
    # pacemaker's own tools only: their syntax is the same from pacemaker 1.1 to 3.0, where pcs
    # changed between 0.9 and 0.11 (docs/platforms.md)
    crm_resource: str = "crm_resource"
    cibadmin: str = "cibadmin"
    crm_mon: str = "crm_mon"
    corosync_quorumtool: str = "corosync-quorumtool"
    corosync_cfgtool: str = "corosync-cfgtool"
    corosync_cmapctl: str = "corosync-cmapctl"
    crm_simulate: str = "crm_simulate"
    setpriv: str = "setpriv"
    read_timeout_seconds: float = Field(default=15, gt=0, le=120)
    time_zone: str | None = Field(
        default=None,
        description="IANA zone (or zone file) pacemaker's tools print local times in (also "
        "passed to them as TZ); default: $TZ, else /etc/localtime. The exporter's rule.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else valid_zone_name(value)


class RemediatorConfig(StrictModel):
    cluster: str = Field(description="value of the `cluster` label on every metric")
    node: str | None = Field(
        default=None, description="this hub's pacemaker node name (default: uname -n)"
    )
    dry_run: bool = Field(default=False, description="plan and audit everything, run nothing")
    journal: Path = Path("/var/lib/cfha/remediator.db")
    kill_switch_file: Path = Path("/var/lib/cfha/remediator.paused")
    policy_file: Path | None = Field(
        default=None, description="policy YAML (default: the shipped default_policy.yml)"
    )
    redecide_after_seconds: float = Field(
        default=300,
        ge=0,
        description="a repeat of an alert whose last decision was a refusal that can change "
        "with time is decided again after this long (never while a job exists for it)",
    )
    max_queued_jobs: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="jobs waiting for the worker at most; past it a new job is refused "
        "(`queue_full`, decided again on Alertmanager's repeat once there is room)",
    )
    web: WebConfig = Field(default_factory=WebConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    postgres: PgsqlOverrides = Field(default_factory=PgsqlOverrides)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)

    @field_validator("cluster", "node")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError("must match [A-Za-z0-9_.:-]+")
        return value

    @property
    def node_name(self) -> str:
        return self.node or os.uname().nodename


def load_config(path: Path) -> RemediatorConfig:
    return config_from_mapping(read_yaml(path), str(path))


def config_from_mapping(data: Any, source: str = "<config>") -> RemediatorConfig:
    try:
        return RemediatorConfig.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError(source, validation_messages(exc)) from exc
