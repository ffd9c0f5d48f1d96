"""The collectors this exporter has, and how to build the enabled ones from the configuration.

Adding a collector: write `exporter/collectors/<name>.py` (its config model, metric declarations
and collector class), add its config section to `CollectorsConfig` and an entry here. The CLI
flags `--collector.<name>` / `--no-collector.<name>` and the metrics reference follow from this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector

from clusterstate.tools import CommandRunner, SubprocessRunner
from exporter.collectors.cfengine import CfengineCollector
from exporter.collectors.corosync import CorosyncCollector
from exporter.collectors.daemons import DaemonsCollector
from exporter.collectors.diagnosis import DiagnosisCollector
from exporter.collectors.disk import DiskCollector
from exporter.collectors.hub import HubCollector
from exporter.collectors.keys import KeysCollector
from exporter.collectors.mission_portal import MissionPortalCollector
from exporter.collectors.pacemaker import PacemakerCollector
from exporter.collectors.pgsql_agent import PgsqlAgentCollector
from exporter.collectors.postgres import PostgresCollector
from exporter.collectors.readiness import ReadinessCollector
from exporter.collectors.settings import CollectorSettings
from exporter.collectors.verdict import VerdictCollector
from exporter.config import ExporterConfig
from exporter.scrape import (
    SELF_METRICS,
    Collector,
    DerivedCollector,
    ScheduledCollector,
    Scraper,
    ScrapeRegistryAdapter,
)
from servicekit.metrics import MetricSpec


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


@dataclass(frozen=True)
class DerivedEntry:
    """A collector that runs after the others, on the facts they returned."""

    name: str
    description: str
    metrics: Sequence[MetricSpec]
    build: Callable[[Any, BuildContext], DerivedCollector]


def _database(ctx: BuildContext) -> tuple[str, Path | None]:
    """The postgres collector's database: the hub and disk collectors use it unless told."""
    postgres = ctx.config.collectors.postgres
    return postgres.conninfo, postgres.password_file


COLLECTORS: tuple[CollectorEntry, ...] = (
    CollectorEntry(
        "postgres",
        "PostgreSQL replication as this hub's database sees it",
        PostgresCollector.metrics,
        lambda cfg, ctx: PostgresCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "pacemaker",
        "Pacemaker's cluster view (crm_mon) and configuration (cibadmin)",
        PacemakerCollector.metrics,
        lambda cfg, ctx: PacemakerCollector(cfg, ctx.node, ctx.runner),
    ),
    CollectorEntry(
        "corosync",
        "Corosync quorum, membership and knet links as this hub sees them",
        CorosyncCollector.metrics,
        lambda cfg, ctx: CorosyncCollector(cfg, ctx.node, ctx.runner),
    ),
    CollectorEntry(
        "hub",
        "CFEngine hub reporting from this hub's cfdb (hosts, collections, each hub's last report)",
        HubCollector.metrics,
        lambda cfg, ctx: HubCollector(
            cfg,
            ctx.node,
            database=_database(ctx),
        ),
    ),
    CollectorEntry(
        "cfengine",
        "CFEngine HA files on this hub (ha_info.json, master_hub.dat, ha.cfg, markers)",
        CfengineCollector.metrics,
        lambda cfg, ctx: CfengineCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "keys",
        "CFEngine's trust keys on this hub (ppkeys, ppkeys_hubs; names and sizes only)",
        KeysCollector.metrics,
        lambda cfg, ctx: KeysCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "mission_portal",
        "Digests of the Mission Portal files CFEngine syncs from the active hub",
        MissionPortalCollector.metrics,
        lambda cfg, ctx: MissionPortalCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "daemons",
        "CFEngine's cf-hub and cf-serverd on this hub (pid files)",
        DaemonsCollector.metrics,
        lambda cfg, ctx: DaemonsCollector(cfg, ctx.node),
    ),
    CollectorEntry(
        "disk",
        "Filesystems of the data directory and /var/cfengine; databases, pg_wal, WAL archive",
        DiskCollector.metrics,
        lambda cfg, ctx: DiskCollector(cfg, ctx.node, database=_database(ctx)),
    ),
)
# Derived collectors run in this order, each seeing the results of those before it.
DERIVED: tuple[DerivedEntry, ...] = (
    DerivedEntry(
        "pgsql_agent",
        "The pgsql resource agent's attributes (from pacemaker's facts) and PGSQL.lock here",
        PgsqlAgentCollector.metrics,
        lambda cfg, ctx: PgsqlAgentCollector(
            cfg, ctx.node, ctx.config.collectors.pacemaker.database_resource
        ),
    ),
    DerivedEntry(
        "readiness",
        "Failover readiness above the database: keys, Mission Portal's view, re-clone room",
        ReadinessCollector.metrics,
        lambda cfg, ctx: ReadinessCollector(cfg, ctx.node),
    ),
    DerivedEntry(
        "diagnosis",
        "Why this hub's standby does not stream: one cause, from its log, pg_controldata and a "
        "replication handshake with the primary (docs/diagnosis.md)",
        DiagnosisCollector.metrics,
        lambda cfg, ctx: DiagnosisCollector(cfg, ctx.node, ctx.runner),
    ),
    DerivedEntry(
        "verdict",
        "the HA verdict (OK / DEGRADED and its reasons) from the other collectors' facts",
        VerdictCollector.metrics,
        lambda cfg, ctx: VerdictCollector(cfg, ctx.node),
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
        e.build(section(config, e.name), ctx) for e in DERIVED if e.name in wanted
    ]
    return scheduled, derived


def all_metric_specs() -> list[tuple[str, Sequence[MetricSpec]]]:
    """Every declared metric, grouped by collector, the exporter's own metrics last."""
    return [(e.name, e.metrics) for e in COLLECTORS + DERIVED] + [("exporter", SELF_METRICS)]


def metric_sections() -> list[tuple[str, Sequence[MetricSpec]]]:
    """The exporter's metrics for the generated reference (docs/metrics.md)."""
    return [
        (f"cfha-exporter: collector `{name}`" if name != "exporter" else "cfha-exporter itself",
         specs)
        for name, specs in all_metric_specs()
    ]  # fmt: skip


def declared_metrics() -> list[MetricSpec]:
    """Every metric any collector or the framework may publish, flat."""
    return [spec for _, specs in all_metric_specs() for spec in specs]


def metrics_registry(scraper: Scraper) -> CollectorRegistry:
    """What `/metrics` serves: the scrape's families and the process's own `process_*`, each
    family described by name so that `/metrics?name[]=...` can select it."""
    registry = CollectorRegistry(auto_describe=True)  # ProcessCollector has no describe()
    registry.register(ScrapeRegistryAdapter(scraper, declared_metrics()))
    ProcessCollector(registry=registry)
    return registry
