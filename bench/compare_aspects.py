"""The rows of the ha_cluster_exporter comparison: for one state, what each exporter publishes
about one aspect, as a short table cell read from its real /metrics page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]


class Page:
    """One exporter's /metrics page, parsed once."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[Labels, float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                entry = (dict(sample.labels), float(sample.value))
                self.samples.setdefault(sample.name, []).append(entry)

    def find(self, metric: str, /, **labels: str) -> list[tuple[Labels, float]]:
        return [
            (found, value)
            for found, value in self.samples.get(metric, [])
            if all(found.get(k) == v for k, v in labels.items())
        ]

    def where_one(self, metric: str, key: str, /, **labels: str) -> list[str]:
        """Values of label ``key`` on the series equal to 1."""
        on = {found.get(key, "") for found, value in self.find(metric, **labels) if value == 1}
        return sorted(on)

    def value(self, metric: str, /, **labels: str) -> float | None:
        found = self.find(metric, **labels)
        return found[0][1] if len(found) == 1 else None

    def text(self, metric: str, /, **labels: str) -> str:
        """The single value as text, or "absent"."""
        value = self.value(metric, **labels)
        return "absent" if value is None else f"{value:g}"


def _nodes(nodes: list[str]) -> str:
    return ", ".join(nodes) if nodes else "none"


def _when(value: float | None, truth: float) -> str:
    if value is None:
        return "not published"
    text = datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S UTC")
    error = value - truth
    return f"{text} ({'correct' if error == 0 else f'off by {error:+.0f} s'})"


Cell = Callable[[Page], str]


@dataclass(frozen=True)
class Aspect:
    name: str
    hce: Cell
    cfha: Cell


def promoted() -> Aspect:
    def hce(p: Page) -> str:
        nodes = p.where_one("ha_cluster_pacemaker_resources", "node", resource="cfpgsql",
                            role="promoted", status="active")  # fmt: skip
        return f'`resources{{role="promoted",status="active"}}`: {_nodes(nodes)}'

    def cfha(p: Page) -> str:
        nodes = p.where_one("cfha_pacemaker_database_promoted", "node")
        return f"`database_promoted`: {_nodes(nodes)}"

    return Aspect("cfpgsql promoted on", hce, cfha)


def vip() -> Aspect:
    def hce(p: Page) -> str:
        nodes = p.where_one("ha_cluster_pacemaker_resources", "node", resource="cfvirtip",
                            status="active")  # fmt: skip
        return f'`resources{{status="active"}}`: {_nodes(nodes)}'

    def cfha(p: Page) -> str:
        nodes = _nodes(p.where_one("cfha_pacemaker_vip_active", "node"))
        multi = p.text("cfha_pacemaker_resource_status", resource="cfvirtip", state="multi_active")
        return f"`vip_active`: {nodes}; `multi_active` {multi}"

    return Aspect("floating IP (cfvirtip) active on", hce, cfha)


def agent_status() -> Aspect:
    def hce(p: Page) -> str:
        found = p.find("ha_cluster_pacemaker_node_attributes", name="cfpgsql-status")
        values = [f'{labels["node"]}: label value="{labels["value"]}"' for labels, _ in found]
        return "; ".join(sorted(values)) or "nothing"

    def cfha(p: Page) -> str:
        values = [
            f"{labels['node']}: state {labels['state']}"
            for labels, value in p.find("cfha_pgsql_status")
            if value == 1
        ]
        return "; ".join(sorted(values)) or "nothing"

    return Aspect("pgsql agent status (cfpgsql-status)", hce, cfha)


def data_status() -> Aspect:
    def hce(p: Page) -> str:
        found = p.find("ha_cluster_pacemaker_node_attributes", name="cfpgsql-data-status")
        return "; ".join(sorted(f'{lb["node"]}: value="{lb["value"]}"' for lb, _ in found))

    def cfha(p: Page) -> str:
        cells = []
        for labels, value in p.find("cfha_pgsql_data_status"):
            if value == 1:
                sync = p.where_one("cfha_pgsql_sync_state", "state", node=labels["node"])
                cells.append(f"{labels['node']}: {labels['state']} + sync_state {''.join(sync)}")
        return "; ".join(sorted(cells))

    return Aspect("pgsql agent data-status", hce, cfha)


def maintenance() -> Aspect:
    def hce(p: Page) -> str:
        series = p.find("ha_cluster_pacemaker_resources", status="active")
        unmanaged = sum(1 for labels, _ in series if labels.get("managed") == "false")
        return f'no cluster-wide series; `managed="false"` on {unmanaged} resource series'

    return Aspect(
        "maintenance-mode",
        hce,
        lambda p: f"`maintenance_mode` {p.text('cfha_pacemaker_maintenance_mode')}",
    )


def cli_ban() -> Aspect:
    def hce(p: Page) -> str:
        found = [
            f"`{lb['constraint']}` {v:g}"
            for lb, v in p.find("ha_cluster_pacemaker_location_constraints")
            if lb.get("constraint", "").startswith("cli-")
        ]
        return ", ".join(found) or "none"

    def cfha(p: Page) -> str:
        count = p.text("cfha_pacemaker_cli_constraints", kind="cli-ban")
        found = [
            f"`{lb['constraint']}` {v:g}"
            for lb, v in p.find("cfha_pacemaker_location_constraint_score", kind="cli-ban")
        ]
        return f'`cli_constraints{{kind="cli-ban"}}` {count}; ' + (", ".join(found) or "none")

    return Aspect("leftover cli-ban", hce, cfha)


def unclean() -> Aspect:
    return Aspect(
        "UNCLEAN nodes",
        lambda p: _nodes(p.where_one("ha_cluster_pacemaker_nodes", "node", status="unclean")),
        lambda p: _nodes(p.where_one("cfha_pacemaker_node_state", "node", state="unclean")),
    )


def standby() -> Aspect:
    return Aspect(
        "nodes in standby",
        lambda p: _nodes(p.where_one("ha_cluster_pacemaker_nodes", "node", status="standby")),
        lambda p: _nodes(p.where_one("cfha_pacemaker_node_state", "node", state="standby")),
    )


def failed_actions() -> Aspect:
    def hce(p: Page) -> str:
        counts = [
            f"{lb['resource']}@{lb['node']}={v:g}"
            for lb, v in p.find("ha_cluster_pacemaker_fail_count")
            if v
        ]
        return "no failed-action series; fail_count " + (", ".join(counts) or "0")

    def cfha(p: Page) -> str:
        found = [
            f"{lb['operation']} ({lb['interval']} s) of {lb['resource']} on {lb['node']}: rc {v:g}"
            for lb, v in p.find("cfha_pacemaker_failed_action_exit_code")
        ]
        return "; ".join(found) or "none"

    return Aspect("failed actions", hce, cfha)


def last_change(truth: float) -> Aspect:
    return Aspect(
        "last configuration change (hubs in Europe/Berlin)",
        # typed as a counter, so the parser names its sample ..._total
        lambda p: _when(p.value("ha_cluster_pacemaker_config_last_change_total"), truth),
        lambda p: _when(p.value("cfha_pacemaker_config_last_change_timestamp_seconds"), truth),
    )


def knet_links() -> Aspect:
    def hce(p: Page) -> str:
        rings = p.find("ha_cluster_corosync_rings")
        return f"{len(rings)} ring series; ring_errors {p.text('ha_cluster_corosync_ring_errors')}"

    def cfha(p: Page) -> str:
        states = [
            f"link {lb['link']} to {lb['peer']}: {lb['state']}"
            for lb, v in p.find("cfha_corosync_link_state")
            if v == 1
        ]
        return (
            "; ".join(sorted(states)) + f"; faulty_links {p.value('cfha_corosync_faulty_links'):g}"
        )

    return Aspect("corosync knet links", hce, cfha)


def quorum() -> Aspect:
    def hce(p: Page) -> str:
        return f"quorate {p.text('ha_cluster_corosync_quorate')}; no flags series"

    def cfha(p: Page) -> str:
        flags = p.where_one("cfha_corosync_quorum_flags", "state")
        return f"quorate {p.text('cfha_corosync_quorate')}; flags {', '.join(flags) or 'none'}"

    return Aspect("corosync quorum", hce, cfha)


def success() -> Aspect:
    def hce(p: Page) -> str:
        return ", ".join(
            f"{lb['collector']}={v:g}"
            for lb, v in sorted(p.find("ha_cluster_scrape_success"), key=_by_collector)
        )

    def cfha(p: Page) -> str:
        return ", ".join(
            f"{lb['collector']}={v:g}"
            for lb, v in sorted(p.find("cfha_exporter_collector_success"), key=_by_collector)
        )

    return Aspect("collector success", hce, cfha)


def _by_collector(sample: tuple[Labels, float]) -> str:
    return sample[0].get("collector", "")


def series_count(prefixes: tuple[str, ...]) -> Cell:
    def cell(p: Page) -> str:
        return str(sum(len(v) for k, v in p.samples.items() if k.startswith(prefixes)))

    return cell
