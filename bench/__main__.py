"""`python -m bench [name ...]`: run the benchmarks (all of them, or the named ones), then print
the summary table (also written to bench/results/summary.md). See docs/benchmarks.md.

Each benchmark also runs alone: `python -m bench.<name> [--help]`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable

from bench import (
    compare_ha_cluster_exporter,
    full_scrape,
    hub_scrape,
    pacemaker_scale,
    pg_scrape,
    readiness_scrape,
    resync,
    soak,
    summary,
    webhook_load,
)

BENCHMARKS: dict[str, Callable[[], int]] = {
    "full_scrape": lambda: full_scrape.main([]),
    "pacemaker_scale": lambda: pacemaker_scale.main([]),
    "hub_scrape": lambda: hub_scrape.main([]),
    "readiness_scrape": lambda: readiness_scrape.main([]),
    "webhook_load": lambda: webhook_load.main([]),
    "resync": lambda: resync.main([]),
    "pg_scrape": lambda: pg_scrape.main([]),
    "soak": lambda: soak.main([]),
    "compare_ha_cluster_exporter": lambda: compare_ha_cluster_exporter.main(["--no-doc"]),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks, then print their summary table."
    )
    known = ", ".join(BENCHMARKS)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: all of {known}")
    names: list[str] = parser.parse_args(argv).names
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {known}")
    names = names or list(BENCHMARKS)
    failed: list[str] = []
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        try:
            status |= BENCHMARKS[name]()
        except Exception:  # one broken benchmark must not cost the others' results
            traceback.print_exc()
            print(f"== {name} FAILED (no result in this run)", flush=True)
            failed.append(name)
            status |= 1
    succeeded = [name for name in names if name not in failed]
    if not succeeded:  # an empty list would make the summary show every earlier run's results
        print("== no summary: no benchmark gave a result in this run", flush=True)
        return status
    print("== summary (bench/results/summary.md)", flush=True)
    summary.main(succeeded)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
