"""Generate the cfha Grafana dashboards: `python -m dashboards.build [--check]`.

Writes one JSON file per dashboard next to this module (dashboards/<uid>.json), with sorted keys
so that the same code always gives the same bytes. `--check` writes nothing and exits 1 when a
committed file differs from what the code generates (or is missing), listing them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import ha_overview, hub_reporting, pacemaker, readiness, remediation

FOLDER = Path(__file__).resolve().parent
# uid -> builder; the uid is also the file name, and never changes (links and bookmarks use it).
DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    ha_overview.UID: ha_overview.build,
    pacemaker.UID: pacemaker.build,
    hub_reporting.UID: hub_reporting.build,
    readiness.UID: readiness.build,
    remediation.UID: remediation.build,
}


def render(build: Callable[[], dash.Dashboard]) -> str:
    """The dashboard as the JSON text that is committed."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[Path, str]:
    return {FOLDER / f"{uid}.json": render(build) for uid, build in DASHBOARDS.items()}


def stale(files: dict[Path, str]) -> list[Path]:
    """Files whose committed text differs from `files` (or that do not exist)."""
    return [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        differ = stale(files)
        for path in differ:
            print(f"{path.relative_to(FOLDER.parent)} is not what dashboards/build.py generates")
        return 1 if differ else 0
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(FOLDER.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
