"""deploy/cfengine/sql/monitor-role.sql, run the way cfha.cf runs it, on a real PostgreSQL pair."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.units import DEPLOY
from tests.support.pgpair import PG_BIN, PgPair

SQL = DEPLOY / "cfengine/sql/monitor-role.sql"


def run_sql(pair: PgPair, role: str) -> subprocess.CompletedProcess[str]:
    # The policy's command line, pointed at the test primary instead of /tmp's socket.
    argv = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pair.primary.port)]
    argv += ["-U", "postgres", "-d", "postgres", "-X", "-q", "-t", "-A"]
    argv += ["-v", "ON_ERROR_STOP=1", "-v", f"role={role}", "-f", str(SQL)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("role", ["cfha_monitor_sql", "cfha-exporter"])
def test_role_is_created_once_with_pg_monitor_and_reaches_the_standby(
    pg_pair: PgPair, role: str
) -> None:
    for _ in range(2):  # every agent run may execute it: it must be idempotent
        done = run_sql(pg_pair, role)
        assert done.returncode == 0, done.stderr
    literal = role.replace("'", "''")
    query = (
        f"SELECT rolcanlogin, rolsuper, pg_has_role('{literal}', 'pg_monitor', 'member') "
        f"FROM pg_roles WHERE rolname = '{literal}'"
    )
    assert pg_pair.psql(pg_pair.primary, query) == "t|f|t"
    pg_pair.wait_replayed()
    assert pg_pair.psql(pg_pair.standby, query) == "t|f|t"
