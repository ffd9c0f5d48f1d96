"""A CFEngine hub's data for tests and benchmarks: a seeded cfdb and the HA files.

The cfdb tables and their seed come from the lab (`lab.cfdb`), so tests, benchmarks and the live
lab all use the same documented schema and the same deterministic data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from clusterstate.cfengine import (
    HA_CFG,
    HA_ENABLED,
    HA_INFO,
    HA_INFO_MASTERFILES,
    MASTER_HUB,
    POLICY_HUB_MARKER,
)
from lab import cfdb
from lab.render import HA_CFG_TEXT
from tests.support.pgpair import MONITOR_ROLE, PgPair

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
    counts = cfdb.seed(pair.primary.conninfo(user="postgres", dbname=dbname), hosts, moment,
                       rng_seed, HUBS)  # fmt: skip
    pair.wait_replayed()
    return counts, plan


def ha_info_text(hubs: tuple[cfdb.Hub, ...] = HUBS) -> str:
    return json.dumps(
        {h.ip: {"sha": h.sha, "internal_ip": h.ip, "is_in_cluster": True} for h in hubs}, indent=2
    )


def write_workdir(base: Path, master_ip: str | None = HUBS[0].ip) -> Path:
    """A CFEngine work directory with the HA files as a hub has them: ha_info.json (inputs and
    masterfiles), master_hub.dat, ha.cfg and the markers ha_enabled and am_policy_hub."""
    for relative, text in (
        (HA_INFO, ha_info_text()),
        (HA_INFO_MASTERFILES, ha_info_text()),
        (MASTER_HUB, None if master_ip is None else master_ip + "\n"),
        (HA_ENABLED, ""),
        (HA_CFG, HA_CFG_TEXT),
        (POLICY_HUB_MARKER, ""),
    ):
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text)
    return base
