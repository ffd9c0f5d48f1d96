"""cfdb with the hub-report tables a CFEngine Enterprise hub keeps, and a deterministic seed.

The real DDL ships in the private hub package; tables and columns here are the documented ones
(reference/cfengine-ha.md §4). `plan()` is pure: the same (hosts, now, rng_seed, hubs) always
gives the same rows and the same `SeedCounts`, so tests can assert exact numbers. `seed()` writes
the plan with COPY (100,000 hosts take a few seconds).

The mix, over the `hosts` client hosts (the hubs come on top, always fresh, agent OK):
- never collected 4 %: no report yet (`lastreporttimestamp` NULL), one failed collection;
- stale 10 %: last report 20 min to 3 days ago (beyond the 900 s horizon), then 1-2 failed
  collections in the last 10 minutes;
- deleted 2 %: `deleted` set, last report days ago;
- fresh, the rest: reported 5 s to 290 s before `now`, 1-3 consumed collections;
- agent FAIL 6 % of the fresh hosts (last local run older than 3x the interval);
- host key collisions on 1 %, call-collected hosts 5 % (both among the fresh ones).
Each category has at least one host when `hosts` > 0. Fresh stays fresh for 610 s after `now`,
stale stays stale: counts relative to now() hold for 10 minutes; `shift_timestamps` moves the
whole data set forward in time for longer runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from lab.cfdb_plan import (
    BLUE_HOST_HORIZON_S,
    CONNECTION_ERRORS,
    CfdbError,
    Hub,
    SeedCounts,
    SeedPlan,
    expected_counts,
    hubs_from_ha_info,
    plan,
)

__all__ = [
    "BLUE_HOST_HORIZON_S",
    "CONNECTION_ERRORS",
    "DDL",
    "TABLES",
    "CfdbError",
    "Hub",
    "SeedCounts",
    "SeedPlan",
    "create_schema",
    "create_settings",
    "expected_counts",
    "hubs_from_ha_info",
    "measure",
    "plan",
    "seed",
    "shift_timestamps",
]

DDL = """
CREATE TABLE IF NOT EXISTS __hosts (
    hostkey              text PRIMARY KEY,
    ipaddress            text,
    lastreporttimestamp  timestamptz,
    firstreporttimestamp timestamptz,
    iscallcollected      boolean NOT NULL DEFAULT false,
    hostkeycollisions    integer NOT NULL DEFAULT 0,
    deleted              timestamptz
);
CREATE INDEX IF NOT EXISTS __hosts_lastreporttimestamp_idx ON __hosts (lastreporttimestamp);

CREATE TABLE IF NOT EXISTS __agentstatus (
    hostkey                          text PRIMARY KEY,
    agentexecutioninterval           integer,
    lastagentlocalexecutiontimestamp timestamptz,
    lastagentexecutionstatus         text
);

-- cf-hub's collection attempts; ts is epoch seconds despite the docs (masterfiles compares
-- to_timestamp(ts::bigint)).
CREATE TABLE IF NOT EXISTS __status (
    host    text NOT NULL,
    ts      bigint NOT NULL,
    status  text NOT NULL,
    lstatus text,
    type    text,
    who     text,
    whr     text
);
CREATE INDEX IF NOT EXISTS __status_host_ts_idx ON __status (host, ts);

CREATE TABLE IF NOT EXISTS __hubconnectionerrors (
    hostkey        text NOT NULL,
    checktimestamp timestamptz NOT NULL,
    message        text NOT NULL,
    querytype      text NOT NULL
);
CREATE INDEX IF NOT EXISTS __hubconnectionerrors_checktimestamp_idx
    ON __hubconnectionerrors (checktimestamp);

CREATE TABLE IF NOT EXISTS __lastseenhosts (
    hostkey           text NOT NULL,
    lastseendirection text NOT NULL,
    remotehostkey     text NOT NULL,
    remotehostip      text,
    lastseentimestamp timestamptz,
    lastseeninterval  real,
    PRIMARY KEY (hostkey, lastseendirection, remotehostkey)
);

CREATE TABLE IF NOT EXISTS __inventory (
    hostkey  text PRIMARY KEY,
    "values" jsonb NOT NULL DEFAULT '{}'
);

CREATE OR REPLACE VIEW hosts AS
    SELECT h.hostkey, i."values" ->> 'Host name' AS hostname, h.ipaddress,
           h.lastreporttimestamp, h.firstreporttimestamp
    FROM __hosts h LEFT JOIN __inventory i USING (hostkey)
    WHERE h.deleted IS NULL;
"""

TABLES = (
    "__hosts",
    "__agentstatus",
    "__status",
    "__hubconnectionerrors",
    "__lastseenhosts",
    "__inventory",
)


_COPY = {
    "__hosts": "hostkey, ipaddress, lastreporttimestamp, firstreporttimestamp, iscallcollected,"
    " hostkeycollisions, deleted",
    "__agentstatus": "hostkey, agentexecutioninterval, lastagentlocalexecutiontimestamp,"
    " lastagentexecutionstatus",
    "__status": "host, ts, status, lstatus, type, who, whr",
    "__hubconnectionerrors": "hostkey, checktimestamp, message, querytype",
    "__lastseenhosts": "hostkey, lastseendirection, remotehostkey, remotehostip,"
    " lastseentimestamp, lastseeninterval",
    "__inventory": 'hostkey, "values"',
}


def create_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor() as cur:
        cur.execute(DDL.encode())


def seed(
    conn_or_dsn: psycopg.Connection[Any] | str,
    hosts: int,
    now: datetime,
    rng_seed: int,
    hubs: Sequence[Hub] = (),
) -> SeedCounts:
    """Create the tables if needed, replace their contents with the plan; return the counts."""
    the_plan = plan(hosts, now, rng_seed, hubs)
    if isinstance(conn_or_dsn, str):
        with psycopg.connect(conn_or_dsn, connect_timeout=5, application_name="cfha-seed") as c:
            _write(c, the_plan)
    else:
        _write(conn_or_dsn, the_plan)
    return the_plan.counts


def _write(conn: psycopg.Connection[Any], the_plan: SeedPlan) -> None:
    rows = {
        "__hosts": the_plan.hosts,
        "__agentstatus": the_plan.agentstatus,
        "__status": the_plan.status,
        "__hubconnectionerrors": the_plan.errors,
        "__lastseenhosts": the_plan.lastseen,
        "__inventory": the_plan.inventory,
    }
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(DDL.encode())
            cur.execute(("TRUNCATE " + ", ".join(TABLES)).encode())
            for table, data in rows.items():
                with cur.copy(f"COPY {table} ({_COPY[table]}) FROM STDIN".encode()) as copy:
                    for row in data:
                        copy.write_row(row)
            cur.execute(("ANALYZE " + ", ".join(TABLES)).encode())
    except psycopg.Error as err:
        raise CfdbError(f"seeding cfdb failed: {err}") from err


def measure(conn: psycopg.Connection[Any], now: datetime) -> SeedCounts:
    """The same numbers, counted in the database (to check a seed, or a replica of it)."""
    horizon = now - timedelta(seconds=BLUE_HOST_HORIZON_S)
    with conn.cursor() as cur:
        cur.execute(
            """SELECT count(*),
                      count(*) FILTER (WHERE deleted IS NULL),
                      count(*) FILTER (WHERE deleted IS NULL AND lastreporttimestamp >= %(h)s),
                      count(*) FILTER (WHERE deleted IS NULL AND lastreporttimestamp < %(h)s),
                      count(*) FILTER (WHERE deleted IS NULL AND lastreporttimestamp IS NULL),
                      count(*) FILTER (WHERE deleted IS NOT NULL),
                      count(*) FILTER (WHERE hostkeycollisions > 0),
                      count(*) FILTER (WHERE iscallcollected)
               FROM __hosts""",
            {"h": horizon},
        )
        h = cur.fetchone() or (0,) * 8
        cur.execute(
            "SELECT count(*) FILTER (WHERE lastagentexecutionstatus = 'OK'),"
            " count(*) FILTER (WHERE lastagentexecutionstatus = 'FAIL') FROM __agentstatus"
        )
        a = cur.fetchone() or (0, 0)
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'CONSUMED'),"
            " count(*) FILTER (WHERE status = 'FAILEDC') FROM __status"
        )
        s = cur.fetchone() or (0, 0, 0)
        cur.execute("SELECT message, count(*) FROM __hubconnectionerrors GROUP BY message")
        # cfdb is SQL_ASCII: without a client encoding psycopg hands text back as bytes.
        errs = {m.decode() if isinstance(m, bytes) else str(m): int(c) for m, c in cur.fetchall()}
        cur.execute("SELECT count(*) FROM __lastseenhosts")
        ls = cur.fetchone() or (0,)
    return SeedCounts(
        hosts_total=h[0],
        hosts_live=h[1],
        hosts_fresh=h[2],
        hosts_stale=h[3],
        hosts_never_collected=h[4],
        hosts_deleted=h[5],
        hostkey_collisions=h[6],
        call_collected=h[7],
        agent_ok=a[0],
        agent_fail=a[1],
        status_rows=s[0],
        status_consumed=s[1],
        status_failedc=s[2],
        connection_errors={m: errs.get(m, 0) for m in CONNECTION_ERRORS},
        lastseen_rows=ls[0],
    )


def shift_timestamps(conn: psycopg.Connection[Any], delta: timedelta) -> None:
    """Move every timestamp of the seed forward by `delta` (as if time stood still for it)."""
    seconds = int(delta.total_seconds())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "UPDATE __hosts SET lastreporttimestamp = lastreporttimestamp + %(d)s,"
            " firstreporttimestamp = firstreporttimestamp + %(d)s, deleted = deleted + %(d)s",
            {"d": delta},
        )
        cur.execute(
            "UPDATE __agentstatus SET lastagentlocalexecutiontimestamp ="
            " lastagentlocalexecutiontimestamp + %(d)s",
            {"d": delta},
        )
        cur.execute("UPDATE __status SET ts = ts + %(s)s", {"s": seconds})
        cur.execute(
            "UPDATE __hubconnectionerrors SET checktimestamp = checktimestamp + %(d)s",
            {"d": delta},
        )
        cur.execute(
            "UPDATE __lastseenhosts SET lastseentimestamp = lastseentimestamp + %(d)s",
            {"d": delta},
        )


SETTINGS_DDL = """
CREATE TABLE IF NOT EXISTS settings (
    key   text PRIMARY KEY,
    value jsonb
);
INSERT INTO settings (key, value) VALUES ('blueHostHorizon', '900')
    ON CONFLICT (key) DO NOTHING;
"""


def create_settings(conn: psycopg.Connection[Any]) -> None:
    """Mission Portal's settings in the cfsettings database, as a key/value table holding its
    'not reporting' horizon (the shape cfha reads; Mission Portal's own DDL is not public)."""
    conn.execute(SETTINGS_DDL.encode())
