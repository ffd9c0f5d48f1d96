"""The remediator's reading and its checks on real offline pacemaker states (cibstates).

crm_mon and cibadmin run for real on copies of saved CIBs (`CIB_file`), read by the shared
readers exactly as the remediator wires them (`remediator.live`); crm_resource --cleanup cannot
(2.1.5 only reports a dry run there), the lab tests run it. Stand-ins, and why: PostgreSQL
and the local files (the saved states have no database: each test says what PostgreSQL would
answer in that state; the PostgreSQL readers are tested on a real pair in test_live_pg), and
corosync (not running offline: captured outputs of a real two-node cluster).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from clusterstate.corosync import CorosyncReader, CorosyncSettings
from clusterstate.disk import CloneSize
from clusterstate.host import DataDir
from clusterstate.model import ClusterState
from clusterstate.pacemaker import PacemakerReader
from clusterstate.pacemaker_state import PgsqlParams
from clusterstate.postgres import PgFacts
from clusterstate.read import ClusterStateReader
from clusterstate.tools import CommandResult, SubprocessRunner
from lab.offline.cibstates import HEALTHY_AT, INCIDENT_AT, PCMK_TZ, CibStates
from lab.offline.clusterstates import GiB, lock_file, pg_primary, pg_standby
from remediator import guard
from remediator.actions.base import Context, Hints
from remediator.actions.clear_cli_constraints import ClearCliConstraintsParams
from remediator.actions.clear_cli_constraints import evaluate as evaluate_clear
from remediator.actions.resource_cleanup import ResourceCleanupParams
from remediator.actions.resource_cleanup import evaluate as evaluate_cleanup
from remediator.config import RemediatorConfig, config_from_mapping
from remediator.live import pacemaker_settings
from remediator.lock import ClusterLock
from remediator.simulate import removal_is_quiet
from tests.remediator.snapshots import cleanup_argv
from tests.support.runners import OfflineRunner

from .snapshots import host


class StatePg:
    """What PostgreSQL answers in a given state (the saved CIBs have no database)."""

    def __init__(self, primary: str, local: str, streaming_to: tuple[str, ...] = ()) -> None:
        self.primary_node, self.local_node, self.streaming_to = primary, local, streaming_to

    def local(self, _p: PgsqlParams) -> PgFacts:
        return pg_primary(()) if self.local_node == self.primary_node else pg_standby()

    def primary(self, _p: PgsqlParams) -> tuple[PgFacts, CloneSize | None]:
        return pg_primary(self.streaming_to), CloneSize(GiB, 0, archive_bytes=0)


def config(node: str, **guard_overrides: object) -> RemediatorConfig:
    return config_from_mapping(
        {
            "cluster": "cfcluster",
            "node": node,
            "guard": {"require_fencing": False, **guard_overrides},
        }
    )


@pytest.fixture
def read(
    cib_states: CibStates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ClusterState]:
    """read(state, node, pg, at) -> what hub `node` reads of a copy of that state."""
    monkeypatch.setenv("TZ", PCMK_TZ)  # crm_mon prints local times in its own zone

    def read_state(
        state: str,
        node: str = "hub2",
        pg: StatePg | None = None,
        at: float = INCIDENT_AT + 600,
        local: DataDir | None = None,
    ) -> ClusterState:
        copy = tmp_path / f"{state}.xml"
        if not copy.exists():
            shutil.copyfile(getattr(cib_states, state)(), copy)
        monkeypatch.setenv("CIB_file", str(copy))  # for the lock and commands run for real
        runner = OfflineRunner(copy)
        reader = ClusterStateReader(
            PacemakerReader(pacemaker_settings(config(node)), node, runner, clock=lambda: at),
            local_node=node,
            corosync=CorosyncReader(CorosyncSettings(), node, runner),
            postgres=pg or StatePg("hub1", node, ("hub2",)),
            data_dir_probe=lambda _d: local or host(),
            lock_probe=lambda _path, _now: lock_file(False),
            clock=lambda: at,
        )
        return reader.read()

    return read_state


def test_healthy_state_is_read_completely(read: Callable[..., ClusterState]) -> None:
    s = read("healthy")
    p = s.pacemaker
    assert [(n.name, n.online) for n in p.nodes] == [("hub1", True), ("hub2", True)]
    pgsql = p.resource("cfpgsql")
    assert pgsql is not None and pgsql.clone == "mscfpgsql"
    assert (pgsql.promoted_nodes, pgsql.active_nodes) == (("hub1",), ("hub1", "hub2"))
    vip = p.resource("cfvirtip")
    assert vip is not None and vip.active_nodes == ("hub1",)
    assert p.pgsql is not None
    assert (p.pgsql.pgdata, p.pgsql.tmpdir, p.pgsql.pgdba, p.pgsql.master_ip) == (
        "/var/cfengine/state/pg/data",
        "/var/cfengine/state/pg/tmp",
        "cfpostgres",
        "192.168.100.100",
    )
    assert p.last_promotion == HEALTHY_AT
    assert (s.quorate, p.maintenance_mode, p.fencing_enabled) == (True, False, False)
    assert p.agent_primaries == ("hub1",)
    hub2 = p.agent_view("hub2")
    assert hub2 is not None and hub2.replication_state is not None
    assert not p.failed_actions and p.fail_count("cfpgsql", "hub2") == 0
    assert p.lock is not None and not p.lock.held
    assert s.corosync is not None and s.corosync.quorate and not s.errors
    for check in (
        guard.quorate(s),
        guard.no_unclean_node(s),
        guard.not_maintenance(s, ("cfpgsql",)),
        guard.single_primary(s, "cfvirtip", require_vip=True),
        guard.target_not_primary(s, "hub2", "cfvirtip"),
        guard.no_recent_failover(s, 900),
    ):
        assert check.ok, check
    assert not guard.fencing(s, required=True).ok  # the states run without stonith


def test_failed_standby_monitor_can_be_cleaned_up(read: Callable[..., ClusterState]) -> None:
    s = read("failed_standby_monitor", pg=StatePg("hub1", "hub2"))
    [failure] = s.pacemaker.failed_actions
    assert (failure.resource_id, failure.node, failure.last_rc_change) == (
        "cfpgsql",
        "hub2",
        INCIDENT_AT,
    )
    assert s.pacemaker.fail_count("cfpgsql", "hub2") == 1
    ctx = Context(s, config("hub2"), "job1", Hints(node="hub2", resource="cfpgsql"))
    evaluation = evaluate_cleanup(ctx, ResourceCleanupParams())
    assert evaluation.refusal is None, evaluation.refusal
    assert evaluation.plan is not None
    assert evaluation.plan.steps[0].argv == cleanup_argv("hub2")
    too_soon = read("failed_standby_monitor", pg=StatePg("hub1", "hub2"), at=INCIDENT_AT + 30)
    ctx = Context(too_soon, config("hub2"), "job1", Hints(node="hub2", resource="cfpgsql"))
    refusal = evaluate_cleanup(ctx, ResourceCleanupParams()).refusal
    assert refusal is not None and refusal.name == "cause_gone"


@pytest.mark.parametrize(
    "case",
    [
        ("failover", "hub1", StatePg("hub2", "hub1"), "no_recent_failover", False),
        ("node_down", "hub2", StatePg("hub2", "hub2"), "target_online", False),
        ("unclean_node", "hub2", StatePg("hub1", "hub2"), "no_unclean_node", False),
        ("maintenance_mode", "hub2", StatePg("hub1", "hub2"), "not_maintenance", False),
        ("node_standby", "hub2", StatePg("hub1", "hub2"), "target_online", False),
        ("vip_multi_active", "hub2", StatePg("hub1", "hub2"), "single_primary", False),
        ("healthy", "hub1", StatePg("hub1", "hub1"), "target_not_primary", False),
        ("healthy", "hub2", StatePg("hub1", "hub2"), "target_not_primary", True),
    ],
)
def test_states_refuse_with_the_right_reason(
    read: Callable[..., ClusterState], case: tuple[str, str, StatePg, str, bool]
) -> None:
    state, node, pg, check, expected = case
    s = read(state, node=node, pg=pg, at=INCIDENT_AT + 60)
    target = "hub1" if state in ("failover", "node_down") else node
    checks = {
        "no_recent_failover": lambda: guard.no_recent_failover(s, 900),
        "target_online": lambda: guard.target_online(s, target),
        "no_unclean_node": lambda: guard.no_unclean_node(s),
        "not_maintenance": lambda: guard.not_maintenance(s, ("cfpgsql", "mscfpgsql")),
        "single_primary": lambda: guard.single_primary(s, "cfvirtip", require_vip=False),
        "target_not_primary": lambda: guard.target_not_primary(s, node, "cfvirtip"),
    }
    result = checks[check]()
    assert result.ok is expected, result


def test_failover_promotion_time_is_live(read: Callable[..., ClusterState]) -> None:
    s = read("failover", node="hub1", pg=StatePg("hub2", "hub1"))
    assert s.promoted_node == "hub2"
    assert s.pacemaker.last_promotion == INCIDENT_AT


def test_leftover_ban_is_cleared_with_the_real_tools(
    read: Callable[..., ClusterState], tmp_path: Path
) -> None:
    s = read("leftover_ban", pg=StatePg("hub1", "hub2"), at=INCIDENT_AT + 7200)
    [ban] = s.pacemaker.cli_constraints
    assert (ban.id, ban.resource, ban.node, ban.score, ban.kind.value) == (
        "cli-ban-mscfpgsql-on-hub2",
        "mscfpgsql",
        "hub2",
        -math.inf,
        "cli-ban",
    )
    assert s.pacemaker.last_change == INCIDENT_AT
    ctx = Context(s, config("hub2"), "job1", Hints(constraint=ban.id))
    evaluation = evaluate_clear(ctx, ClearCliConstraintsParams(min_age_seconds=3600))
    assert evaluation.refusal is None, evaluation.refusal
    assert evaluation.plan is not None
    delete = evaluation.plan.steps[0].argv
    assert delete == (
        "cibadmin",
        "--delete",
        "--xpath",
        "//constraints/rsc_location[@id='cli-ban-mscfpgsql-on-hub2']",
    )
    # Too young an hour earlier (the CIB changed at the incident).
    young = read("leftover_ban", pg=StatePg("hub1", "hub2"), at=INCIDENT_AT + 600)
    ctx = Context(young, config("hub2"), "job1", Hints(constraint=ban.id))
    refusal = evaluate_clear(ctx, ClearCliConstraintsParams(min_age_seconds=3600)).refusal
    assert refusal is not None and refusal.name == "constraint_age"
    # The lock and the deletion, for real, on the saved CIB.
    lock = ClusterLock(SubprocessRunner(), "cibadmin", "hub2", timeout=30)
    assert lock.acquire("job1", INCIDENT_AT + 7200, 600).acquired
    locked = read("leftover_ban", at=INCIDENT_AT + 7200).pacemaker.lock
    assert locked is not None and locked.job_id == "job1"
    result = SubprocessRunner().run(delete, timeout=60)
    assert result.ok, result.stderr_tail()
    assert lock.release("job1")
    after = read("leftover_ban", at=INCIDENT_AT + 7200).pacemaker
    assert not after.cli_constraints and after.lock is not None and not after.lock.held


def test_removal_is_simulated_with_pacemakers_scheduler(
    read: Callable[..., ClusterState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = config("hub2").tools
    read("leftover_ban")  # puts CIB_file on a copy of that state
    quiet = removal_is_quiet(SubprocessRunner(), tools, ["cli-ban-mscfpgsql-on-hub2"])
    assert quiet.ok and "start cfpgsql" in quiet.detail, quiet
    assert "cli-ban-mscfpgsql-on-hub2" in (tmp_path / "leftover_ban.xml").read_text()  # a copy
    # A leftover prefer that is all that keeps the primary where it is (stickiness 0 and a
    # stronger preference for hub2): removing it would fail the primary over.
    read("healthy")
    danger = tmp_path / "healthy.xml"
    run = SubprocessRunner()
    for xml, scope, verb in (
        (
            '<rsc_defaults><meta_attributes id="rsc_defaults-meta_attributes"><nvpair '
            'id="rsc_defaults-stickiness" name="resource-stickiness" value="0"/><nvpair '
            'id="rsc_defaults-migration-threshold" name="migration-threshold" value="1"/>'
            "</meta_attributes></rsc_defaults>",
            "rsc_defaults",
            "--replace",
        ),
        (
            '<rsc_location id="prefer-hub2" rsc="mscfpgsql"><rule id="prefer-hub2-rule" '
            'role="Promoted" score="5000"><expression id="prefer-hub2-expr" attribute="#uname" '
            'operation="eq" value="hub2"/></rule></rsc_location>',
            "constraints",
            "--create",
        ),
        (
            '<rsc_location id="cli-prefer-mscfpgsql" rsc="mscfpgsql" role="Promoted" node="hub1" '
            'score="INFINITY"/>',
            "constraints",
            "--create",
        ),
    ):
        assert run.run(("cibadmin", verb, "--scope", scope, "--xml-text", xml), timeout=30).ok
    monkeypatch.setenv("CIB_file", str(danger))
    refused = removal_is_quiet(run, tools, ["cli-prefer-mscfpgsql"])
    assert not refused.ok
    assert "demote cfpgsql" in refused.detail and "promote cfpgsql" in refused.detail
    assert "move cfvirtip" in refused.detail


class FailingStep:
    """The real tools, but one step of the simulation fails (a fault injected, and why: a
    cibadmin or crm_simulate that fails on a copy cannot be made to happen on demand)."""

    def __init__(self, fails: Callable[[tuple[str, ...], dict[str, str] | None], bool]) -> None:
        self._fails, self._real = fails, SubprocessRunner()

    def run(self, argv: Sequence[str], *, timeout: float, env: Any = None,
            input_bytes: bytes | None = None) -> CommandResult:  # fmt: skip
        result = self._real.run(argv, timeout=timeout, env=env, input_bytes=input_bytes)
        if self._fails(tuple(argv), env):
            return CommandResult(result.argv, 1, result.stdout, b"injected failure", 0.0)
        return result


@pytest.mark.parametrize(
    ("fails", "expected"),
    [
        (lambda argv, env: "--delete" in argv and bool(env), "deleting cli-ban-mscfpgsql-on-hub2"),
        (lambda argv, _env: argv[0] == "crm_simulate", "crm_simulate failed"),
    ],
    ids=["deletion-on-the-copy-fails", "crm_simulate-fails"],
)
def test_the_simulation_fails_closed_when_its_own_steps_fail(
    read: Callable[..., ClusterState],
    fails: Callable[[tuple[str, ...], dict[str, str] | None], bool],
    expected: str,
) -> None:
    tools = config("hub2").tools
    read("leftover_ban")  # CIB_file points at a copy of that state
    assert removal_is_quiet(SubprocessRunner(), tools, ["cli-ban-mscfpgsql-on-hub2"]).ok
    check = removal_is_quiet(FailingStep(fails), tools, ["cli-ban-mscfpgsql-on-hub2"])
    assert not check.ok and expected in check.detail, check


def test_the_simulation_refuses_a_constraint_the_live_cib_lacks(
    read: Callable[..., ClusterState],
) -> None:
    read("leftover_ban")
    check = removal_is_quiet(SubprocessRunner(), config("hub2").tools, ["cli-ban-nothing"])
    assert not check.ok and "not in the live CIB: cli-ban-nothing" in check.detail
