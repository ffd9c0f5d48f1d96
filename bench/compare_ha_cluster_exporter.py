"""Debian's ha_cluster_exporter and cfha-exporter on the same cluster states, side by side.

Every state is a saved CIB made with the real pacemaker tools (`lab/offline/cibstates.py`,
which writes `cib-last-written` so that ha_cluster_exporter can read it: lab-feasibility P5).
Both exporters run as HTTP servers on loopback with `CIB_file` pointing at it and the hubs' time
zone (Europe/Berlin); offline there is no corosync, so both are given the same captured
corosync 3.1.7 outputs through tiny replay scripts. Writes
`docs/comparison-ha_cluster_exporter.md` and `bench/results/compare_ha_cluster_exporter.json`.

    .venv/bin/python -m bench.compare_ha_cluster_exporter [--runs N] [--lab ID]

With `--lab ID` the same comparison also runs on the live two-hub lab (brought up and taken down
by the script; `bench/compare_live.py`): both exporters inside hub1, after each failure scenario.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import compare_aspects as a
from bench.common import argument_parser, http_get, machine, quantile, save, stop, wait_http
from bench.compare_live import LiveComparison, run_live
from lab.loopback import free_port
from lab.offline.cibstates import BASE_AT, INCIDENT_AT, PCMK_TZ, CibStates

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "comparison-ha_cluster_exporter.md"
HCE = "/usr/bin/ha_cluster_exporter"
HCE_NAME, CFHA_NAME = "ha_cluster_exporter", "cfha-exporter"
COROSYNC = REPO / "tests" / "fixtures" / "corosync"

STATES: dict[str, tuple[str, str, list[a.Aspect]]] = {
    # state: (saved CIB, corosync capture, rows)
    "healthy": ("healthy", "two-node-healthy", [
        a.promoted(), a.vip(), a.agent_status(), a.data_status(), a.last_change(BASE_AT),
        a.quorum(), a.knet_links(), a.success()]),
    "failed standby monitor": ("failed_standby_monitor", "two-node-healthy", [
        a.failed_actions(), a.agent_status()]),
    "failover": ("failover", "two-node-healthy", [a.promoted(), a.vip(), a.failed_actions()]),
    "node down (hub1)": ("node_down", "two-node-healthy", [a.promoted(), a.data_status()]),
    "UNCLEAN node (hub1)": ("unclean_node", "two-node-healthy", [a.unclean(), a.promoted()]),
    "leftover ban": ("leftover_ban", "two-node-healthy", [a.cli_ban(), a.last_change(INCIDENT_AT)]),
    "maintenance-mode": ("maintenance_mode", "two-node-healthy", [a.maintenance()]),
    "node standby (hub2)": ("node_standby", "two-node-healthy", [a.standby()]),
    "floating IP on both hubs": ("vip_multi_active", "two-node-healthy", [a.vip()]),
    "knet link 1 down": ("healthy", "two-node-link1-down", [a.knet_links(), a.quorum()]),
    "both knet links down": ("healthy", "two-node-links-down", [a.knet_links(), a.quorum()]),
}  # fmt: skip


def replay_scripts(folder: Path, capture: str) -> dict[str, Path]:
    """Scripts that print a captured corosync output whatever their arguments (both exporters
    get the same ones; cfha also asks for the nodelist)."""
    sources = {
        "corosync-quorumtool": COROSYNC / f"{capture}.hub1.quorumtool-ps.txt",
        "corosync-cfgtool": COROSYNC / f"{capture}.hub1.cfgtool-s.txt",
        "corosync-cmapctl": COROSYNC / "two-node-healthy.hub1.cmapctl-nodelist.txt",
    }
    folder.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for tool, source in sources.items():
        script = folder / tool
        script.write_text(f"#!/bin/sh\nexec cat {source}\n")
        script.chmod(0o755)
        scripts[tool] = script
    return scripts


@contextmanager
def running(argv: list[str], env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Start an exporter, yield its /metrics URL, stop it by PID."""
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in argv]
    with log.open("wb") as output:
        proc = subprocess.Popen(argv, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_http(url)
        yield url
    finally:
        stop(proc)


def hce_argv(scripts: Mapping[str, Path]) -> list[str]:
    return [
        HCE,
        "--web.listen-address=127.0.0.1:{port}",
        f"--corosync-cfgtoolpath-path={scripts['corosync-cfgtool']}",
        f"--corosync-quorumtool-path={scripts['corosync-quorumtool']}",
        "--log.level=error",
    ]


def cfha_argv(config: Path) -> list[str]:
    return [sys.executable, "-m", "exporter", "--config.file", str(config),
            "--web.listen-address", "127.0.0.1:{port}", "--log.level", "error"]  # fmt: skip


def cfha_config(folder: Path, scripts: Mapping[str, Path]) -> Path:
    config = folder / "cfha.yml"
    config.write_text(
        "node: hub1\ncollectors:\n  postgres:\n    enabled: false\n"
        f"  pacemaker:\n    time_zone: {PCMK_TZ}\n  corosync:\n"
        f"    quorumtool_path: {scripts['corosync-quorumtool']}\n"
        f"    cfgtool_path: {scripts['corosync-cfgtool']}\n"
        f"    cmapctl_path: {scripts['corosync-cmapctl']}\n"
    )
    return config


def timed(url: str) -> float:
    started = time.perf_counter()
    http_get(url)
    return time.perf_counter() - started


@dataclass
class Comparison:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(state, aspect, ha_cluster_exporter's cell, cfha-exporter's cell)"""
    series: tuple[str, str] = ("", "")
    timings: dict[str, list[float]] = field(
        default_factory=lambda: {"ha_cluster_exporter": [], "cfha-exporter": []}
    )
    runs: int = 0


def run(runs: int) -> Comparison:
    result = Comparison(runs=runs)
    rows, timings = result.rows, result.timings
    with tempfile.TemporaryDirectory(prefix="cfha-compare-") as tmp:
        root = Path(tmp)
        (root / "states").mkdir()
        states = CibStates(root / "states")
        for title, (state, capture, aspects) in STATES.items():
            cib = getattr(states, state)()
            work = root / title.replace(" ", "_")
            scripts = replay_scripts(work, capture)
            env = {**os.environ, "CIB_file": str(cib), "TZ": PCMK_TZ, "LANG": "C", "LC_ALL": "C"}
            with (
                running(hce_argv(scripts), env, work / "hce.log") as hce_url,
                running(cfha_argv(cfha_config(work, scripts)), env, work / "cfha.log") as cfha_url,
            ):
                hce, cfha = a.Page(http_get(hce_url).decode()), a.Page(http_get(cfha_url).decode())
                for aspect in aspects:
                    rows.append((title, aspect.name, aspect.hce(hce), aspect.cfha(cfha)))
                if title == "healthy":
                    result.series = (
                        a.series_count(("ha_cluster_",))(hce),
                        a.series_count(("cfha_pacemaker_", "cfha_pgsql_", "cfha_corosync_"))(cfha),
                    )
                    for _ in range(5):  # warm up both
                        timed(hce_url), timed(cfha_url)
                    for _ in range(runs):  # interleaved: same machine, same moment
                        timings["ha_cluster_exporter"].append(timed(hce_url))
                        timings["cfha-exporter"].append(timed(cfha_url))
    return result


def hce_version() -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "prometheus-hacluster-exporter"],
        capture_output=True, text=True, check=False, timeout=10,
    )  # fmt: skip
    return done.stdout.strip() or "unknown"


def render(result: Comparison, version: str, live: LiveComparison | None = None) -> str:
    rows, timings = result.rows, result.timings
    hce_series, cfha_series = result.series
    lines = [
        "# ha_cluster_exporter and cfha-exporter on the same cluster states",
        "",
        "Generated by `.venv/bin/python -m bench.compare_ha_cluster_exporter` (do not edit by "
        f"hand) on {machine()['date']}, {machine()['cpus']} CPUs.",
        "",
        f"Debian's `ha_cluster_exporter` {version} and `cfha-exporter` ran as HTTP servers on "
        "loopback, each state a saved CIB made with the real pacemaker 2.1.5 tools "
        "(`lab/offline/cibstates.py`: the CFEngine pair, promotable clone `mscfpgsql` of "
        "`cfpgsql`, `cfvirtip` in group `cfengine`; `cib-last-written` set, lab-feasibility "
        "P5), read by both through `CIB_file` with `TZ=Europe/Berlin`. There is no corosync "
        "offline, so both were given the same captured corosync 3.1.7 outputs "
        "(`tests/fixtures/corosync/`) by replay scripts. Each cell quotes what that exporter's "
        "real /metrics page said.",
        "",
        "| state | aspect | ha_cluster_exporter | cfha-exporter |",
        "| --- | --- | --- | --- |",
    ]
    for state, aspect, hce, cfha in rows:
        lines.append(f"| {state} | {aspect} | {_cell(hce)} | {_cell(cfha)} |")
    lines += [
        "",
        f"Series on the healthy page: ha_cluster_exporter {hce_series} (`ha_cluster_*`), "
        f"cfha-exporter {cfha_series} (`cfha_pacemaker_*`, `cfha_pgsql_*`, `cfha_corosync_*`; "
        "most of them are the 0 rows of state sets).",
        "",
        "## Scrape time (one run, same machine, same moment)",
        "",
        f"Healthy state, {result.runs} GETs of /metrics each after 5 warm-ups, interleaved "
        "(one to each exporter in turn). ha_cluster_exporter runs crm_mon, cibadmin and both "
        "corosync tools on every scrape; cfha-exporter runs crm_mon and two corosync tools, and "
        "cibadmin only when the configuration changed (here: once).",
        "",
        *timing_table(timings),
    ]
    if live is not None:
        lines += render_live(live, result.runs)
    return "\n".join(lines) + "\n"


def render_live(live: LiveComparison, runs: int) -> list[str]:
    lines = [
        "",
        f"## On the live lab (lab {live.lab_id})",
        "",
        "The same two exporters inside hub1 of the two-hub lab (`lab/`: corosync 3.1.7 with "
        "knet, pacemaker 2.1.5, the pgsql agent, PostgreSQL 15, the floating IP), reading the "
        "real cluster with the default tool paths; hub1 starts as the primary and the DC. Each "
        "scenario is injected into a freshly restored healthy lab (`lab.inject`). The lab's "
        "hubs run in UTC, so the time zone fault does not show here (see the offline table).",
        "",
        "| scenario | aspect | ha_cluster_exporter | cfha-exporter |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {t} | {asp} | {_cell(h)} | {_cell(c)} |" for t, asp, h, c in live.rows]
    lines += [
        "",
        f"Scrape time on the live lab, healthy state, {runs} GETs each after 5 warm-ups, "
        "interleaved. Here crm_mon and cibadmin talk to the running pacemaker daemons and the "
        "corosync tools to corosync; cfha-exporter also runs its PostgreSQL collector (in "
        "parallel with the others), which ha_cluster_exporter has no equivalent of.",
        "",
        *timing_table(live.timings),
    ]
    return lines


def timing_table(timings: Mapping[str, list[float]]) -> list[str]:
    lines = ["| exporter | median | p90 | max |", "| --- | --- | --- | --- |"]
    medians = {}
    for name, samples in timings.items():
        medians[name] = statistics.median(samples)
        lines.append(
            f"| {name} | {medians[name] * 1e3:.1f} ms | {quantile(samples, 0.9) * 1e3:.1f} ms | "
            f"{max(samples) * 1e3:.1f} ms |"
        )
    ratio = medians["cfha-exporter"] / medians["ha_cluster_exporter"]
    return [*lines, "", f"Ratio of medians cfha-exporter / ha_cluster_exporter: {ratio:.2f}."]


def _summary(timings: Mapping[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        "median_seconds": {k: statistics.median(v) for k, v in timings.items()},
        "p90_seconds": {k: quantile(v, 0.9) for k, v in timings.items()},
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--lab", type=int, default=None, help="also compare on this live lab id")
    parser.add_argument(
        "--doc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"rewrite {DOC.relative_to(REPO)} (--no-doc: only the timings, as `python -m bench` "
        "runs it, leaving the live half of the document alone)",
    )
    args = parser.parse_args(argv)
    if not Path(HCE).exists() or shutil.which("crm_mon") is None:
        print(f"needs {HCE} and the pacemaker tools (scripts/ensure-debs)", file=sys.stderr)
        return 2
    result = run(args.runs)
    live = None
    if args.lab is not None:
        with tempfile.TemporaryDirectory(prefix="cfha-compare-live-") as tmp:
            live = run_live(args.lab, args.runs, Path(tmp), sys.executable)
    summary: dict[str, object] = {"runs": args.runs, "offline": _summary(result.timings)}
    if live is not None:
        summary["live"] = _summary(live.timings)
    save("compare_ha_cluster_exporter", summary)
    hce, cfha = (_summary(result.timings)["median_seconds"][k] for k in (HCE_NAME, CFHA_NAME))
    print(
        f"offline healthy CIB, /metrics: ha_cluster_exporter {hce * 1e3:.1f} ms, cfha-exporter "
        f"{cfha * 1e3:.1f} ms (ratio {cfha / hce:.2f})"
    )
    if args.doc:
        DOC.write_text(render(result, hce_version(), live))
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
