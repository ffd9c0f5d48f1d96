"""Small but realistic results, shaped as each benchmark module builds them before
`bench.common.save`: where the module has a pure function for a part (full_scrape.summarise,
webhook_load.stats, compare_ha_cluster_exporter._summary) it builds that part; the rest follows
the dict literals of the module's `run` / `bench_size` / `bench_role`, key for key.

The figures are those of docs/benchmarks.md's run, so the expected rows read like that table.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import compare_ha_cluster_exporter, full_scrape, readiness_scrape, soak, webhook_load
from bench.loadgen import Reply, Run

MIB = 1024 * 1024
CFHA, HCE, PGE = full_scrape.CFHA, full_scrape.HCE, full_scrape.PGE


def full_scrape_case(
    hosts: int,
    node: str,
    role: str,
    cfha: list[float],
    raw: list[float],
    *,
    pg_version: str = "15.18",
    peer_failures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One case of full_scrape.run: scrape_probe's JSON plus the memory and the peer's failed
    collectors read by `probe`, through the module's own `summarise`. The peers' times are the
    same in every case."""
    measured = {
        "scrapes": {CFHA: cfha, HCE: [0.0350, 0.0370, 0.0390], PGE: [0.0080, 0.0081, 0.0085]},
        "raw_total": raw,
        "raw_parts": {"crm_mon": [0.015, 0.016, 0.015], "corosync-quorumtool": [0.015] * 3,
                      "corosync-cfgtool": [0.010] * 3, "sql:postgres": [0.0004] * 3,
                      "sql:hub": [0.0050] * 3},
        "collector_durations": {"corosync": [0.033] * 3, "pacemaker": [0.030] * 3,
                                "hub": [0.013] * 3, "postgres": [0.0014] * 3},
        "page_bytes": {CFHA: 61_200, HCE: 9_800, PGE: 80_100},
        "page_samples": {CFHA: 498, HCE: 120, PGE: 557},
        "memory": {CFHA: {"VmRSS": 62 * MIB, "VmHWM": 63 * MIB},
                   HCE: {"VmRSS": 16 * MIB, "VmHWM": 17 * MIB},
                   PGE: {"VmRSS": 17 * MIB, "VmHWM": 17 * MIB}},
        "peer_failures": {PGE: peer_failures or {}},
    }  # fmt: skip
    pg = {"lab": 7, "pg_major": int(pg_version.split(".", maxsplit=1)[0]), "pg_version": pg_version}
    return {"cfdb_hosts": hosts, "node": node, "role": role, **pg,
            **full_scrape.summarise(measured)}  # fmt: skip


def full_scrape_result() -> dict[str, Any]:
    """Peers 37.0 + 8.1 = 45.1 ms. Case 1 (PostgreSQL 15): cfha 38.0 ms (0.84 x the peers, met),
    raw probes 43.5 ms (0.87, met). Case 2 (PostgreSQL 18, where prometheus-postgres-exporter's
    bgwriter collector fails): cfha 50.0 ms (1.11 x the peers, missed), raw probes 40.0 ms
    (1.25, met)."""
    error = 'pq: column \\"checkpoints_timed\\" does not exist'
    bgwriter = {"bgwriter": {"count": 8, "error": error}}
    return {"runs": 3, "cases": [
        full_scrape_case(50, "hub1", "primary", [0.036, 0.038, 0.040], [0.043, 0.0435, 0.044]),
        full_scrape_case(10_000, "hub2", "standby", [0.049, 0.050, 0.062], [0.039, 0.040, 0.041],
                         pg_version="18.6", peer_failures=bgwriter),
    ]}  # fmt: skip


def pacemaker_size(primitives: int, series: int, median: dict[str, float]) -> dict[str, Any]:
    """What pacemaker_scale.bench_size returns, with the run's `resources` and build time."""
    return {
        "resources": primitives,
        "build_seconds": 2.5,
        "primitives": primitives,
        "cib_bytes": 1_200 * primitives,
        "crm_mon_xml_bytes": 700 * primitives,
        "series": series,
        "runs": 60,
        "median_seconds": median,
        "ratio_collector_to_crm_mon": median["collector"] / median["crm_mon"],
        "ratio_exposition_to_crm_mon": median["exposition"] / median["crm_mon"],
    }


def pacemaker_scale_result() -> dict[str, Any]:
    return {"sizes": [
        pacemaker_size(10, 476, {"crm_mon": 0.0325, "collector": 0.0351, "exposition": 0.0375,
                                 "ha_cluster_exporter": 0.0651}),
        pacemaker_size(500, 20_076, {"crm_mon": 0.1443, "collector": 0.2057,
                                     "exposition": 0.3442, "ha_cluster_exporter": 0.2917}),
    ]}  # fmt: skip


def hub_role(collector: float, statement: float, baseline: float) -> dict[str, Any]:
    """What hub_scrape.bench_role returns (without the EXPLAIN lines)."""
    return {
        "collector_median_seconds": collector,
        "collector_p95_seconds": collector * 1.3,
        "statement_median_seconds": statement,
        "baseline_median_seconds": baseline,
        "ratio_collector_to_baseline": collector / baseline,
    }


def hub_scrape_result(primary_at_100000: float = 0.0465) -> dict[str, Any]:
    largest = {"postgresql": "18.6", "hosts": 100_000, "runs": 60,
               "primary": {"explain_analyze": ["Aggregate  (cost=...)", "Execution Time: 40 ms"],
                           **hub_role(primary_at_100000, 0.040, 0.0218)},
               "standby": hub_role(0.0545, 0.047, 0.0240)}  # fmt: skip
    return {
        "goal_seconds_at_100000": 0.050,
        "load_average_1m": 1.4,
        "sizes": [
            {"postgresql": "18.6", "hosts": 1_000, "runs": 200,
             "primary": hub_role(0.0013, 0.0009, 0.0002),
             "standby": hub_role(0.0014, 0.0010, 0.0004)},
            largest,
        ],
    }  # fmt: skip


def readiness_case(version: str, added: float) -> dict[str, Any]:
    """One major's case of bench.readiness_scrape.run: its `summarise` on measured rounds, plus
    the rest."""
    measured = {
        "scrapes": {"before": [0.0175, 0.0180, 0.0185], "after": [0.0180 + added] * 3},
        "collector_durations": {"keys": [0.00004] * 3, "mission_portal": [0.00022] * 3,
                                "daemons": [0.00015] * 3, "disk": [0.00006] * 3,
                                "readiness": [0.00005] * 3},
    }  # fmt: skip
    return readiness_scrape.summarise(measured) | {
        "cold_listing_median_seconds": 0.0203, "hostkeys_read_median_seconds": 0.016,
        "postgresql": version, "client_keys": 10_047, "load_average_1m": 7.7,
    }  # fmt: skip


def readiness_scrape_result(added: float = 0.0033) -> dict[str, Any]:
    return {"runs": 3, "hosts": 10_250,
            "cases": [readiness_case("15.18", added), readiness_case("18.6", 0.0029)]}  # fmt: skip


def run_of(latencies: list[float], *, seconds: float = 10.0, status: int = 202) -> Run:
    """A loadgen run; its answers are the remediator's (accepted new alerts, no duplicates)."""
    body = b'{"accepted": [1], "duplicates": 0}' if status == 202 else b'{"status": "ok"}'
    replies = [Reply(status, body, latency, send_lag=0.0004) for latency in latencies]
    return Run(replies=replies, seconds=seconds)


def spread(p50: float, middle: float, worst: float) -> list[float]:
    """Ten latencies with an unambiguous p50 (six equal) and p99 (the worst)."""
    return [p50] * 6 + [middle] * 3 + [worst]


def webhook_load_result(repeated_p99: float = 0.0250) -> dict[str, Any]:
    """Open loop at 100/s: healthz 2.6 / 15.9 ms; 1 alert 2.8 / 5.2 ms (met); 50 new alerts
    6.0 / 12.4 ms (met); 50 repeated alerts 4.2 / 25.0 ms (missed). Closed loop: healthz 1300
    req/s, 1 alert 800 req/s, 50 alerts 150 req/s. Storm: 500 deliveries, 1 job, all 202."""
    open_runs = {
        "healthz (baseline)": run_of(spread(0.0026, 0.0031, 0.0159), status=200),
        "1 alert, new": run_of(spread(0.0028, 0.0035, 0.0052)),
        "50 alerts, new": run_of(spread(0.0060, 0.0090, 0.0124)),
        "50 alerts, repeated": run_of(spread(0.0042, 0.0088, repeated_p99)),
    }
    assert set(open_runs) == set(webhook_load.SCENARIOS)
    open_loop = {
        name: {**webhook_load.stats(run), "p99_per_repetition_seconds": [0.005, 0.006, 0.005],
               "server_cpu_per_request_seconds": 0.0012}
        for name, run in open_runs.items()
    }  # fmt: skip
    closed_runs = {
        "healthz (baseline)": run_of([0.006] * 26, seconds=0.02, status=200),
        "1 alert, new": run_of([0.010] * 16, seconds=0.02),
        "50 alerts, new": run_of([0.050] * 3, seconds=0.02),
    }
    assert tuple(closed_runs) == webhook_load.CLOSED_LOOP
    closed_loop = {
        name: {**webhook_load.stats(run), "jobs_by_state": {"refused": len(run.replies)}}
        for name, run in closed_runs.items()
    }
    storm = run_of([0.004] * 490 + [0.0252] * 10, seconds=1.5)
    return {
        "rate": 100.0,
        "seconds": 10.0,
        "repetitions": 3,
        "load_average_before": 0.9,
        "open_loop": open_loop,
        "closed_loop": closed_loop,
        "fsync_commit_floor_seconds": 0.00016,
        "duplicate_storm": {**webhook_load.stats(storm), "accepted": 1, "duplicates": 499,
                            "jobs_for_the_alert": 1, "senders": 10,
                            "jobs_by_state": {"refused": 1}},
        "load_average_after": 1.2,
    }  # fmt: skip


def resync_size(
    megabytes: int, database_bytes: int, copied_bytes: int, bare: list[float],
    remediator: list[float], *, postgresql: str = "15.18",
) -> dict[str, Any]:  # fmt: skip
    """What resync.bench_size returns."""
    samples = {"bare": bare, "remediator": remediator}
    median = {kind: statistics.median(s) for kind, s in samples.items()}
    return {
        "postgresql": postgresql,
        "megabytes": megabytes,
        "database_bytes": database_bytes,
        "copied_bytes": copied_bytes,
        "rounds": len(bare),
        "samples_seconds": samples,
        "median_seconds": median,
        "ratio": median["remediator"] / median["bare"],
        "remediator_steps_median_seconds": {"hold": 0.02, "rewind_dry_run": 0.05,
                                            "basebackup": 0.40, "verify": 0.06},
    }  # fmt: skip


def resync_result() -> dict[str, Any]:
    """100 MB: 0.59 s against 0.46 s (1.28, missed); 999 MB: 2.51 s against 2.45 s (met)."""
    return {"poll_interval_seconds": 0.5, "sizes": [
        resync_size(100, 100 * MIB, 131 * MIB, [0.45, 0.46, 0.47], [0.58, 0.59, 0.61]),
        resync_size(1000, 999 * MIB, 1030 * MIB, [2.40, 2.45, 2.47], [2.50, 2.51, 2.60]),
    ]}  # fmt: skip


def pg_scrape_case(postgresql: str, raw: float, scrape: float) -> dict[str, Any]:
    """What pg_scrape.measure_on returns."""
    return {
        "postgresql": postgresql,
        "raw_sql_median_seconds": raw,
        "scrape_median_seconds": scrape,
        "scrape_p99_seconds": 0.0031,
        "ratio_scrape_to_raw_sql": scrape / raw,
        "exporter_rss_bytes": 41 * MIB,
    }


def pg_scrape_result() -> dict[str, Any]:
    return {"runs": 300, "cases": [pg_scrape_case("15.18", 0.00023, 0.0017),
                                   pg_scrape_case("18.6", 0.00025, 0.0018)]}  # fmt: skip


def soak_result() -> dict[str, Any]:
    """What soak.run saves: VmRSS every 100 scrapes, and the idle-connection rounds."""
    samples = [(n, 60 * 2**20 + n * 40) for n in range(0, 3001, 100)]  # 40 B a scrape
    after = [(n, rss) for n, rss in samples if n >= 500]
    quiet, crowded = [0.030, 0.031, 0.032], [0.031, 0.032, 0.033]
    return {
        "scrapes": 3000, "warmup": 500, "rate": 20.0, "rounds": 10,
        "soak": {"rss_samples": samples, "growth_per_1000_bytes": soak.slope(after) * 1000,
                 "rss_after_warmup_bytes": after[0][1], "rss_end_bytes": samples[-1][1]},
        "idle_connections": {"quiet_median_seconds": 0.031, "crowded_median_seconds": 0.032,
                             "ratio": 0.032 / 0.031, "server_fds_with_idle_connections": 1012,
                             "samples": {"quiet": quiet, "crowded": crowded}},
        "rss_final_bytes": 60 * 2**20 + 120_000,
    }  # fmt: skip


def compare_result() -> dict[str, Any]:
    """What compare_ha_cluster_exporter.main saves (offline only: no --lab)."""
    timings = {compare_ha_cluster_exporter.HCE_NAME: [0.0470, 0.0477, 0.0490],
               compare_ha_cluster_exporter.CFHA_NAME: [0.0300, 0.0312, 0.0330]}  # fmt: skip
    return {"runs": 3, "offline": compare_ha_cluster_exporter._summary(timings)}


RESULTS = {
    "full_scrape": full_scrape_result,
    "pacemaker_scale": pacemaker_scale_result,
    "hub_scrape": hub_scrape_result,
    "readiness_scrape": readiness_scrape_result,
    "webhook_load": webhook_load_result,
    "resync": resync_result,
    "pg_scrape": pg_scrape_result,
    "soak": soak_result,
    "compare_ha_cluster_exporter": compare_result,
}
