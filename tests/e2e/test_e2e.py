"""Self-healing end to end: every scenario of the matrix on the live lab with the whole product.

For each scenario (tests/e2e/matrix.py), from a healthy lab: rows are written to the primary;
the fault is injected; the expected alerts reach Alertmanager and their receivers, and no
others; the remediator acts, or refuses, as designed, and nothing the design forbids happens
(every step's argv of every job on both hubs is read); every alert resolves; the rows written
before the fault are on both hubs. Timings go to artifacts/e2e-report-pg<major>.{json,md}.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.cluster import Lab
from lab.product.stack import ProductStack
from tests.e2e.matrix import MATRIX, SCENARIOS
from tests.e2e.report import ScenarioRecord
from tests.e2e.runner import run_scenario

# Where each major's programs are in a hub: Debian's own 15, and 18 laid out as CFEngine does.
LAB_BIN_DIRS = {15: "/usr/lib/postgresql/15/bin", 18: "/var/cfengine/bin"}

pytestmark = pytest.mark.e2e
# What `make test` runs again on a PostgreSQL 18 lab (marker pg18), within the CI budget: the
# re-sync that tries pg_rewind, then re-clones (diverge: pg_controldata, pg_rewind and
# pg_basebackup of the major, from /var/cfengine/bin), where the major's own programs and
# replication are what heals. wipe-standby (a re-clone alone, 80 s more) and the rest of the
# matrix: `make e2e PG=18`.
ON_PG18_IN_CI = frozenset({"diverge"})
# The programs a scenario's re-sync must have run on either major (from the journals).
RESYNC = {"wipe-standby": ("pg_basebackup",), "diverge": ("pg_rewind", "pg_basebackup")}


@pytest.mark.pg18
def test_hubs_run_the_labs_postgres(healthy_lab: Lab) -> None:
    """The pgsql agent and the running servers use the lab's PostgreSQL: on 18 (CFHA_LAB_PG=18)
    the CFEngine layout under /var/cfengine/bin, on 15 Debian's. (That the re-syncs run its
    programs too is checked in every scenario: `checks.foreign_postgres_programs`.)"""
    lab = healthy_lab
    pg = lab.postgres()
    wanted = os.environ.get("CFHA_LAB_PG")
    assert pg.major == int(wanted or 15), f"CFHA_LAB_PG={wanted!r} but the lab runs {pg.major}"
    assert pg.bin_dir == Path(LAB_BIN_DIRS[pg.major])
    for node in lab.node_names:
        shown = lab.run(node, ["crm_resource", "--resource", "cfpgsql", "--get-parameter", "pgctl"])
        assert shown.stdout.strip() == pg.tool("pg_ctl")
        postmaster = (lab.node(node).pgdata_host / "postmaster.pid").read_text().split()[0]
        exe = lab.run(node, ["readlink", f"/proc/{postmaster}/exe"], check=True).stdout.strip()
        assert exe == pg.tool("postgres")
        [(version,)] = lab.psql(node, "SHOW server_version_num")
        assert pg.major * 10000 <= int(version) < (pg.major + 1) * 10000


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(s.name, marks=pytest.mark.pg18 if s.name in ON_PG18_IN_CI else ())
        for s in MATRIX
    ],
)
def test_scenario(
    name: str, product: ProductStack, e2e_report: list[ScenarioRecord], lab_cluster: Lab
) -> None:
    record = run_scenario(product, SCENARIOS[name])
    e2e_report.append(record)
    print(
        f"\n{name}: detect {record.detect_seconds} s, remediate {record.remediate_seconds} s, "
        f"streaming {record.streaming_seconds} s, recover {record.recover_seconds} s; "
        f"actions {[(a['hub'], a['action'], a['state']) for a in record.actions]}; "
        f"refused {[(a['hub'], a['action'], a['refused_by']) for a in record.refused]}; "
        f"diagnosed {record.causes} ({record.cause} after {record.diagnosed_seconds} s); "
        f"PostgreSQL programs {record.postgres_programs}"
    )
    assert record.passed, "\n".join(record.problems)
    pg = lab_cluster.postgres()
    wanted = {pg.tool(program) for program in RESYNC.get(name, ())}
    assert wanted <= set(record.postgres_programs), record.postgres_programs
