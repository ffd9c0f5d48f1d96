"""A CFEngine hub's data without the live lab: a seeded cfdb on a `PgPair`, and the HA files.

The cfdb tables and their seed are the lab's (`lab.cfdb`), the files are laid out as the lab's
hubs have them (`lab.config`), so tests, benchmarks and the live lab all use the same documented
schema and the same deterministic data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lab import cfdb
from lab.cfdb_plan import ha_info_text
from lab.config import (
    CFENGINE_DIR,
    HA_CFG,
    HA_ENABLED,
    HA_INFO_INPUTS,
    HA_INFO_JSON,
    MASTER_HUB_DAT,
    POLICY_HUB_MARKER,
)
from lab.offline.pgpair import MONITOR_ROLE, PgPair
from lab.render import HA_CFG_TEXT

HUBS = (
    cfdb.Hub(name="hub1", ip="10.250.99.1", sha="1f" * 32),
    cfdb.Hub(name="hub2", ip="10.250.99.2", sha="2e" * 32),
)
IP_OF = {hub.name: hub.ip for hub in HUBS}


def create_cfdb(
    pair: PgPair, dbname: str, hosts: int, rng_seed: int = 1, now: datetime | None = None
) -> tuple[cfdb.SeedCounts, cfdb.SeedPlan]:
    """Create database `dbname` on the primary, seed it (hubs included), wait for the standby."""
    pair.psql(
        pair.primary, f"CREATE DATABASE {dbname}", f"GRANT pg_read_all_data TO {MONITOR_ROLE}"
    )
    moment = now or datetime.now(UTC).replace(microsecond=0)
    plan = cfdb.plan(hosts, moment, rng_seed, HUBS)
    counts = cfdb.seed(
        pair.primary.conninfo(user="postgres", dbname=dbname), hosts, moment, rng_seed, HUBS
    )
    pair.wait_replayed()
    return counts, plan


def write_workdir(base: Path, master_ip: str | None = HUBS[0].ip) -> Path:
    """A CFEngine work directory (`base` stands for /var/cfengine) with the HA files as a hub has
    them: ha_info.json (inputs and masterfiles), master_hub.dat, ha.cfg and the markers
    ha_enabled and am_policy_hub."""
    for inside, text in (
        (HA_INFO_INPUTS, ha_info_text(HUBS)),
        (HA_INFO_JSON, ha_info_text(HUBS)),
        (MASTER_HUB_DAT, None if master_ip is None else master_ip + "\n"),
        (HA_ENABLED, ""),
        (HA_CFG, HA_CFG_TEXT),
        (POLICY_HUB_MARKER, ""),
    ):
        path = base / inside.relative_to(CFENGINE_DIR)
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text)
    return base
