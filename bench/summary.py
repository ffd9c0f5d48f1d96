"""The summary table of `python -m bench`: every figure beside its baseline from the same run,
the ratio, and the goal where the issue sets one (met / missed). Read from bench/results/*.json
(written by the benchmarks that just ran).

    .venv/bin/python -m bench.summary [NAME ...]     # the table for these results (default: all)

A result that is named but missing, or not shaped as its benchmark writes it, is said in a line
under the table (and the exit status is 1); it never stops the others' rows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR

MB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    baseline: str
    ratio: str = ""
    goal: str = ""
    verdict: str = ""  # "met", "missed" or "" (no goal: reported beside its baseline)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def judged(value: float, limit: float) -> str:
    return "met" if value <= limit else "missed"


def full_scrape(r: dict[str, Any]) -> list[Row]:
    rows = []
    for c in r["cases"]:
        where = f"{c['role']} ({c['node']}), cfdb {c['cfdb_hosts']:,} hosts"
        if c.get("pg_version"):  # results from before the lab ran PostgreSQL 18 have none
            where = f"PostgreSQL {c['pg_version']}, {where}"
        if c.get("idle_connections"):
            where += f", {c['idle_connections']:,} idle connections held open"
        failed = sorted(c.get("peer_failures", {}).get("prometheus-postgres-exporter", {}))
        if failed:
            where += f" (prometheus-postgres-exporter's {', '.join(failed)} collector failing)"
        m = c["median_seconds"]
        hce, pge = m["ha_cluster_exporter"], m["prometheus-postgres-exporter"]
        rows.append(
            Row(
                f"full scrape vs the two peer exporters, {where}",
                f"{ms(m['cfha-exporter'])} (p90 {ms(c['p90_seconds']['cfha-exporter'])})",
                f"{ms(hce)} + {ms(pge)} = {ms(hce + pge)}",
                f"{c['ratio_to_peers']:.2f}",
                "<= 1.0",
                judged(c["ratio_to_peers"], 1.0),
            )
        )
        rows.append(
            Row(
                f"full scrape vs the raw probes back to back, {where}",
                ms(m["cfha-exporter"]),
                ms(c["raw_probes_median_seconds"]),
                f"{c['ratio_to_raw_probes']:.2f}",
                "<= 1.3",
                judged(c["ratio_to_raw_probes"], 1.3),
            )
        )
        rss = c["rss_bytes"]
        peers = rss["ha_cluster_exporter"] + rss["prometheus-postgres-exporter"]
        rows.append(
            Row(
                f"exporter RSS, {where}",
                f"{rss['cfha-exporter'] / MB:.1f} MiB",
                f"{rss['ha_cluster_exporter'] / MB:.1f} + "
                f"{rss['prometheus-postgres-exporter'] / MB:.1f} = {peers / MB:.1f} MiB",
                f"{c['ratio_rss_to_peers']:.2f}",
            )
        )
    return rows  # fmt: skip


def pacemaker_scale(r: dict[str, Any]) -> list[Row]:
    rows = []
    for s in r["sizes"]:
        m = s["median_seconds"]
        rows.append(
            Row(
                f"pacemaker collector, {s['primitives']} resources (crm_mon + parse + metrics)",
                ms(m["collector"]),
                f"crm_mon {ms(m['crm_mon'])}",
                f"{s['ratio_collector_to_crm_mon']:.2f}",
            )
        )
        rows.append(
            Row(
                f"pacemaker collector + exposition ({s['series']:,} series), {s['primitives']} "
                "resources",
                ms(m["exposition"]),
                f"crm_mon {ms(m['crm_mon'])}; ha_cluster_exporter scrape "
                f"{ms(m['ha_cluster_exporter'])}",
                f"{s['ratio_exposition_to_crm_mon']:.2f}",
            )
        )
    return rows  # fmt: skip


def hub_scrape(r: dict[str, Any]) -> list[Row]:
    rows = []
    for s in r["sizes"]:
        for role in ("primary", "standby"):
            p = s[role]
            goal = s["hosts"] == 100_000
            rows.append(
                Row(
                    f"hub collector, PostgreSQL {s['postgresql']}, {s['hosts']:,} hosts, {role}",
                    ms(p["collector_median_seconds"]),
                    f"count(*) of the 3 tables {ms(p['baseline_median_seconds'])}",
                    f"{p['ratio_collector_to_baseline']:.2f}",
                    "<= 50 ms" if goal else "",
                    judged(p["collector_median_seconds"], 0.050) if goal else "",
                )
            )
    return rows  # fmt: skip


def readiness_scrape(r: dict[str, Any]) -> list[Row]:
    rows = []
    for c in r["cases"]:
        parts = ", ".join(f"{k} {ms(v)}" for k, v in c["collector_median_seconds"].items())
        rows.append(
            Row(
                f"full scrape with failover readiness, PostgreSQL {c['postgresql']}, "
                f"{c['client_keys']:,} client keys",
                f"{ms(c['after_median_seconds'])} (+{ms(c['added_median_seconds'])}; {parts})",
                f"without it {ms(c['before_median_seconds'])}",
                f"{c['after_median_seconds'] / c['before_median_seconds']:.2f}",
                f"< +{ms(c['goal_seconds'])}",
                judged(c["added_median_seconds"], c["goal_seconds"]),
            )
        )
    return rows


def webhook_load(r: dict[str, Any]) -> list[Row]:
    rows = []
    floor = r["open_loop"]["healthz (baseline)"]
    for name, s in r["open_loop"].items():
        if name.startswith("healthz"):
            continue
        rows.append(
            Row(
                f"webhook ack at {r['rate']:.0f}/s, {name}: p50 / p99",
                f"{ms(s['p50_seconds'])} / {ms(s['p99_seconds'])}",
                f"GET /healthz {ms(floor['p50_seconds'])} / {ms(floor['p99_seconds'])}; fsync'd "
                f"commit {ms(r['fsync_commit_floor_seconds'])}",
                f"{s['p99_seconds'] / floor['p99_seconds']:.2f}",
                "p99 <= 20 ms",
                judged(s["p99_seconds"], 0.020),
            )
        )
    base = r["closed_loop"]["healthz (baseline)"]["requests_per_second"]
    for name, s in r["closed_loop"].items():
        if name.startswith("healthz"):
            continue
        alerts = 50 if name.startswith("50") else 1
        rows.append(
            Row(
                f"webhook throughput (closed loop, 8 senders), {name}",
                f"{s['requests_per_second']:.0f} req/s ({s['requests_per_second'] * alerts:,.0f} "
                "alerts/s)",
                f"GET /healthz {base:.0f} req/s",
                f"{s['requests_per_second'] / base:.2f}",
            )
        )
    st = r["duplicate_storm"]
    ok = st["jobs_for_the_alert"] == 1 and st["statuses"] == {"202": st["requests"]}
    rows.append(
        Row(
            f"duplicate storm: {st['requests']} deliveries of one alert, {st['senders']} senders",
            f"{st['jobs_for_the_alert']} job; answers: "
            + ", ".join(f"{n} x {code}" for code, n in st["statuses"].items())
            + f"; p99 {ms(st['p99_seconds'])}",
            "exactly 1 job, every delivery 202",
            "",
            "1 job",
            "met" if ok else "missed",
        )
    )
    return rows  # fmt: skip


def resync(r: dict[str, Any]) -> list[Row]:
    rows = []
    for s in r["sizes"]:
        m = s["median_seconds"]
        rows.append(
            Row(
                f"re-sync of a standby, PostgreSQL {s['postgresql']}, "
                f"{s['database_bytes'] / MB:,.0f} MB database "
                f"({s['copied_bytes'] / MB:,.0f} MB copied)",
                f"{m['remediator']:.2f} s",
                f"bare pg_basebackup + start {m['bare']:.2f} s",
                f"{s['ratio']:.2f}",
                "<= 1.2",
                judged(s["ratio"], 1.2),
            )
        )
    return rows  # fmt: skip


def pg_scrape(r: dict[str, Any]) -> list[Row]:
    return [Row(
        f"postgres collector alone, PostgreSQL {c['postgresql']}, /metrics (reference)",
        ms(c["scrape_median_seconds"]), f"its SQL {ms(c['raw_sql_median_seconds'])}",
        f"{c['ratio_scrape_to_raw_sql']:.2f}") for c in r["cases"]]  # fmt: skip


def soak(r: dict[str, Any]) -> list[Row]:
    s, i = r["soak"], r["idle_connections"]
    growth = s["growth_per_1000_bytes"] / 1024
    return [
        Row(f"exporter RSS growth per 1,000 scrapes after {r['warmup']}, {r['scrapes']:,} "
            f"scrapes at {r['rate']:g}/s (offline)", f"{growth:.0f} KiB",
            f"VmRSS {s['rss_after_warmup_bytes'] / MB:.1f} -> {s['rss_end_bytes'] / MB:.1f} MiB",
            "", "<= 100 KiB", judged(growth, 100.0)),
        Row("scrape with 1,000 idle connections open (offline)",
            ms(i["crowded_median_seconds"]), f"none open {ms(i['quiet_median_seconds'])}",
            f"{i['ratio']:.2f}"),
    ]  # fmt: skip


def compare_ha_cluster_exporter(r: dict[str, Any]) -> list[Row]:
    m = r["offline"]["median_seconds"]
    return [Row(
        "offline healthy CIB, /metrics (replayed corosync; reference)", ms(m["cfha-exporter"]),
        f"ha_cluster_exporter {ms(m['ha_cluster_exporter'])}",
        f"{m['cfha-exporter'] / m['ha_cluster_exporter']:.2f}")]  # fmt: skip


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "full_scrape": full_scrape,
    "pacemaker_scale": pacemaker_scale,
    "hub_scrape": hub_scrape,
    "readiness_scrape": readiness_scrape,
    "webhook_load": webhook_load,
    "resync": resync,
    "pg_scrape": pg_scrape,
    "soak": soak,
    "compare_ha_cluster_exporter": compare_ha_cluster_exporter,
}


class ResultError(Exception):
    """A benchmark's result that cannot be shown: unknown, missing, or not what it writes."""


def rows_of(name: str, results_dir: Path) -> list[Row]:
    if name not in SECTIONS:
        raise ResultError(f"{name}: no such benchmark (known: {', '.join(SECTIONS)})")
    path = results_dir / f"{name}.json"
    try:
        result = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultError(f"{name}: no result, {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise ResultError(f"{name}: {path} is not readable JSON ({exc})") from None
    try:
        return SECTIONS[name](result)
    except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        # an old or partly written result: say which, keep the other benchmarks' rows
        raise ResultError(
            f"{name}: {path} is not shaped as bench.{name} writes it ({type(exc).__name__}: {exc})"
        ) from None


def table(names: list[str], results_dir: Path = RESULTS_DIR) -> tuple[str, list[str]]:
    """The markdown table of these results, and a message for each that could not be shown
    (also written under the table)."""
    lines = ["| figure | cfha | baseline (same run) | ratio | goal | |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    problems: list[str] = []
    for name in names:
        try:
            rows = rows_of(name, results_dir)
        except ResultError as exc:
            problems.append(str(exc))
            continue
        for row in rows:
            cells = (row.figure, row.value, row.baseline, row.ratio, row.goal, row.verdict)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if problems:
        lines += ["", *(f"Not in the table: {problem}" for problem in problems)]
    return "\n".join(lines), problems


def main(argv: list[str] | None = None, results_dir: Path = RESULTS_DIR) -> int:
    named = argv if argv is not None else sys.argv[1:]
    # unnamed: every benchmark that has a result (the others did not run)
    names = named or [name for name in SECTIONS if (results_dir / f"{name}.json").exists()]
    if not names:
        print(f"no results in {results_dir}: run `python -m bench` first", file=sys.stderr)
        return 1
    text, problems = table(names, results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "summary.md").write_text(text + "\n")
    print(text)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
