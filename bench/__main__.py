"""`python -m bench [name ...]`: run the benchmarks (all of them, or the named ones)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import hub_scrape, pg_scrape

BENCHMARKS: dict[str, Callable[[], int]] = {
    "pg_scrape": pg_scrape.main,
    "hub_scrape": lambda: hub_scrape.main([]),
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    status = 0
    for name in argv or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        status |= BENCHMARKS[name]()
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
