"""The remediator's re-sync of a standby against a bare `pg_basebackup` + start, same database size.

A real PostgreSQL pair on loopback (`lab.offline.pgpair`), on each major (15 and 18 by
default), the primary's database filled to
the size (100 MB and 1 GB of table data by default, `pg_database_size`), the standby streaming.
Each round starts from the lab's `stop-standby` state: the standby's postmaster died (`pg_ctl
stop -m immediate`, no shutdown checkpoint), so the remediator's pg_rewind dry run refuses and it
re-clones, which is the data path this compares. Then, interleaved (the order alternates):

- **bare**: what an operator types, with the old data directory already removed (not timed):
  `pg_basebackup -X stream -c fast` into the empty data directory, the standby configuration the
  pgsql agent writes (standby.signal, primary_conninfo), `pg_ctl start -w`, and the wait until
  the primary's `pg_stat_replication` shows it `streaming` (polled every 20 ms);
- **remediator**: a `resync_standby` alert posted to the real remediator app (journal,
  decision with every check, the real plan and executor, argv through `setpriv` as the
  PostgreSQL user), pacemaker stood in for by `lab/offline/pacemaker_standin.py` (the hold stops,
  the cleanup starts the standby as the agent does), until the job is `succeeded` (its verify
  step saw the standby streaming on the primary's timeline). The steps: hold, wait_stopped,
  keep_config, controldata, rewind_dry_run, prepare_new, basebackup into a fresh directory,
  set_aside, swap_in, restore_config, remove_lock, release_hold, cleanup, verify.

The set-aside directory the remediator keeps (it never deletes data) is removed after each round,
not timed, and every measurement starts after an `fsync` of everything (`os.sync()`), so that
neither pays for the writeback of the copy or the removal before it. Disk use is bounded by about
4 x the size (primary, standby, the new copy beside the old one, archived WAL); everything is in
one temporary directory, removed at the end.

    .venv/bin/python -m bench.resync [--pg 15|18 ...] [--rounds N] [--poll SECONDS] [SIZE_MB ...]

`--poll` is the remediator's `guard.poll_interval_seconds` (default: the shipped default).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import add_pg_argument, argument_parser, pg_installs, save
from lab.offline.pacemaker_standin import PacemakerStandIn
from lab.offline.pginstall import PgInstall
from lab.offline.pgpair import PgPair
from remediator.app import close_app, create_app
from remediator.clock import SystemClock
from remediator.config import GuardConfig, config_from_mapping
from remediator.service import Remediator
from remediator.services import Services

SIZES_MB = (100, 1000)
GOAL_RATIO = 1.2
TOKEN = "bench-token-0123456789abcdef"
MB = 1024 * 1024


def fill(pair: PgPair, megabytes: int) -> int:
    """Grow the primary's `postgres` database to about `megabytes`; returns its size."""
    dsn = pair.primary.conninfo(user="postgres")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE filler (id bigint, pad text)")
        insert = (
            b"INSERT INTO filler SELECT g, repeat(md5(g::text), 4) FROM generate_series(%s, %s) g"
        )
        empty = _size(conn)
        conn.execute(insert, (1, 100_000))
        per_row = (_size(conn) - empty) / 100_000
        rows = int((megabytes * MB - empty) / per_row)
        step = 500_000
        for first in range(100_001, rows + 1, step):
            conn.execute(insert, (first, min(rows, first + step - 1)))
        conn.execute(b"CHECKPOINT")
        size = _size(conn)
    pair.wait_replayed(timeout=600)
    return size


def _size(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(b"SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def streaming(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        b"SELECT count(*) FROM pg_stat_replication "
        b"WHERE application_name = 'hub2' AND state = 'streaming'"
    ).fetchone()
    return row is not None and row[0] == 1


def kill_standby(pair: PgPair) -> None:
    """The lab's stop-standby: the postmaster dies, no shutdown checkpoint."""
    pair.stop_standby()


def bare(pair: PgPair) -> float:
    kill_standby(pair)
    shutil.rmtree(pair.standby.datadir)  # not timed: the operator's `rm -rf`
    os.sync()  # neither side pays for the writeback of the previous round's copy or removal
    with psycopg.connect(pair.primary.conninfo(user="postgres"), autocommit=True) as conn:
        started = time.perf_counter()
        pair._pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary.port),
                 "-U", "postgres", "-D", str(pair.standby.datadir),
                 "-X", "stream", "-c", "fast", "-w")  # fmt: skip
        PacemakerStandIn(pair).agent_start()  # standby.signal, primary_conninfo, pg_ctl start
        deadline = time.monotonic() + 300
        while not streaming(conn):
            if time.monotonic() > deadline:
                raise TimeoutError("the bare copy did not stream within 300 s")
            time.sleep(0.02)
        return time.perf_counter() - started


def remediator_resync(
    pair: PgPair, work: Path, poll: float | None
) -> tuple[float, dict[str, float]]:
    kill_standby(pair)
    stand_in = PacemakerStandIn(pair)
    work.mkdir()
    token = work / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    guard: dict[str, Any] = {"require_fencing": False}
    if poll is not None:
        guard["poll_interval_seconds"] = poll
    config = config_from_mapping({
        "cluster": "bench", "node": "hub2", "journal": str(work / "journal.db"),
        "kill_switch_file": str(work / "paused"), "web": {"token_file": str(token)},
        "guard": guard,
    })  # fmt: skip
    services = Services(runner=stand_in, reader=stand_in, lock=stand_in.lock, clock=SystemClock())
    app = create_app(config, services, start_worker=False)
    try:
        core = app.extensions["cfha_remediator"]
        assert isinstance(core, Remediator)
        os.sync()  # as for the bare copy
        started = time.perf_counter()
        answer = app.test_client().post(
            "/webhook", json=resync_payload(), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        [job_id] = answer.get_json()["accepted"]
        core.worker.run_pending()
        took = time.perf_counter() - started
        job = core.journal.job(job_id)
        assert job is not None
        steps = core.journal.steps(job_id)
        if job["state"] != "succeeded":
            raise RuntimeError(f"resync job {job['state']}: {job['detail']}; steps {steps}")
    finally:
        close_app(app)
        stand_in.pg.close()
    for aside in pair.base.glob("hub2.cfha-*"):  # not timed: the remediator never deletes data
        shutil.rmtree(aside)
    return took, {s["name"]: float(s["duration"]) for s in steps if s["outcome"] != "skipped"}


def resync_payload() -> dict[str, Any]:
    return {
        "version": "4", "status": "firing", "receiver": "cfha-remediator", "groupKey": "{}",
        "alerts": [{
            "status": "firing", "fingerprint": f"{time.time_ns():x}",
            "labels": {"alertname": "CfHaPgStandbyNotStreaming", "remediation": "resync_standby",
                       "cfha_route": "remediator", "node": "hub2", "cluster": "bench"},
            "startsAt": "2027-01-15T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        }],
    }  # fmt: skip


def bench_size(
    install: PgInstall, megabytes: int, rounds: int, poll: float | None, work: Path
) -> dict[str, Any]:
    pair = PgPair(install, Path(tempfile.mkdtemp(prefix=f"pair-{install.id}-", dir=work)))
    try:
        pair.start()
        size = fill(pair, megabytes)
        samples: dict[str, list[float]] = {"bare": [], "remediator": []}
        steps: list[dict[str, float]] = []
        for r in range(rounds):
            order = ("bare", "remediator") if r % 2 == 0 else ("remediator", "bare")
            for kind in order:
                if kind == "bare":
                    samples["bare"].append(bare(pair))
                else:
                    took, durations = remediator_resync(
                        pair, work / f"r{install.id}-{megabytes}-{r}", poll
                    )
                    samples["remediator"].append(took)
                    steps.append(durations)
        copied = sum(f.stat().st_size for f in pair.standby.datadir.rglob("*") if f.is_file())
    finally:
        pair.close()
    median = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "postgresql": install.version,
        "megabytes": megabytes,
        "database_bytes": size,
        "copied_bytes": copied,
        "rounds": rounds,
        "samples_seconds": samples,
        "median_seconds": median,
        "ratio": median["remediator"] / median["bare"],
        "remediator_steps_median_seconds": {
            name: statistics.median(s[name] for s in steps if name in s) for name in steps[0]
        },
    }


def run(
    sizes: tuple[int, ...], rounds: int, poll: float | None, installs: list[PgInstall]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cfha-bench-resync-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        results = [
            bench_size(install, size, rounds, poll, work) for install in installs for size in sizes
        ]
    used_poll = poll if poll is not None else GuardConfig().poll_interval_seconds
    result = {"poll_interval_seconds": used_poll, "sizes": results}
    save("resync", result)
    return result


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for r in result["sizes"]:
        m = r["median_seconds"]
        out.append(
            f"re-sync, PostgreSQL {r['postgresql']}, {r['database_bytes'] / MB:,.0f} MB database "
            f"({r['copied_bytes'] / MB:,.0f} MB copied): bare {m['bare']:.2f} s, remediator "
            f"{m['remediator']:.2f} s -> {r['ratio']:.2f} (goal <= {GOAL_RATIO}); poll "
            f"{result['poll_interval_seconds']:g} s"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    add_pg_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll", type=float, default=None)
    parser.add_argument("sizes", nargs="*", type=int, help="database sizes in MB")
    args = parser.parse_args(argv)
    installs = pg_installs(args.pg)
    print("\n".join(lines(run(tuple(args.sizes) or SIZES_MB, args.rounds, args.poll, installs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
