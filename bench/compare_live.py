"""The live half of the ha_cluster_exporter comparison: both exporters run inside hub1 of a real
two-hub lab (corosync 3.1.7 knet, pacemaker 2.1.5, the pgsql agent), read the real cluster, and
are scraped after each failure scenario; plus their scrape times there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import compare_aspects as a
from bench.common import LabServer, http_get, lab_servers
from lab.cluster import Lab

NODE = "hub1"
PORTS = {"ha_cluster_exporter": 19664, "cfha-exporter": 19732}  # inside hub1's namespace
SCENARIOS: dict[str, tuple[str | None, list[a.Aspect]]] = {
    # title: (scenario, rows)
    "healthy": (None, [a.promoted(), a.vip(), a.agent_status(), a.quorum(), a.knet_links(),
                       a.success()]),
    "kill-primary": ("kill-primary", [a.promoted(), a.vip(), a.failed_actions(),
                                      a.agent_status()]),
    "fail-monitor (standby)": ("fail-monitor", [a.failed_actions(), a.agent_status()]),
    "ban (standby)": ("ban", [a.cli_ban()]),
    "maintenance": ("maintenance", [a.maintenance()]),
}  # fmt: skip


@dataclass
class LiveComparison:
    lab_id: int
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    timings: dict[str, list[float]] = field(
        default_factory=lambda: {"ha_cluster_exporter": [], "cfha-exporter": []}
    )


@contextmanager
def exporters(lab: Lab, work: Path, python: str) -> Iterator[dict[str, str]]:
    """Both exporters running inside hub1; yields their /metrics URLs on 127.0.0.1."""
    config = work / "cfha-live.yml"
    config.write_text(
        f"cluster: cfcluster\nnode: {NODE}\ncollectors:\n  postgres:\n"
        "    conninfo: host=/var/cfengine/state/pg port=5432 user=postgres dbname=cfdb\n"
    )
    argv = {
        "ha_cluster_exporter": ["/usr/bin/ha_cluster_exporter", "--log.level=error",
                                f"--web.listen-address=127.0.0.1:{PORTS['ha_cluster_exporter']}"],
        "cfha-exporter": [python, "-m", "exporter", "--config.file", str(config), "--log.level",
                          "error", "--web.listen-address",
                          f"127.0.0.1:{PORTS['cfha-exporter']}"],
    }  # fmt: skip
    servers = {
        name: LabServer(NODE, command, PORTS[name], work / f"live-{name}.log")
        for name, command in argv.items()
    }
    with lab_servers(lab, servers) as urls:
        yield urls


def _timed(url: str) -> float:
    started = time.perf_counter()
    http_get(url)
    return time.perf_counter() - started


def run_live(lab_id: int, runs: int, work: Path, python: str) -> LiveComparison:
    """Bring up lab `lab_id`, compare, and always take the lab down again."""
    result = LiveComparison(lab_id)
    lab = Lab(lab_id)
    lab.up()
    try:
        with exporters(lab, work, python) as urls:
            for title, (scenario, aspects) in SCENARIOS.items():
                lab.restore_healthy()
                if scenario is not None:
                    lab.inject(scenario)
                else:
                    for _ in range(5):  # warm up, then interleave: same cluster, same moment
                        _timed(urls["ha_cluster_exporter"]), _timed(urls["cfha-exporter"])
                    for _ in range(runs):
                        for name, url in urls.items():
                            result.timings[name].append(_timed(url))
                hce = a.Page(http_get(urls["ha_cluster_exporter"]).decode())
                cfha = a.Page(http_get(urls["cfha-exporter"]).decode())
                for aspect in aspects:
                    result.rows.append((title, aspect.name, aspect.hce(hce), aspect.cfha(cfha)))
    finally:
        lab.down()
    return result
