"""Circuit, cooldown and attempt budget are keyed on the live target an action would touch, not on
the label text (issue 17 item 7): a clone id and its primitive, a constraint named by its id or by
its resource and node, are one target."""

from __future__ import annotations

from flask import Flask

from lab.offline.clusterstates import location, with_pacemaker

from .conftest import AppFactory, ban_alert, circuit_of, cleanup_alert, core, job_of
from .fakeworld import World
from .test_worker import fail_standby, run, send


def test_a_clone_id_and_its_primitive_share_one_circuit(world: World, app: Flask) -> None:
    fail_standby(world)
    world.cause_present.add("hub2")
    send(app, cleanup_alert(resource="cfpgsql", starts_at="2027-01-01T00:00:00Z"))
    assert run(app)[0]["state"] == "failed"
    assert circuit_of(app, "resource_cleanup", "cfpgsql@hub2")["open"] == 1
    # Another rule (or a hand-sent alert) names the clone: the same live target.
    world.clock.advance(86400)
    world.cause_present.clear()
    fail_standby(world)
    send(app, cleanup_alert(resource="mscfpgsql", starts_at="2027-01-02T00:00:00Z"))
    job = run(app)[0]
    assert job["refused_by"] == "circuit_open" and job["target"] == "cfpgsql@hub2"
    assert len(world.commands()) == 1  # only the first, failed, cleanup ran


def test_a_constraint_by_id_or_by_resource_and_node_is_one_target(
    world: World, make_app: AppFactory
) -> None:
    app = make_app("hub1")
    ban = "cli-ban-mscfpgsql-on-hub2"
    aged = world.snapshot("hub1")
    world.base = with_pacemaker(
        aged, location_constraints=(location(ban),), last_change=aged.taken_at - 7200
    )
    send(app, ban_alert(constraint=ban, starts_at="2027-01-01T00:00:00Z"))
    first = run(app)[0]
    assert first["state"] == "succeeded" and first["target"] == ban
    # An operator bans again; an alert names it by resource and node, within the cooldown.
    world.clock.advance(60)
    placed = world.snapshot("hub1")
    world.base = with_pacemaker(
        placed, location_constraints=(location(ban),), last_change=placed.taken_at - 7200
    )
    by_resource = ban_alert(starts_at="2027-01-01T00:01:00Z")
    del by_resource["labels"]["constraint"]
    by_resource["labels"] |= {"resource": "mscfpgsql", "node": "hub2"}
    send(app, by_resource)
    second = core(app).journal.jobs()[0]
    run(app)
    second = job_of(app, second["id"])
    assert second["refused_by"] == "cooldown" and second["target"] == ban
    deletes = [c for c in world.calls if "--delete" in c.argv and not c.env]
    assert len(deletes) == 1
