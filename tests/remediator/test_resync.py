"""resync_standby on the fake world: the order of the plan, its branches, failure, refusals."""

from __future__ import annotations

import os
import pwd
from dataclasses import replace

import pytest
from flask import Flask

from clusterstate.host import DataDir
from lab.offline.clusterstates import (
    agent,
    failure,
    history,
    node,
    pg_down,
    pg_primary,
    with_pacemaker,
)
from tests.remediator.snapshots import cleanup_argv

from .conftest import AppFactory, circuit_of, core, job_of, resync_alert
from .fakeworld import Call, World
from .snapshots import PGSQL, healthy, host, standby_failed
from .test_worker import run, send

PGDATA = PGSQL.pgdata


def names(world: World) -> list[str]:
    """Each command by what it is: the program (after setpriv/env) and a telling argument."""
    out = []
    for argv in world.commands():
        if argv[0] == "setpriv":
            program = next(a for a in argv if a.startswith("/") and "/bin/" in a)
            out.append(os.path.basename(program) + (" --dry-run" if "--dry-run" in argv else ""))
        else:
            out.append(" ".join(argv[:2]))
    return out


@pytest.fixture
def broken_standby(world: World) -> World:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")  # a cause re-sync cures (`test_resync_cause` for the others)
    return world


def test_rewind_path(broken_standby: World, app: Flask) -> None:
    world = broken_standby
    job_id = send(app, resync_alert(pgdata="/etc", tmpdir="/"))["accepted"][0]
    run(app)
    job = job_of(app, job_id)
    assert job["state"] == "succeeded", job["detail"]
    assert names(world) == [
        "cibadmin --modify",
        "install -d",
        "cp -p",
        "pg_controldata",
        "pg_rewind --dry-run",
        "pg_rewind",
        "cp -p",
        "rm -f",
        "cibadmin --delete",
        "crm_resource --cleanup",
    ]
    commands = world.commands()
    # Paths come from the CIB's pgsql resource, never from the labels (which said /etc and /).
    assert all("/etc" not in a for argv in commands for a in argv if a != "--")
    rewind = commands[5]
    user = pwd.getpwnam("postgres")
    assert rewind[:7] == (
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--pdeathsig",
        "KILL",
        "--",
    )
    assert rewind[-3:] == (
        "/usr/lib/postgresql/15/bin/pg_rewind",
        f"--target-pgdata={PGDATA}",
        "--source-server=host=10.250.0.100 port=5432 user=postgres dbname=postgres "
        "connect_timeout=10",
    )
    assert commands[7] == ("rm", "-f", "--", "/var/cfengine/state/pg/tmp/PGSQL.lock")
    assert commands[8] == (
        "cibadmin",
        "--delete",
        "--xpath",
        "//constraints/rsc_location[@id='cfha-hold-mscfpgsql-on-hub2']",
    )
    assert commands[9] == cleanup_argv("hub2")
    hold = commands[0][-1]
    assert 'id="cfha-hold-mscfpgsql-on-hub2" rsc="mscfpgsql" role="Started"' in hold
    assert 'score="-INFINITY"' in hold and 'value="hub2"' in hold and 'operation="lt"' in hold
    assert not world.base.pacemaker.location_constraints and not world.lock.held
    steps = core(app).journal.steps(job_id)
    skipped = [s["name"] for s in steps if s["outcome"] == "skipped"]
    assert skipped == ["prepare_new", "basebackup", "set_aside", "swap_in"]


def test_basebackup_when_rewind_cannot(broken_standby: World, app: Flask) -> None:
    world = broken_standby
    world.failing["pg_rewind"] = 1
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    assert job_of(app, job_id)["state"] == "succeeded"
    assert names(world) == [
        "cibadmin --modify",
        "install -d",
        "cp -p",
        "pg_controldata",
        "pg_rewind --dry-run",
        "install -d",
        "pg_basebackup",
        "mv -T",
        "mv -T",
        "cp -p",
        "rm -f",
        "cibadmin --delete",
        "crm_resource --cleanup",
    ]
    commands = world.commands()
    new_dir = f"{PGDATA}.cfha-new-{job_id[:12]}"
    assert commands[5][-1] == new_dir and "-o" in commands[5]
    assert commands[6][-9:] == ("-U", "postgres", "-D", new_dir, "-X", "stream", "-c", "fast", "-w")
    assert commands[7] == ("mv", "-T", "--", PGDATA, f"{PGDATA}.cfha-old-{job_id[:12]}")
    assert commands[8] == ("mv", "-T", "--", new_dir, PGDATA)


def test_a_failed_rebuild_stays_banned_and_opens_the_circuit(
    broken_standby: World, app: Flask
) -> None:
    world = broken_standby
    world.failing["pg_rewind"] = 1
    world.failing["pg_basebackup"] = 1
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    job = job_of(app, job_id)
    assert job["state"] == "failed" and job["detail"].startswith("basebackup")
    assert names(world)[-2:] == ["rm -rf", "cibadmin --modify"]
    assert world.commands()[-2] == (
        "rm",
        "-rf",
        "--one-file-system",
        "--",
        f"{PGDATA}.cfha-new-{job_id[:12]}",
    )
    constraints = world.base.pacemaker.location_constraints
    assert [c.id for c in constraints] == ["cfha-hold-mscfpgsql-on-hub2"]
    assert circuit_of(app, "resync_standby", "hub2")["open"] == 1
    assert not any(a[:2] == ("mv", "-T") for a in world.commands())
    assert not world.lock.held


def test_wiped_data_directory_goes_straight_to_basebackup(
    broken_standby: World, app: Flask
) -> None:
    world = broken_standby
    world.update_local("hub2", has_version=False, config_files=frozenset())
    send(app, resync_alert())
    run(app)
    assert names(world)[:3] == ["cibadmin --modify", "install -d", "pg_basebackup"]


def test_already_streaming_is_nothing_to_do(world: World, app: Flask) -> None:
    send(app, resync_alert())
    assert run(app)[0]["refused_by"] == "nothing_to_do"
    assert world.commands() == []


def test_a_standby_streaming_again_is_not_rebuilt_for_old_failures(
    world: World, app: Flask
) -> None:
    """Its monitor failed once (the record stays until a cleanup), then it streamed again."""
    old = failure("cfpgsql", "hub2", "monitor", "not running", world.clock.time() - 3600)
    world.base = with_pacemaker(
        world.base, failed_actions=(old,), history=(history("cfpgsql", "hub2", 1, 1),)
    )
    send(app, resync_alert())
    job = run(app)[0]
    assert job["refused_by"] == "nothing_to_do" and "already streaming" in job["detail"]
    assert world.commands() == []


def test_the_other_hub_ignores_a_local_action(make_app: AppFactory, world: World) -> None:
    hub1 = make_app("hub1")
    world.set(standby_failed(world.snapshot("hub1"), "hub2"))
    alert = resync_alert(node="hub2")
    result = send(hub1, alert)
    assert result["ignored"] == [{"fingerprint": alert["fingerprint"], "reason": "not_my_node"}]
    assert core(hub1).journal.jobs() == []


def refused_by(app: Flask, world: World, alert: dict[str, object]) -> str:
    send(app, alert)
    job = run(app)[0]
    assert world.commands() == [], world.commands()
    return f"{job['refused_by']}: {job['detail']}"


def test_refuses_to_resync_the_primary(make_app: AppFactory, world: World) -> None:
    hub1 = make_app("hub1")
    world.set(healthy("hub1"))
    world.update_local("hub1", pgsql_lock_present=True)
    assert refused_by(hub1, world, resync_alert(node="hub1")).startswith("target_not_primary")


def test_refuses_when_two_servers_are_writable(broken_standby: World, app: Flask) -> None:
    world = broken_standby
    world.update_local("hub2", postgres=pg_primary(timeline=2))
    assert refused_by(app, world, resync_alert()).startswith("target_not_primary")
    world.update_local("hub2", postgres=pg_down())
    views = (agent("hub1", "PRI", "LATEST"), agent("hub2", "PRI"))
    world.base = with_pacemaker(world.base, agent_views=views)
    send(app, resync_alert(starts_at="2027-02-01T00:00:00Z"))
    assert run(app)[0]["refused_by"] == "target_not_primary"


@pytest.mark.parametrize(
    ("change", "precondition"),
    [
        ({"quorate": False}, "quorate"),
        ({"maintenance_mode": True}, "not_maintenance"),
        ({"fencing_enabled": False}, "fencing"),
        ({"last_promotion": "recent"}, "no_recent_failover"),
        ({"nodes": (node("hub1", False, unclean=True), node("hub2"))}, "no_unclean_node"),
        ({"primary": pg_down("timeout")}, "single_primary"),
        ({"data_dir": host(free_bytes=10, postmaster_running=False)}, "disk_room"),
        ({"data_dir": host(is_symlink=True, postmaster_running=False)}, "pgdata_sane"),
        ({"data_dir": host(owner="root", postmaster_running=False)}, "pgdata_sane"),
    ],
)
def test_refusals(
    broken_standby: World, app: Flask, change: dict[str, object], precondition: str
) -> None:
    world = broken_standby
    if change.get("last_promotion") == "recent":
        change = {"last_promotion": world.clock.time() - 60}
    if "data_dir" in change:
        data_dir = change.pop("data_dir")
        assert isinstance(data_dir, DataDir)
        world.local["hub2"] = replace(world.local["hub2"], data_dir=data_dir)
    if "primary" in change:
        world.base = replace(world.base, primary=change.pop("primary"))  # type: ignore[arg-type]
    world.base = with_pacemaker(world.base, **change)
    assert refused_by(app, world, resync_alert()).startswith(precondition)


def test_recovery_never_holds_a_node_that_became_the_primary(
    broken_standby: World, app: Flask
) -> None:
    """The re-sync fails in `verify` because the other hub went away meanwhile and pacemaker
    promoted the target: `reassert_hold` re-reads the cluster and must not ban the one primary
    (issue 17 item 1)."""
    world = broken_standby

    applied = world.apply

    def other_hub_goes_away(call: Call) -> int:
        code = applied(call)
        if "--cleanup" in call.argv:  # the last command before verify, once it took effect
            p = world.base.pacemaker
            assert p.database is not None and p.vip is not None
            database = replace(p.database, active_nodes=("hub2",), promoted_nodes=("hub2",))
            world.base = replace(
                with_pacemaker(
                    world.base,
                    nodes=(node("hub1", False), node("hub2", is_dc=True)),
                    database=database,
                    vip=replace(p.vip, active_nodes=("hub2",)),
                    resources=(database, replace(p.vip, active_nodes=("hub2",))),
                    agent_views=(agent("hub2", "PRI", "LATEST"),),
                    location_constraints=(),
                ),
                primary=pg_primary(streaming_to=()),
            )
            world.update_local("hub2", postgres=pg_primary(streaming_to=()))
        return code

    world.apply = other_hub_goes_away  # type: ignore[method-assign]
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    job = job_of(app, job_id)
    assert job["state"] == "failed" and "verify" in job["detail"]
    steps = {s["name"]: s for s in core(app).journal.steps(job_id)}
    assert steps["reassert_hold"]["outcome"] == "skipped"
    assert "target_not_primary" in steps["reassert_hold"]["detail"]
    after_cleanup = world.commands()[world.commands().index(cleanup_argv("hub2")) + 1 :]
    assert not [c for c in after_cleanup if c[:2] == ("cibadmin", "--modify")]
    assert not world.base.pacemaker.location_constraints  # hub2, the primary, is not banned


def test_recovery_changes_nothing_blind(broken_standby: World, app: Flask) -> None:
    """The cluster cannot be read when the recovery would run: the hold is not re-asserted on
    an unknown target (a human is paged by the failed job and the open circuit)."""
    world = broken_standby

    def cluster_goes_dark(call: Call) -> None:
        if "--cleanup" in call.argv:
            world.on_call = None
            world.readable = False

    world.on_call = cluster_goes_dark
    job_id = send(app, resync_alert())["accepted"][0]
    run(app)
    steps = {s["name"]: s for s in core(app).journal.steps(job_id)}
    assert steps["reassert_hold"]["outcome"] == "skipped"
    assert "cannot be read" in steps["reassert_hold"]["detail"]
