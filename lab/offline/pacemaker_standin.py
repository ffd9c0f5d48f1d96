"""Pacemaker stood in for, everything else real: the resync data steps on a real PostgreSQL pair.

A fake, and says so: used by tests/remediator/test_resync_real_pg.py and by the re-sync benchmark
(`bench/resync.py`), where pacemaker cannot run (outside the lab). This runner/reader/lock plays
its part: the hold stops the standby the way
the agent's stop does (`pg_ctl stop -m fast`), releasing it and the cleanup start it the way the
agent's start does (standby.signal plus primary_conninfo with application_name = node name). Every
other command runs for real (setpriv, pg_rewind, pg_basebackup, install/mv/cp/rm), and
PostgreSQL's and the files' parts of the snapshot, and the diagnosis, are read with the real
readers.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from clusterstate.diagnosis_read import DiagnosisReader, DiagnosisSettings
from clusterstate.host import pgsql_lock, probe_data_dir
from clusterstate.model import ClusterState
from clusterstate.pacemaker_state import LockState
from clusterstate.postgres_read import ConnectionSettings, PgsqlConnections
from clusterstate.tools import CommandResult, SubprocessRunner
from lab.offline.clusterstates import corosync, location, pacemaker, pair_params, placement
from lab.offline.pgpair import PgPair
from remediator.lock import LockOutcome

DAY_S = 86400.0


class StandInLock:
    """The CIB lock's part: one remediator, so it is always free."""

    def __init__(self) -> None:
        self.state = LockState()

    def read(self) -> LockState:
        return self.state

    def acquire(self, job_id: str, now: float, ttl: float) -> LockOutcome:
        self.state = LockState("hub2", job_id, now + ttl, f"owner=hub2;job={job_id}")
        return LockOutcome(True, self.state, "acquired")

    def release(self, job_id: str) -> bool:
        self.state = LockState()
        return True


class PacemakerStandIn:
    """Runner and reader (its `lock` the lock): pacemaker emulated, everything else real."""

    def __init__(self, pair: PgPair) -> None:
        self.pair = pair
        self.held = False
        self.lock = StandInLock()
        self.calls: list[tuple[str, ...]] = []
        self.pg = PgsqlConnections(ConnectionSettings())
        self.params = pair_params(pair)
        (pair.base / "tmp").mkdir(exist_ok=True)
        self.diagnosis = DiagnosisReader(DiagnosisSettings(), SubprocessRunner())

    # -- CommandRunner -----------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Any = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        argv = tuple(argv)
        self.calls.append(argv)
        if argv[0] not in ("crm_resource", "cibadmin"):
            return SubprocessRunner().run(argv, timeout=timeout, env=env)
        if argv[:2] == ("cibadmin", "--modify"):
            self.held = True
            self.stop_standby()
        elif argv[:2] == ("cibadmin", "--delete"):
            self.held = False
        elif argv[:2] == ("crm_resource", "--cleanup") and not self.held:
            self.agent_start()
        return CommandResult(argv, 0, b"", b"", 0.0)

    def stop_standby(self) -> None:
        if probe_data_dir(str(self.pair.standby.datadir)).postmaster_running:
            self.pair._pg(
                "pg_ctl", "-D", str(self.pair.standby.datadir), "-m", "fast", "-w", "stop"
            )

    def agent_start(self) -> None:
        """What the pgsql agent's start does for a standby (recovery config, then pg_ctl)."""
        data = self.pair.standby.datadir
        (data / "standby.signal").touch()
        conninfo = (
            f"host=127.0.0.1 port={self.pair.primary.port} user=postgres application_name=hub2"
        )
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"primary_conninfo = '{conninfo}'\nrecovery_target_timeline = 'latest'\n")
        shutil.chown(data / "standby.signal", "postgres", "postgres")
        self.pair._start(self.pair.standby)

    # -- ClusterReader ---------------------------------------------------------------------
    def read(self) -> ClusterState:
        """hub1 the primary of a day-old cluster (no recent change or failover), hub2 the
        standby this remediator runs on; PostgreSQL's and the files' parts read for real."""
        now = time.time()
        data = probe_data_dir(self.params.pgdata or "")
        primary, clone_size = self.pg.primary(self.params)
        local = self.pg.local(replace(self.params, pgport=self.pair.standby.port))
        running = bool(data.postmaster_running)
        streaming = running and "hub2" in primary.streaming_to
        database = placement(
            "cfpgsql",
            ("hub1", "hub2") if running else ("hub1",),
            ("hub1",),
            primitive="cfpgsql",
            clone="mscfpgsql",
        )
        hold = location("cfha-hold-mscfpgsql-on-hub2")
        return ClusterState(
            taken_at=now,
            local_node="hub2",
            pacemaker=pacemaker(
                "hub2",
                database=database,
                agents={
                    "hub1": ("PRI", "LATEST"),
                    "hub2": ("HS:async" if streaming else "STOP", None),
                },
                location_constraints=(hold,) if self.held else (),
                pgsql=self.params,
                lock=self.lock.state,
                last_change=now - DAY_S,
                last_promotion=now - DAY_S,
            ),
            corosync=corosync("hub2"),
            postgres=local,
            primary=primary,
            primary_clone_size=clone_size,
            data_dir=data,
            pgsql_lock=pgsql_lock(self.params.lock_path, now),
            diagnosis=self.diagnosis.read("hub2", self.params, ("hub1",), local, data),
        )
