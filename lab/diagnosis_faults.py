"""Faults that stop a standby from streaming for causes a re-sync does not cure, and one it
does: what the diagnosis must tell apart (docs/diagnosis.md). Each leaves a stable state, notes
in the lab's directory what it changed, and `undo` reverts exactly that (lab restore calls it).

- replication-auth-rejected: the primary's pg_hba.conf rejects replication from the standby;
- replication-password-changed: the primary's replication user gets a new password and
  pg_hba.conf requires it (scram-sha-256) for replication; the standby has none;
- primary-unreachable-from-standby: the standby's packets to the primary's port are dropped
  inside its network namespace (`tc` on its link: an htb class whose queue holds nothing takes
  them; nothing answers, connects time out; iproute2 only, no firewall or tc action needed);
- wal-removed: the standby stopped (killed) while the primary recycles WAL past it (no slot,
  wal_keep_size 0 for the while, and the standby's restore_command reads only its own copy of
  the archive), then started again by a cleanup: it runs and cannot stream;
- replay-paused: pg_wal_replay_pause() on the standby.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from clusterstate.parsers.pcmk_values import Role
from lab import postgres, render
from lab.config import PG_OS_USER, PG_PORT, PGDATA
from lab.errors import LabError
from lab.nodes import LabNodes
from lab.scenario_kit import (
    ScenarioResult,
    Target,
    failed_instance,
    kill9_postgres,
    resolve_target,
    result,
    standby_gone,
    wait_for,
)
from lab.settle import Check
from lab.status import LabStatus

WAL_RECYCLE_TIMEOUT_S = 60.0
log = logging.getLogger("lab.diagnosis_faults")


def _undo_file(lab: LabNodes) -> Path:
    return lab.config.root / "diagnosis-faults.json"


def _note(lab: LabNodes, **changes: str) -> None:
    """Remember what to revert (merged with what an earlier fault noted)."""
    path = _undo_file(lab)
    noted = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(noted | changes))


def _sql(lab: LabNodes, node: str, *statements: str) -> None:
    for statement in statements:
        postgres.query(lab.node(node), statement, None, "postgres")


def _query(
    lab: LabNodes, node: str, sql: str, params: tuple[Any, ...] | None = None, db: str = "cfdb"
) -> list[tuple[Any, ...]]:
    return postgres.query(lab.node(node), sql, params, db)


def _hba(lab: LabNodes, primary: str, first_lines: str) -> None:
    """Put `first_lines` before the rendered pg_hba.conf of the primary and reload it."""
    path = lab.node(primary).host_path(PGDATA / "pg_hba.conf")
    path.write_text(first_lines + render.pg_hba_conf(lab.config))
    _note(lab, hba=primary)
    _sql(lab, primary, "SELECT pg_reload_conf()")


def _kick(lab: LabNodes, primary: str, standby: str) -> None:
    """End the standby's walsender: its walreceiver reconnects, as after any interruption."""
    _query(
        lab,
        primary,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = %s",
        (standby,),
        "postgres",
    )


def _not_streaming(t: Target) -> Check:
    def check(s: LabStatus) -> list[str]:
        streaming = any(
            x.name == t.node and x.state == "streaming" for x in s.pg[t.primary].standbys
        )
        return [f"{t.node} still streams"] if streaming else []

    return check


def auth_rejected(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Leaves: the standby running, rejected at every reconnect (`pg_hba.conf rejects
    replication connection`); pacemaker sees no failure. Fixed by restoring pg_hba.conf."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    address = lab.node(t.node).address
    _hba(lab, t.primary, f"host replication all {address}/32 reject\n")
    _kick(lab, t.primary, t.node)
    wait_for(lab, _not_streaming(t), "replication-auth-rejected")
    return result(
        "replication-auth-rejected",
        t,
        [f"pg_hba.conf on {t.primary}: host replication all {address}/32 reject; reload"],
        f"{t.node} running, its replication connection rejected by {t.primary}",
        started,
    )


def password_changed(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Leaves: the standby running; the primary asks its replication user for a password the
    standby does not have (`fe_sendauth: no password supplied`)."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    password = secrets.token_hex(12)
    _sql(lab, t.primary, f"ALTER ROLE {PG_OS_USER} PASSWORD '{password}'")
    _note(lab, password=t.primary)
    subnet = lab.config.subnet
    _hba(lab, t.primary, f"host replication all {subnet} scram-sha-256\n")
    _kick(lab, t.primary, t.node)
    wait_for(lab, _not_streaming(t), "replication-password-changed")
    return result(
        "replication-password-changed",
        t,
        [
            f"ALTER ROLE {PG_OS_USER} PASSWORD (new, random) on {t.primary}",
            f"pg_hba.conf on {t.primary}: host replication all {subnet} scram-sha-256",
        ],
        f"{t.node} running, asked for a password it does not have",
        started,
    )


def primary_unreachable(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Leaves: the standby running; its packets to the primary's address (the VIP) on the
    PostgreSQL port are dropped in its own namespace, so connections time out. Corosync and
    everything else are untouched."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    link = lab.node(t.node).link
    tc = ["tc"]
    for argv in (
        [*tc, "qdisc", "add", "dev", link, "root", "handle", "1:", "htb", "default", "20"],
        [*tc, "class", "add", "dev", link, "parent", "1:", "classid", "1:10", "htb", "rate",
         "8kbit", "quantum", "1514"],
        [*tc, "class", "add", "dev", link, "parent", "1:", "classid", "1:20", "htb", "rate",
         "10gbit", "quantum", "200000"],
        [*tc, "qdisc", "add", "dev", link, "parent", "1:10", "handle", "10:", "pfifo", "limit",
         "0"],  # a queue of length 0: whatever is classified here is dropped
        [*tc, "filter", "add", "dev", link, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
         "match", "ip", "dst", f"{lab.vip}/32", "match", "ip", "dport", str(PG_PORT), "0xffff",
         "flowid", "1:10"],
    ):  # fmt: skip
        lab.run(t.node, argv, timeout=10, check=True)
    _note(lab, dropped=t.node)
    _kick(lab, t.primary, t.node)
    wait_for(lab, _not_streaming(t), "primary-unreachable-from-standby")
    return result(
        "primary-unreachable-from-standby",
        t,
        [f"tc on {t.node}/{link}: drop ip dst {lab.vip} dport {PG_PORT}"],
        f"{t.node} running, cut off from the primary's PostgreSQL port",
        started,
    )


def wal_removed(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Leaves: the standby running again (after its cleanup), unable to stream: the primary
    removed the WAL segment it needs (`requested WAL segment ... has already been removed`)."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    [(received, timeline)] = _query(
        lab,
        t.node,
        "SELECT pg_last_wal_receive_lsn()::text, received_tli FROM pg_stat_wal_receiver",
        db="postgres",
    )
    needed = segment_of(str(received), int(timeline))  # it resumes streaming in this one
    pid = kill9_postgres(lab, t.node)
    wait_for(lab, lambda s: failed_instance(s, t.node) + standby_gone(s, t.primary, t.node),
             "wal-removed: standby stopped")  # fmt: skip
    _sql(lab, t.primary, "ALTER SYSTEM SET wal_keep_size = 0", "SELECT pg_reload_conf()")
    _note(lab, wal_keep_size=t.primary)
    deadline = time.monotonic() + WAL_RECYCLE_TIMEOUT_S
    while _segment_present(lab, t.primary, needed):
        if time.monotonic() > deadline:
            raise TimeoutError(f"wal-removed: {t.primary} still keeps {needed}")
        _query(  # cfdb: the lab's table
            lab,
            t.primary,
            "INSERT INTO lab_writes (node, note) SELECT 'wal', 'wal-removed' "
            "FROM generate_series(1, 2000)",
        )
        _sql(lab, t.primary, "SELECT pg_switch_wal()", "CHECKPOINT")
    lab.run(t.primary, ["crm_resource", "--cleanup", "--resource", "cfpgsql", "--node", t.node],
            timeout=30, check=True)  # fmt: skip
    wait_for(lab, lambda s: [] if s.role_on(t.node) is Role.UNPROMOTED else ["not running"],
             "wal-removed: standby running again")  # fmt: skip
    return result(
        "wal-removed",
        t,
        [f"kill -9 {pid} (postmaster)", f"{t.primary} recycled WAL past {needed}",
         f"crm_resource --cleanup cfpgsql on {t.node}"],
        f"{t.node} running, the WAL it needs ({needed}) gone from {t.primary}",
        started,
    )  # fmt: skip


def replay_paused(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Leaves: the standby streaming with its replay paused; its replay lag grows."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    _sql(lab, t.node, "SELECT pg_wal_replay_pause()")
    _note(lab, paused=t.node)
    _query(lab, t.primary, "INSERT INTO lab_writes (node, note) VALUES (%s, 'while paused')",
           (t.primary,))  # fmt: skip
    return result(
        "replay-paused",
        t,
        [f"SELECT pg_wal_replay_pause() on {t.node}"],
        f"{t.node} streaming, its replay paused",
        started,
    )


# causes the diagnosis must tell apart
FAULTS: dict[str, Callable[[LabNodes, str | None], ScenarioResult]] = {
    "replication-auth-rejected": auth_rejected,
    "replication-password-changed": password_changed,
    "primary-unreachable-from-standby": primary_unreachable,
    "wal-removed": wal_removed,
    "replay-paused": replay_paused,
}


def undo(lab: LabNodes) -> list[str]:
    """Revert what these faults changed (noted by them); returns what was done. A step that
    fails (its server is down, re-cloned meanwhile) is logged and the rest still runs."""
    path = _undo_file(lab)
    if not path.exists():
        return []
    noted: dict[str, str] = json.loads(path.read_text())
    done = []
    for change, node in noted.items():
        try:
            _revert(lab, change, node)
            done.append(f"{change} on {node}")
        except (psycopg.Error, LabError, OSError) as exc:
            log.warning("undo %s on %s failed: %s", change, node, exc)
    path.unlink()
    return done


def _revert(lab: LabNodes, change: str, node: str) -> None:
    if change == "hba":
        hba = lab.node(node).host_path(PGDATA / "pg_hba.conf")
        hba.write_text(render.pg_hba_conf(lab.config))
        _sql(lab, node, "SELECT pg_reload_conf()")
    elif change == "password":
        _sql(lab, node, f"ALTER ROLE {PG_OS_USER} PASSWORD NULL")
    elif change == "dropped":
        lab.run(node, ["tc", "qdisc", "del", "dev", lab.node(node).link, "root"], timeout=10)
    elif change == "wal_keep_size":
        _sql(lab, node, "ALTER SYSTEM RESET wal_keep_size", "SELECT pg_reload_conf()")
    elif change == "paused":
        _sql(lab, node, "SELECT pg_wal_replay_resume() WHERE pg_is_wal_replay_paused()")


def segment_of(lsn: str, timeline: int) -> str:
    """The 16 MiB WAL segment holding `lsn` ("0/3000148"); pg_walfile_name() refuses to run in
    recovery, and the newest file of pg_wal may be a recycled one with a future name."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    return f"{timeline:08X}{high:08X}{low >> 24:08X}"


def _segment_present(lab: LabNodes, node: str, segment: str) -> bool:
    rows = _query(lab, node, "SELECT count(*) FROM pg_ls_waldir() WHERE name = %s", (segment,),
                  "postgres")  # fmt: skip
    return bool(rows[0][0])
