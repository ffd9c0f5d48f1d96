"""The configuration digest (CfHaConfigChanged's input): unchanged by cfha's own writes and the
pgsql agent's, changed by everyone else's. Every write is made with the real tools on a saved CIB:
the remediator's own lock and hold (their real code), pacemaker's and the agent's attributes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterstate.pacemaker import PacemakerReader, PacemakerSettings
from clusterstate.pacemaker_state import LOCK_SET_ID
from clusterstate.parsers.cib_digest import DIGEST_BITS, config_digest
from lab.offline.cibstates import CibStates, cibadmin_query, run_tool
from remediator.actions.resync_plan import hold_xml
from remediator.actions.resync_target import PgTarget
from remediator.lock import ClusterLock
from tests.support.pacemaker_tools import require_pacemaker_tools
from tests.support.runners import CibFileRunner

AGENT = ("cfpgsql-data-status",)
TARGET = PgTarget(
    "cfpgsql", "mscfpgsql", "hub2", "/var/cfengine/state/pg/data", "/var/cfengine/state/pg/tmp",
    "postgres", 0, 0, "/", "/usr/bin", "10.0.0.1", 5432, "postgres", "postgres",
)  # fmt: skip


def digest(cib: Path) -> int:
    return config_digest(
        cibadmin_query(cib), agent_attributes=AGENT, own_property_sets=(LOCK_SET_ID,)
    )


def cfha_lock(cib: Path) -> None:
    lock = ClusterLock(CibFileRunner(cib), "cibadmin", "hub2", 10)
    assert lock.acquire("job-1", 1_800_000_000, 600).acquired


def cfha_hold(cib: Path) -> None:
    xml = hold_xml(TARGET, 1_800_000_600)
    run_tool(["cibadmin", "--modify", "--allow-create", "--scope", "constraints", "--xml-text",
              xml], cib=cib)  # fmt: skip


def lrm_refresh(cib: Path) -> None:
    run_tool(["crm_attribute", "--type", "crm_config", "--name", "last-lrm-refresh",
              "--update=1800000000"], cib=cib)  # fmt: skip


def agent_data_status(cib: Path) -> None:
    run_tool(["crm_attribute", "--node", "hub2", "--name", "cfpgsql-data-status",
              "--update=DISCONNECT", "--lifetime", "forever"], cib=cib)  # fmt: skip


def ban(cib: Path) -> None:
    run_tool(["crm_resource", "--ban", "--resource", "mscfpgsql", "--node", "hub2"], cib=cib)


def maintenance(cib: Path) -> None:
    run_tool(["crm_attribute", "--type", "crm_config", "--name", "maintenance-mode",
              "--update=true"], cib=cib)  # fmt: skip


def node_attribute(cib: Path) -> None:
    run_tool(["crm_attribute", "--node", "hub2", "--name", "rack", "--update=2",
              "--lifetime", "forever"], cib=cib)  # fmt: skip


Write = Callable[[Path], None]


@pytest.fixture
def cib(cib_states: CibStates, tmp_path: Path) -> Path:
    require_pacemaker_tools()
    copy = tmp_path / "cib.xml"
    shutil.copyfile(cib_states.healthy(), copy)
    return copy


@pytest.mark.parametrize("write", [cfha_lock, cfha_hold, lrm_refresh, agent_data_status])
def test_cfhas_and_the_agents_own_writes_leave_it(cib: Path, write: Write) -> None:
    before = digest(cib)
    write(cib)
    assert digest(cib) == before


@pytest.mark.parametrize("write", [ban, maintenance, node_attribute])
def test_everyone_elses_writes_change_it(cib: Path, write: Write) -> None:
    before = digest(cib)
    for own in (cfha_lock, cfha_hold, agent_data_status):
        own(cib)
    write(cib)
    assert digest(cib) != before


def test_the_lock_released_and_the_hold_removed_leave_it(cib: Path) -> None:
    before = digest(cib)
    cfha_lock(cib)
    cfha_hold(cib)
    ClusterLock(CibFileRunner(cib), "cibadmin", "hub2", 10).release("job-1")
    hold = "//constraints/rsc_location[@id='cfha-hold-mscfpgsql-on-hub2']"
    run_tool(["cibadmin", "--delete", "--xpath", hold], cib=cib)
    assert digest(cib) == before


def test_it_fits_a_metric_value_exactly(cib: Path) -> None:
    value = digest(cib)
    assert 0 <= value < 2**DIGEST_BITS and int(float(value)) == value


def test_the_reader_publishes_it(cib: Path) -> None:
    state = PacemakerReader(PacemakerSettings(), "hub1", CibFileRunner(cib)).read()
    assert state.cib_current and state.config_digest == digest(cib)
