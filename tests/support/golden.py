"""Golden expositions: what the `pacemaker` and `pgsql_agent` collectors publish for each
offline state of ``lab/offline/cibstates.py``, read with the real crm_mon and cibadmin.

Regenerate after an intended change, then review the diff line by line::

    .venv/bin/python -m tests.support.golden

The scrape runs as hub1 in Europe/Berlin with a fixed clock, so every line is deterministic.
The lock file is looked for where the CIB says (``/var/cfengine/state/pg/tmp/PGSQL.lock``),
which does not exist on a test machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig
from exporter.scrape import ScheduledCollector, Scraper
from lab.offline.cibstates import INCIDENT_AT, PCMK_TZ, CibStates
from tests.support.metrics_text import scrape_text
from tests.support.runners import CibFileRunner

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
STATES = CibStates.NAMES
NOW = float(INCIDENT_AT + 600)
"""The scrape's clock: ten minutes after each state's incident."""
PREFIXES = ("cfha_pacemaker_", "cfha_pgsql_")
LOCAL_NODE = "hub1"


def golden_path(state: str) -> Path:
    return GOLDEN_DIR / f"pacemaker-{state}.prom"


def render(cib: Path, node: str = LOCAL_NODE) -> str:
    """The collectors' samples for the saved CIB ``cib``, sorted, one per line."""
    pacemaker = PacemakerCollector(
        PacemakerConfig(time_zone=PCMK_TZ), node, CibFileRunner(cib), clock=lambda: NOW
    )
    agent = PgsqlAgentCollector(PgsqlAgentConfig(), node, "cfpgsql", clock=lambda: NOW)
    scraper = Scraper([ScheduledCollector(pacemaker, 10.0)], [agent], node=node, clock=lambda: NOW)
    try:
        text = scrape_text(scraper.scrape())
    finally:
        scraper.close()
    return "\n".join(sorted(line for line in text.splitlines() if line.startswith(PREFIXES))) + "\n"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cfha-golden-") as tmp:
        states = CibStates(Path(tmp))
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        for state in STATES:
            path = golden_path(state)
            path.write_text(render(getattr(states, state)()))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
