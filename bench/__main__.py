"""`python -m bench [name ...]`: run the benchmarks (all of them, or the named ones), then print
the summary table (also written to bench/results/summary.md). See docs/benchmarks.md.

Each benchmark also runs alone: `python -m bench.<name> [--help]`.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from bench import (
    compare_ha_cluster_exporter,
    full_scrape,
    hub_scrape,
    pacemaker_scale,
    pg_scrape,
    resync,
    summary,
    webhook_load,
)

BENCHMARKS: dict[str, Callable[[], int]] = {
    "full_scrape": lambda: full_scrape.main([]),
    "pacemaker_scale": lambda: pacemaker_scale.main([]),
    "hub_scrape": lambda: hub_scrape.main([]),
    "webhook_load": lambda: webhook_load.main([]),
    "resync": lambda: resync.main([]),
    "pg_scrape": pg_scrape.main,
    "compare_ha_cluster_exporter": lambda: compare_ha_cluster_exporter.main(["--no-doc"]),
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    names = argv or list(BENCHMARKS)
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
    print("== summary (bench/results/summary.md)", flush=True)
    summary.main([name for name in names if name not in failed])
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
