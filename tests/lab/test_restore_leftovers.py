"""`restore` removes what people and cfha leave in the CIB: cli- constraints, the remediator's
resync hold and its lock, each written by the real tools exactly as they write it.

Offline: on a saved CIB (`cib_states`) with cibadmin/crm_resource, the lab finds each leftover and
its delete argv removes exactly that. Live (marker `lab`): a hold and the lock left in the lab's
CIB are repaired by hand in seconds, without a rebuild, and a process started in a node (as the
demo's exporters and remediators are) keeps running.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from clusterstate.pacemaker_state import LOCK_SET_ID
from clusterstate.parsers.cib import CibParseError
from clusterstate.parsers.pcmk_values import Role
from lab.cib_leftovers import Leftover, find_leftovers
from lab.cluster import Lab
from lab.offline.cibstates import CibStates, cibadmin_query, run_tool
from remediator.actions.resync_plan import hold_xml
from remediator.actions.resync_target import PgTarget
from remediator.lock import ClusterLock
from tests.support.runners import CibFileRunner

HOUR = 3600.0


def target(node: str, vip: str) -> PgTarget:
    """The resync target as the remediator resolves it from the lab's pgsql resource."""
    return PgTarget(
        rsc="cfpgsql",
        clone="mscfpgsql",
        node=node,
        pgdata="/var/cfengine/state/pg/data",
        tmpdir="/var/cfengine/state/pg/tmp",
        user="postgres",
        uid=0,
        gid=0,
        home="/var/lib/postgresql",
        bin_dir="/usr/lib/postgresql/15/bin",
        host=vip,
        port=5432,
        repuser="postgres",
        database="cfdb",
    )


def place_hold_argv(node: str, vip: str) -> list[str]:
    """What the remediator's resync runs to hold the standby (resync_plan `_place_hold`)."""
    xml = hold_xml(target(node, vip), time.time() + 2 * HOUR)
    return ["cibadmin", "--modify", "--allow-create", "--scope", "constraints", "--xml-text", xml]


@pytest.fixture
def littered_cib(cib_states: CibStates, tmp_path: Path) -> Path:
    """The healthy pair with a leftover cli-ban, a resync hold and the remediation lock."""
    cib = tmp_path / "cib.xml"
    shutil.copyfile(cib_states.healthy(), cib)
    run_tool(["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub2"], cib=cib)
    run_tool(place_hold_argv("hub2", "192.168.100.100"), cib=cib)
    outcome = ClusterLock(CibFileRunner(cib), "cibadmin", "hub2", 30).acquire("job-7", 0, HOUR)
    assert outcome.acquired, outcome.detail
    return cib


def test_finds_the_cli_ban_the_cfha_hold_and_the_lock(littered_cib: Path) -> None:
    found = find_leftovers(cibadmin_query(littered_cib))
    assert [(f.element, f.id) for f in found] == [
        ("rsc_location", "cli-ban-mscfpgsql-on-hub2"),
        ("rsc_location", "cfha-hold-mscfpgsql-on-hub2"),
        ("cluster_property_set", LOCK_SET_ID),
    ]
    assert "owner=hub2;job=job-7" in found[2].describe()


def test_each_delete_argv_removes_exactly_its_leftover(littered_cib: Path) -> None:
    found = find_leftovers(cibadmin_query(littered_cib))
    for removed, leftover in enumerate(found, start=1):
        run_tool(leftover.delete_argv(), cib=littered_cib)
        assert find_leftovers(cibadmin_query(littered_cib)) == found[removed:]
    lock = ClusterLock(CibFileRunner(littered_cib), "cibadmin", "hub2", 30)
    assert not lock.read().held


def test_a_clean_cib_has_no_leftovers(cib_states: CibStates) -> None:
    assert find_leftovers(cibadmin_query(cib_states.healthy())) == []


def test_a_garbled_cib_is_a_parse_error_not_a_guess() -> None:
    with pytest.raises(CibParseError):
        find_leftovers(b"<cib><configuration><constraints>")


def test_delete_argv_names_the_element_by_tag_and_id() -> None:
    leftover = Leftover("cfha resync hold", "rsc_location", "cfha-hold-mscfpgsql-on-hub2")
    assert leftover.delete_argv() == [
        "cibadmin",
        "--delete",
        "--xml-text",
        '<rsc_location id="cfha-hold-mscfpgsql-on-hub2"/>',
    ]


@pytest.mark.lab
@pytest.mark.timeout(240)
def test_restore_removes_a_cfha_hold_and_the_lock_without_a_rebuild(
    healthy_lab: Lab, lab_timings: dict[str, float], tmp_path: Path
) -> None:
    lab = healthy_lab
    primary, standby = lab.primary(), lab.standby()
    holders = {n: lab.load_state().node(n).holder for n in lab.node_names}
    # Stands for the demo's exporters and remediators: started in a node, tracked by the lab.
    log = tmp_path / "stand-in.log"
    pid = lab.spawn(standby, [sys.executable, "-c", "import time; time.sleep(600)"], log_path=log)
    try:
        lab.run(primary, place_hold_argv(standby, lab.vip), check=True)
        lock = ClusterLock(lab.runner(primary).tools(), "cibadmin", standby, 30)
        assert lock.acquire("job-left-behind", time.time(), HOUR).acquired
        deadline = time.monotonic() + 60
        while (st := lab.status()).role_on(standby) is not Role.STOPPED:
            assert time.monotonic() < deadline, f"the hold did not stop {standby}: {st.problems}"
            time.sleep(0.3)

        report = lab.restore_healthy(timeout=60)
        lab_timings["restore after a cfha hold and lock (s)"] = report.seconds

        assert report.rebuilt is None, report.rebuilt
        assert f"removed cfha resync hold cfha-hold-mscfpgsql-on-{standby}" in report.actions
        assert any(a.startswith("removed cfha remediation lock") for a in report.actions)
        assert lab.status().healthy
        assert not lock.read().held
        assert {n: lab.load_state().node(n).holder for n in lab.node_names} == holders
        assert lab.is_running(pid) and log.exists()
    finally:
        lab.stop_spawned(pid)
