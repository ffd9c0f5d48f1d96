"""The pacemaker collector on CIBs of 10 / 100 / 500 resources, against crm_mon alone on the same
CIB.

Each CIB is the CFEngine pair of `lab/offline/cibstates.py` (healthy: `cfpgsql` promoted on
hub1, `cfvirtip`) plus Dummy primitives (`ocf:pacemaker:Dummy`, a 10 s monitor) up to the size,
one in five of them in a group of five (as an application's stack would be). The Dummies are
written with `cibadmin --replace --scope resources` and started by the real scheduler
(`crm_simulate --simulate`), so the status section holds a start and a monitor per instance;
`cib-last-written` is set, as on a live cluster. Measured per size, interleaved round by round:

- `crm_mon`: the collector's exact argv on `CIB_file`, a plain subprocess (the floor);
- `collector`: `PacemakerCollector.collect()` in process (crm_mon + parse + metrics; cibadmin
  only when the configuration changed, so once per run and at most once a minute);
- `exposition`: the collector plus rendering its samples as Prometheus text;
- `ha_cluster_exporter` (for reference): a GET of its /metrics on the same `CIB_file` (it runs
  crm_mon and cibadmin on every scrape; its corosync probe fails at once, there is no corosync).

    .venv/bin/python -m bench.pacemaker_scale [--runs N] [SIZE ...]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lxml import etree

from bench.common import argument_parser, http_get, save, stop, wait_http
from clusterstate.parsers.crm_mon import CRM_MON_ARGV
from clusterstate.tools import SubprocessRunner
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from lab.loopback import free_port
from lab.offline.cibstates import HEALTHY_AT, PCMK_TZ, CibStates, ctime_text, run_tool, tool_env
from servicekit.metrics import MetricWriter, exposition_text

SIZES = (10, 100, 500)
CFENGINE_PRIMITIVES = 2  # cfpgsql (in the promotable clone mscfpgsql) and cfvirtip
HCE = "/usr/bin/ha_cluster_exporter"


def runs_for(size: int, runs: int) -> int:
    return runs if size <= 100 else max(20, runs // 2)


def dummies_xml(count: int) -> list[str]:
    """`count` Dummy primitives; one in five grouped by five."""
    primitives = []
    for i in range(count):
        primitives.append(
            f'<primitive id="app{i:03d}" class="ocf" provider="pacemaker" type="Dummy">'
            f'<operations><op id="app{i:03d}-monitor-10s" name="monitor" interval="10s" '
            f'timeout="20s"/></operations></primitive>'
        )
    grouped, plain = primitives[: count // 25 * 5], primitives[count // 25 * 5 :]
    groups = [
        f'<group id="appgroup{g:02d}">{"".join(grouped[g * 5 : g * 5 + 5])}</group>'
        for g in range(len(grouped) // 5)
    ]
    return groups + plain


def build_cib(states: CibStates, size: int, work: Path) -> Path:
    """The healthy CFEngine pair plus Dummies up to `size` primitives, started."""
    config = work / f"cib-{size}-config.xml"
    config.write_bytes(states.healthy().read_bytes())
    resources = etree.fromstring(run_tool(["cibadmin", "--query", "--scope", "resources"],
                                          cib=config))  # fmt: skip
    for xml in dummies_xml(size - CFENGINE_PRIMITIVES):
        resources.append(etree.fromstring(xml))
    run_tool(["cibadmin", "--replace", "--scope", "resources", "--xml-text",
              etree.tostring(resources).decode()], cib=config)  # fmt: skip
    cib = work / f"cib-{size}.xml"
    # The scheduler's simulated transition of ~1,000 actions takes most of a minute at 500
    # resources on 2 busy CPUs: a longer bound than run_tool's.
    subprocess.run(
        ["crm_simulate", "--xml-file", str(config), "--simulate", "--save-output", str(cib)],
        env=tool_env(), capture_output=True, timeout=900, check=True,
    )  # fmt: skip
    written = f'<cib cib-last-written="{ctime_text(HEALTHY_AT)}" update-origin="hub1"/>'
    run_tool(["cibadmin", "--modify", "--xml-text", written], cib=cib)  # as a live cluster does
    return cib


def count_primitives(cib: Path) -> int:
    return len(etree.parse(str(cib)).findall(".//configuration/resources//primitive"))


@contextmanager
def hce_server(cib: Path, work: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CIB_file": str(cib), "TZ": PCMK_TZ, "LANG": "C", "LC_ALL": "C"}
    with (work / f"hce-{cib.stem}.log").open("wb") as log:
        proc = subprocess.Popen(
            [HCE, "--log.level=error", f"--web.listen-address=127.0.0.1:{port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url)
            yield url
        finally:
            stop(proc)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bench_size(cib: Path, runs: int, work: Path) -> dict[str, Any]:
    env = {**os.environ, "CIB_file": str(cib), "TZ": PCMK_TZ, "LANG": "C", "LC_ALL": "C"}
    saved = os.environ.copy()
    os.environ.update(env)  # the collector's runner passes the environment through
    try:
        collector = PacemakerCollector(PacemakerConfig(), "hub1", SubprocessRunner())

        def crm_mon() -> None:
            subprocess.run(list(CRM_MON_ARGV), capture_output=True, env=env, timeout=30,
                           check=True)  # fmt: skip

        with hce_server(cib, work) as hce_url:
            steps: dict[str, Callable[[], object]] = {
                "crm_mon": crm_mon,
                "collector": lambda: collector.collect(MetricWriter()),
                "exposition": lambda: exposition_text(_collected(collector), "cfcluster"),
                "ha_cluster_exporter": lambda: http_get(hce_url),
            }
            for step in steps.values():  # warm up
                step()
            samples: dict[str, list[float]] = {name: [] for name in steps}
            names = list(steps)
            for i in range(runs):
                shift = i % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name].append(timed(steps[name]))
            page = exposition_text(_collected(collector), "cfcluster")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    median = {name: statistics.median(s) for name, s in samples.items()}
    return {
        "primitives": count_primitives(cib),
        "cib_bytes": cib.stat().st_size,
        "crm_mon_xml_bytes": len(subprocess.run(list(CRM_MON_ARGV), capture_output=True,
                                                env=env, timeout=30, check=True).stdout),
        "series": sum(1 for line in page.splitlines() if line and not line.startswith("#")),
        "runs": runs,
        "median_seconds": median,
        "ratio_collector_to_crm_mon": median["collector"] / median["crm_mon"],
        "ratio_exposition_to_crm_mon": median["exposition"] / median["crm_mon"],
    }  # fmt: skip


def _collected(collector: PacemakerCollector) -> MetricWriter:
    out = MetricWriter()
    collector.collect(out)
    return out


def run(sizes: tuple[int, ...], runs: int) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="cfha-bench-pcmk-") as tmp:
        work = Path(tmp)
        (work / "states").mkdir()
        states = CibStates(work / "states")
        for size in sizes:
            started = time.monotonic()
            cib = build_cib(states, size, work)
            built = time.monotonic() - started
            results.append({"resources": size, "build_seconds": built,
                            **bench_size(cib, runs_for(size, runs), work)})  # fmt: skip
    result = {"sizes": results}
    save("pacemaker_scale", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for r in result["sizes"]:
        m = r["median_seconds"]
        out.append(
            f"pacemaker collector, {r['primitives']:>3} resources: crm_mon "
            f"{m['crm_mon'] * 1e3:6.1f} ms, collector {m['collector'] * 1e3:6.1f} ms "
            f"(x{r['ratio_collector_to_crm_mon']:.2f}), + exposition "
            f"{m['exposition'] * 1e3:6.1f} ms (x{r['ratio_exposition_to_crm_mon']:.2f}, "
            f"{r['series']} series); ha_cluster_exporter scrape "
            f"{m['ha_cluster_exporter'] * 1e3:6.1f} ms"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("sizes", nargs="*", type=int)
    args = parser.parse_args(argv)
    result = run(tuple(args.sizes) or SIZES, args.runs)
    print("\n".join(lines(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
