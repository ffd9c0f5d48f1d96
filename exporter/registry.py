"""The collectors this exporter has, and how to build the enabled ones from the configuration.

Adding a collector: write `exporter/collectors/<name>.py` (its config model, metric declarations
and collector class), add its config section to `CollectorsConfig` and an entry here. The CLI
flags `--collector.<name>` / `--no-collector.<name>` and the metrics reference follow from this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.collectors.cfengine import CfengineCollector
from exporter.collectors.hub import HubCollector
from exporter.collectors.postgres import PostgresCollector
from exporter.collectors.verdict import VerdictCollector
from exporter.commands import CommandRunner, SubprocessRunner
from exporter.config import ExporterConfig
from exporter.config_base import CollectorSettings
from exporter.metrics import MetricSpec
from exporter.scrape import SELF_METRICS, Collector, DerivedCollector, ScheduledCollector


@dataclass(frozen=True)
class BuildContext:
    """What collectors may need besides their own config section."""

    config: ExporterConfig
    node: str
    runner: CommandRunner


@dataclass(frozen=True)
class CollectorEntry:
    name: str
    description: str
    metrics: Sequence[MetricSpec]
    build: Callable[[Any, BuildContext], Collector]


COLLECTORS: tuple[CollectorEntry, ...] = (
    CollectorEntry(
        "postgres",
        "PostgreSQL replication as this hub's database sees it",
        PostgresCollector.metrics,
        lambda cfg, ctx: PostgresCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "hub",
        "CFEngine hub reporting from this hub's cfdb (hosts, collections, each hub's last report)",
        HubCollector.metrics,
        lambda cfg, ctx: HubCollector(
            cfg,
            ctx.node,
            database=(
                ctx.config.collectors.postgres.conninfo,
                ctx.config.collectors.postgres.password_file,
            ),
        ),
    ),
    CollectorEntry(
        "cfengine",
        "CFEngine HA files on this hub (ha_info.json, master_hub.dat, ha_enabled)",
        CfengineCollector.metrics,
        lambda cfg, ctx: CfengineCollector(cfg, ctx.node),
    ),
)
DERIVED: tuple[CollectorEntry, ...] = (
    CollectorEntry(
        "verdict",
        "the HA verdict (OK / DEGRADED and its reasons) from the other collectors' facts",
        VerdictCollector.metrics,
        lambda cfg, ctx: VerdictCollector(cfg, ctx.node),  # type: ignore[arg-type,return-value]
    ),
)


def section(config: ExporterConfig, name: str) -> CollectorSettings:
    settings = getattr(config.collectors, name)
    assert isinstance(settings, CollectorSettings)
    return settings


def enabled_names(config: ExporterConfig, overrides: Mapping[str, bool | None]) -> list[str]:
    """Collector names to run: the command-line flag wins over the config file."""
    names = []
    for entry in COLLECTORS + DERIVED:
        flag = overrides.get(entry.name)
        if flag if flag is not None else section(config, entry.name).enabled:
            names.append(entry.name)
    return names


def build_collectors(
    config: ExporterConfig,
    overrides: Mapping[str, bool | None],
    runner: CommandRunner | None = None,
) -> tuple[list[ScheduledCollector], list[DerivedCollector]]:
    ctx = BuildContext(config=config, node=config.node_name, runner=runner or SubprocessRunner())
    wanted = set(enabled_names(config, overrides))
    scheduled = [
        ScheduledCollector(
            e.build(section(config, e.name), ctx), section(config, e.name).deadline_seconds
        )
        for e in COLLECTORS
        if e.name in wanted
    ]
    derived: list[DerivedCollector] = [
        e.build(section(config, e.name), ctx)  # type: ignore[misc]
        for e in DERIVED
        if e.name in wanted
    ]
    return scheduled, derived


def all_metric_specs() -> list[tuple[str, Sequence[MetricSpec]]]:
    """Every declared metric, grouped by collector, the exporter's own metrics last."""
    return [(e.name, e.metrics) for e in COLLECTORS + DERIVED] + [("exporter", SELF_METRICS)]
