"""A leftover constraint's age is the age of *this* constraint (issue 17, item 2).

`pcs resource ban` writes the same id (and the same XML) every time, so a ban cleared and placed
again is indistinguishable from the old one by its text. The remediator forgets a constraint once
it has evidence that it went away (a snapshot without it, or the alert about it resolved), and
takes the age from the CIB where pacemaker wrote one (an expired lifetime rule).

pcs, crm_resource, cibadmin, crm_mon and crm_simulate run for real on a copy of a saved CIB.
Offline no CIB manager stamps `cib-last-written`, so each configuration change made here is
stamped the way the live one would be (`CibStates._written`). PostgreSQL and the local files are
what that state implies (the saved CIBs have no database; see test_live_reader).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterstate.corosync import CorosyncReader, CorosyncSettings
from clusterstate.pacemaker import PacemakerReader
from clusterstate.read import ClusterStateReader
from lab.offline.cibstates import INCIDENT_AT, PCMK_TZ, CibStates, run_tool
from lab.offline.clusterstates import location, lock_file, with_pacemaker
from remediator import guard
from remediator.actions.base import Hints
from remediator.decide import Decider
from remediator.guard import Check
from remediator.journal import Journal
from remediator.killswitch import KillSwitch
from remediator.live import pacemaker_settings
from remediator.lock import ClusterLock
from remediator.policy import load_policy
from remediator.services import Services
from tests.support.runners import OfflineRunner

from .conftest import AppFactory, ban_alert
from .fakeworld import FakeClock, World
from .snapshots import host
from .test_live_reader import StatePg, config
from .test_worker import run, send

BAN = "cli-ban-mscfpgsql-on-hub2"
DAY = 86400


@dataclass
class Hub2:
    """hub2's remediator deciding on a live copy of a saved CIB, with its own journal."""

    cib: Path
    clock: FakeClock
    decider: Decider

    def change(self, *argv: str) -> None:
        """An operator's change to the CIB, stamped as the CIB manager would stamp it."""
        run_tool(argv, cib=self.cib)
        CibStates._written(self.cib, int(self.clock.time()))

    def age_check(self) -> Check:
        rule = load_policy(None).rule("clear-leftover-cli-constraints")
        assert rule is not None
        evaluation, _ = self.decider.evaluate(
            rule, "job1", Hints(constraint=BAN), record_observations=True
        )
        found = {c.name: c for c in evaluation.checks}
        return found.get(guard.CONSTRAINT_AGE) or found[guard.NOTHING_TO_DO]


@pytest.fixture
def hub2(cib_states: CibStates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub2:
    cib = tmp_path / "cib.xml"
    shutil.copyfile(cib_states.healthy(), cib)
    monkeypatch.setenv("CIB_file", str(cib))
    monkeypatch.setenv("TZ", PCMK_TZ)
    clock = FakeClock(INCIDENT_AT)
    runner = OfflineRunner(cib)
    cfg = config("hub2")
    reader = ClusterStateReader(  # as remediator.live wires it, on the CIB file
        PacemakerReader(pacemaker_settings(cfg), "hub2", runner, clock=clock.time),
        local_node="hub2",
        corosync=CorosyncReader(CorosyncSettings(), "hub2", runner),
        postgres=StatePg("hub1", "hub2", ("hub2",)),
        data_dir_probe=lambda _d: host(),
        lock_probe=lambda _path, _now: lock_file(False),
        clock=clock.time,
    )
    services = Services(runner, reader, ClusterLock(runner, "cibadmin", "hub2", 30), clock)
    journal = Journal(tmp_path / "journal.db", "hub2")
    decider = Decider(cfg, services, journal, KillSwitch(tmp_path / "paused"))
    return Hub2(cib, clock, decider)


def test_a_ban_placed_again_is_young_again(hub2: Hub2) -> None:
    hub2.change("pcs", "-f", str(hub2.cib), "resource", "ban", "mscfpgsql", "hub2")
    hub2.clock.advance(600)
    first = hub2.age_check()
    assert not first.ok and "600s old" in first.detail
    hub2.clock.advance(600)
    hub2.change("pcs", "-f", str(hub2.cib), "resource", "clear", "mscfpgsql")
    hub2.clock.advance(60)
    assert hub2.age_check().name == guard.NOTHING_TO_DO  # a snapshot shows it gone
    hub2.clock.advance(3 * DAY)
    hub2.change("pcs", "-f", str(hub2.cib), "resource", "ban", "mscfpgsql", "hub2")
    assert BAN in hub2.cib.read_text()  # the same id, the same XML as the first time
    hub2.clock.advance(60)
    again = hub2.age_check()
    assert not again.ok, again  # was: "older than 3600s", three days from the first sighting
    assert "60s old" in again.detail


def test_an_expired_lifetime_dates_the_constraint(hub2: Hub2) -> None:
    """crm_resource --lifetime writes `date_expression lt end`: placed before that end."""
    ban = "crm_resource --ban --resource mscfpgsql --node hub2 --lifetime PT1H"
    run_tool(ban.split(), cib=hub2.cib)
    text = hub2.cib.read_text()
    assert 'operation="lt"' in text and f"{BAN}-lifetime" in text
    snapshot = hub2.decider.services.reader.read()
    [placed] = [c for c in snapshot.pacemaker.location_constraints if c.id == BAN]
    assert placed.expires_at is not None
    # Two hours after its lifetime ran out; an unrelated configuration change a minute ago.
    hub2.clock.now = placed.expires_at + 7200
    CibStates._written(hub2.cib, int(hub2.clock.now - 60))
    check = hub2.age_check()
    assert check.ok, check  # was: "only known to be 60s old" (first sighting, last write)
    # Still running: left alone whatever its age.
    hub2.clock.now = placed.expires_at - 60
    assert not hub2.age_check().ok


def test_a_resolved_alert_forgets_the_constraint(world: World, make_app: AppFactory) -> None:
    """The remediator may see no snapshot between a clear and a new ban: the alert about the
    constraint resolving is evidence enough that it may have gone (forgetting is always safe)."""
    app = make_app("hub2", redecide_after_seconds=60)
    young_ban(world)
    first = ban_alert(constraint=BAN, starts_at="2027-01-15T08:00:00Z")
    send(app, first)
    assert run(app)[0]["refused_by"] == "constraint_age"
    world.clock.advance(2 * 3600)
    send(app, {**first, "status": "resolved", "endsAt": "2027-01-15T10:00:00Z"})
    young_ban(world)  # cleared and placed again, unseen by this hub
    send(app, ban_alert(constraint=BAN, starts_at="2027-01-15T10:30:00Z"))
    job = run(app)[0]
    assert (job["state"], job["refused_by"]) == ("refused", "constraint_age"), job
    assert world.changes() == []


def young_ban(world: World) -> None:
    s = world.snapshot("hub2")
    world.base = with_pacemaker(
        s, location_constraints=(location(BAN),), last_change=s.taken_at - 10
    )
