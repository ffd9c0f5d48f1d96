"""The remediator's live reading of the cluster: the shared reader (`clusterstate.read`) wired to
this configuration. Every read goes through the CommandRunner (argv, timeout, C locale) and the
same readers the exporter uses; nothing here parses anything.
"""

from __future__ import annotations

from clusterstate.corosync import CorosyncReader, CorosyncSettings
from clusterstate.diagnosis_read import DiagnosisReader, DiagnosisSettings
from clusterstate.pacemaker import PacemakerReader, PacemakerSettings
from clusterstate.postgres_read import ConnectionSettings, PgsqlConnections
from clusterstate.read import ClusterStateReader, PostgresAccess
from clusterstate.tools import CommandRunner, SubprocessRunner
from remediator.config import RemediatorConfig
from remediator.lock import ClusterLock
from remediator.services import Services


def pacemaker_settings(config: RemediatorConfig) -> PacemakerSettings:
    tools, timeout = config.tools, config.tools.read_timeout_seconds
    return PacemakerSettings(
        database_resource=config.guard.pgsql_resource,
        vip_resource=config.guard.vip_resource,
        crm_mon_path=tools.crm_mon,
        cibadmin_path=tools.cibadmin,
        crm_mon_timeout_seconds=timeout,
        cibadmin_timeout_seconds=timeout,
        cib_max_age_seconds=0,  # every decision reads the CIB afresh
        time_zone=tools.time_zone,
    )


def connection_settings(config: RemediatorConfig) -> ConnectionSettings:
    pg = config.postgres
    return ConnectionSettings(
        database=pg.database,
        user=pg.user,
        monitor_user=pg.monitor_user,
        port=pg.port,
        primary_host=pg.primary_host,
        password_file=pg.password_file,
        connect_timeout_seconds=pg.connect_timeout_seconds,
        statement_timeout_seconds=pg.statement_timeout_seconds,
    )


def cluster_reader(
    config: RemediatorConfig, runner: CommandRunner, postgres: PostgresAccess | None = None
) -> ClusterStateReader:
    """The remediator's reader; `postgres` replaces the real connections (tests, saved CIBs)."""
    tools = config.tools
    return ClusterStateReader(
        PacemakerReader(pacemaker_settings(config), config.node_name, runner),
        local_node=config.node_name,
        corosync=CorosyncReader(
            CorosyncSettings(
                quorumtool_path=tools.corosync_quorumtool,
                cfgtool_path=tools.corosync_cfgtool,
                cmapctl_path=tools.corosync_cmapctl,
                command_timeout_seconds=tools.read_timeout_seconds,
            ),
            config.node_name,
            runner,
        ),
        postgres=postgres or PgsqlConnections(connection_settings(config)),
        diagnosis=DiagnosisReader(diagnosis_settings(config), runner),
    )


def diagnosis_settings(config: RemediatorConfig) -> DiagnosisSettings:
    pg = config.postgres
    return DiagnosisSettings(
        pg_bin_dir=str(pg.bin_dir) if pg.bin_dir else None,
        password_file=pg.replication_password_file,
        controldata_timeout_seconds=config.tools.read_timeout_seconds,
    )


def live_services(config: RemediatorConfig, runner: CommandRunner | None = None) -> Services:
    runner = runner or SubprocessRunner()
    lock = ClusterLock(
        runner, config.tools.cibadmin, config.node_name, config.tools.read_timeout_seconds
    )
    return Services(runner=runner, reader=cluster_reader(config, runner), lock=lock)
