"""deploy/cfengine/sql/monitor-role.sql, run the way cfha.cf runs it, on a real PostgreSQL pair."""

from __future__ import annotations

import re
import subprocess

import pytest

from clusterstate.cfdb_schema import CANDIDATES
from lab.offline.pgpair import PgPair
from tests.deploy.units import DEPLOY

SQL = DEPLOY / "cfengine/sql/monitor-role.sql"
HUB_TABLES = sorted({name for names in CANDIDATES.values() for name in names})
# A cfdb table the role must not read: policy variables can hold secrets.
OTHER_TABLE = "__variables"


def run_sql(pair: PgPair, role: str) -> subprocess.CompletedProcess[str]:
    # The policy's command line, pointed at the test primary instead of /tmp's socket.
    argv = [str(pair.install.tool("psql")), "-h", "127.0.0.1", "-p", str(pair.primary.port)]
    argv += ["-U", "postgres", "-d", "postgres", "-X", "-q", "-t", "-A"]
    argv += ["-v", "ON_ERROR_STOP=1", "-v", f"role={role}", "-f", str(SQL)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_the_sql_grants_exactly_the_hub_collectors_tables() -> None:
    listed = re.search(r"c\.relname IN \(([^)]*)\)", SQL.read_text(), re.DOTALL)
    assert listed is not None
    assert sorted(re.findall(r"'([^']+)'", listed.group(1))) == HUB_TABLES


@pytest.mark.parametrize("role", ["cfha_monitor_sql", "cfha-exporter"])
def test_role_is_created_once_with_pg_monitor_and_reaches_the_standby(
    pg_pair: PgPair, role: str
) -> None:
    # cfdb's report tables as far as the collector cares (CFEngine 3.12.2+: __status, no status).
    tables = [t for t in HUB_TABLES if t != "status"] + [OTHER_TABLE]
    pg_pair.psql(
        pg_pair.primary, *(f"CREATE TABLE IF NOT EXISTS {t} (hostkey text)" for t in tables)
    )
    for _ in range(2):  # every agent run may execute it: it must be idempotent
        done = run_sql(pg_pair, role)
        assert done.returncode == 0, done.stderr
    literal = role.replace("'", "''")
    query = (
        f"SELECT rolcanlogin, rolsuper, pg_has_role('{literal}', 'pg_monitor', 'member') "
        f"FROM pg_roles WHERE rolname = '{literal}'"
    )
    assert pg_pair.psql(pg_pair.primary, query) == "t|f|t"
    readable = " || ".join(
        f"has_table_privilege('{literal}', '{t}', 'SELECT')::int::text" for t in tables
    )
    expected = "".join("0" if t == OTHER_TABLE else "1" for t in tables)
    assert pg_pair.psql(pg_pair.primary, f"SELECT {readable}") == expected
    listing = (
        f"SELECT has_function_privilege('{literal}', 'pg_ls_dir(text, boolean, boolean)', "
        f"'EXECUTE'), has_function_privilege('{literal}', 'pg_stat_file(text, boolean)', "
        "'EXECUTE'), has_function_privilege('{literal}', 'pg_read_binary_file(text)', 'EXECUTE')"
    ).replace("{literal}", literal)
    assert pg_pair.psql(pg_pair.primary, listing) == "t|t|f"  # names and sizes, no contents
    pg_pair.wait_replayed()
    assert pg_pair.psql(pg_pair.standby, query) == "t|f|t"
    assert pg_pair.psql(pg_pair.standby, f"SELECT {readable}") == expected
