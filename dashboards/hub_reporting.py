"""Hub reporting: hosts by report freshness, collection errors, each HA hub's own reports, and
whether cfha-exporter itself can see everything."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.common import BigValueTextMode

from dashboards.fields import (
    BAD,
    INFO,
    OK,
    WARN,
    Column,
    flag_map,
    matrix,
    merge,
    organize,
    state_map,
)
from dashboards.kit import Q, Section, assemble, stat_panel, table_panel, timeseries_panel
from dashboards.queries import active_copy, as_ms, either, per_hub, sel, with_node
from exporter.scrape import FAILURE_REASONS

UID = "cfha-hub-reporting"
HORIZON_S = 900  # the hub collector's default 'not reporting' horizon (Mission Portal's)
BUILD_INFO = "cfha_exporter_build_info"


def host_reports() -> Section:
    newest_age = (
        f"min by (cluster) ({sel('cfha_hub_data_as_of_timestamp_seconds')} - "
        f"{sel('cfha_hub_last_collection_timestamp_seconds')})"
    )
    return Section(
        "Host reports",
        (
            timeseries_panel(
                "Hosts by last report",
                "Known hosts by the time of their last report in cfdb (the active hub's copy): "
                "within the 'not reporting' horizon, beyond it (Mission Portal's 'not "
                "reporting'), or never collected. A rising red band: hosts stopped reporting; "
                "if all of them, cf-hub on the active hub is not collecting (see 'Newest "
                "report'), otherwise look at the connection errors below.",
                [
                    Q(
                        active_copy("cfha_hub_hosts_by_last_report", ("last_report",)),
                        "{{last_report}}",
                    )
                ],
                stacked=True,
                colors={"within_horizon": OK, "beyond_horizon": BAD, "never": WARN},
                w=12,
            ),
            stat_panel(
                "Hosts",
                "Hosts cfdb knows, and how many of them do not report. Orange: some hosts are "
                "not reporting or were never collected; the 'Hosts by last report' graph shows "
                "since when.",
                [
                    Q(active_copy("cfha_hub_hosts", ("cluster",)), "known"),
                    Q(
                        active_copy(
                            "cfha_hub_hosts_by_last_report",
                            ("cluster",),
                            last_report="beyond_horizon",
                        ),
                        "not reporting",
                    ),
                    Q(
                        active_copy(
                            "cfha_hub_hosts_by_last_report", ("cluster",), last_report="never"
                        ),
                        "never reported",
                    ),
                ],
                columns=[
                    Column("known", steps=((None, INFO),)),
                    Column("not reporting", steps=((None, OK), (1, WARN))),
                    Column("never reported", steps=((None, OK), (1, WARN))),
                ],
                text=BigValueTextMode.VALUE_AND_NAME,
                w=6,
                h=8,
            ),
            stat_panel(
                "Newest report",
                "Age of the newest report cfdb holds from any host, against the time the data "
                "is current as of (the better of the two hubs). Red beyond the 15-minute "
                "horizon: cf-hub on the active hub has stopped collecting; check cf-hub and "
                "cf-serverd there (runbook CfHaHubReportsStale).",
                [Q(newest_age, "newest report")],
                unit="s",
                steps=((None, OK), (HORIZON_S / 3, WARN), (HORIZON_S, BAD)),
                w=6,
                h=8,
            ),
        ),
    )


def collection_errors() -> Section:
    return Section(
        "Collection errors and agents",
        (
            timeseries_panel(
                "Collections by outcome",
                "Collection attempts cf-hub recorded within the exporter's window (the active "
                "hub's copy). Red failed: cf-hub reached hosts but could not collect; a jump "
                "means network, key or cf-serverd trouble on the clients (runbook "
                "CfHaHubCollectionErrorsRising).",
                [Q(active_copy("cfha_hub_collections", ("outcome",)), "{{outcome}}")],
                colors={"consumed": OK, "failed": BAD, "other": WARN},
                w=8,
            ),
            timeseries_panel(
                "Connection errors by message",
                "cf-hub's connection errors within the window. ServerNoReply: the host is down "
                "or unreachable; ServerAuthenticationError: its key is not trusted (re-bootstrap "
                "it); InvalidData: a protocol or version problem.",
                [Q(active_copy("cfha_hub_connection_errors", ("message",)), "{{message}}")],
                w=8,
            ),
            timeseries_panel(
                "Agent status of hosts",
                "Hosts by their agent's last execution status. Red fail: no agent run within 3 "
                "times its interval on those hosts; check cf-execd there.",
                [Q(active_copy("cfha_hub_hosts_agent_status", ("status",)), "{{status}}")],
                colors={"ok": OK, "fail": BAD, "other": WARN},
                w=8,
            ),
        ),
    )


def own_reports() -> Section:
    own_report_age = (
        f"min by (node) (max by (instance) ({sel('cfha_hub_data_as_of_timestamp_seconds')}) "
        f"- on (instance) group_right () {sel('cfha_hub_member_last_report_timestamp_seconds')})"
    )
    return Section(
        "The HA hubs' own reports",
        (
            table_panel(
                "Each hub's own reports",
                "Each HA hub as a host in cfdb: whether cfdb knows it, its last report ('state "
                "as of' in Mission Portal) and that report's age against the data's as-of time "
                "(the fresher copy). Red beyond 15 minutes or unknown: the hub does not collect "
                "from itself; check cf-serverd and the hub's own bootstrap (runbook "
                "CfHaHubNotReportingItself).",
                [
                    Q(either("cfha_hub_member_known", ("node",))),
                    Q(as_ms(either("cfha_hub_member_last_report_timestamp_seconds", ("node",)))),
                    Q(own_report_age),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "node": "Hub",
                            "Value #A": "Known to cfdb",
                            "Value #B": "Last report",
                            "Value #C": "Age",
                        }
                    ),
                ],
                columns=[
                    Column("Known to cfdb", mappings=[flag_map(("yes", OK), ("NO", BAD))]),
                    Column("Last report", unit="dateTimeFromNow"),
                    Column("Age", unit="s", steps=((None, OK), (HORIZON_S, BAD))),
                ],
                w=14,
                h=6,
            ),
            stat_panel(
                "Data as of, per hub",
                "The time each hub's copy of cfdb is current as of: now on the primary and on a "
                "caught-up standby, the last replayed commit when replay is behind. A standby "
                "far behind the primary is lagging or cut off: see replication on the HA "
                "overview.",
                [Q(as_ms(per_hub("cfha_hub_data_as_of_timestamp_seconds")), "{{node}}")],
                unit="dateTimeFromNow",
                steps=((None, INFO),),
                text=BigValueTextMode.VALUE_AND_NAME,
                w=10,
                h=6,
            ),
        ),
    )


def exporter() -> Section:
    success = with_node(sel("cfha_exporter_collector_success"), BUILD_INFO)
    reason = with_node(sel("cfha_exporter_collector_failure_reason"), BUILD_INFO)
    last_failure = with_node(
        sel("cfha_exporter_collector_last_failure_timestamp_seconds"), BUILD_INFO
    )
    reasons = state_map(
        "cfha_exporter_collector_failure_reason",
        {state: (state, BAD) for state in FAILURE_REASONS},
    )
    return Section(
        "cfha-exporter",
        (
            table_panel(
                "Exporter collectors",
                "Whether each collector of cfha-exporter observed its subsystem in the last "
                "scrape, per hub. Red FAILED: that part of the cluster is unknown on that hub, "
                "and the verdict says so (collector_failed); the next table says why.",
                [Q(f"max by (node, collector) ({success})")],
                transformations=[matrix("node", "collector"), organize({"node\\collector": "Hub"})],
                mappings=[flag_map(("ok", OK), ("FAILED", BAD))],
                w=14,
                h=6,
            ),
            table_panel(
                "Why a collector failed last",
                "The reason of each collector's most recent failure and when it was (kept after "
                "recovery, so compare with the table beside it). connect: the service is down; "
                "timeout: a hung tool or slow query; permission/auth: the exporter's user lacks "
                "rights; internal: a bug, see the exporter's log.",
                [
                    Q(f"max by (node, collector, state) ({reason}) == 1"),
                    Q(as_ms(f"max by (node, collector) ({last_failure})")),
                ],
                transformations=[
                    merge(),
                    organize(
                        {
                            "node": "Hub",
                            "collector": "Collector",
                            "state": "Reason",
                            "Value #B": "Last failure",
                        },
                        hide=("Time", "Value #A"),
                    ),
                ],
                columns=[
                    Column("Reason", mappings=[reasons]),
                    Column("Last failure", unit="dateTimeFromNow"),
                ],
                no_value="no failure since the exporters started",
                w=10,
                h=6,
            ),
        ),
    )


def build() -> dash.Dashboard:
    return assemble(
        uid=UID,
        title="cfha / Hub reporting",
        description="CFEngine hub reporting as cfdb shows it, and the exporter's own health.",
        sections=[host_reports(), collection_errors(), own_reports(), exporter()],
    )
