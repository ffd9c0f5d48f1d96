"""The live two-hub lab: healthy after up, every scenario and its restore, forwarding, teardown.

Marked `lab`: needs root, network namespaces, corosync, pacemaker and PostgreSQL 15. All tests
share one lab (session fixture); each scenario test starts from healthy (`healthy_lab`).
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime

import psycopg
import pytest

from clusterstate.parsers.pcmk_values import ConstraintKind, Role
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from lab import cfdb
from lab.cluster import Lab, LabNotHealthyError, claim_free_lab
from lab.config import MASTER_HUB_DAT
from lab.diagnosis_faults import FAULTS as DIAGNOSIS_FAULTS
from lab.lifecycle import unavailable_reason
from lab.scenarios import SCENARIOS, ScenarioResult
from lab.scenarios_readiness import SCENARIOS as READINESS_SCENARIOS
from lab.status import LabStatus, agent_text
from lab.teardown import leftovers
from tests.e2e.matrix import SCENARIOS as E2E_SCENARIOS

pytestmark = pytest.mark.lab

# Each scenario's state is re-checked after this long: it must not heal by itself.
STABLE_S = float(os.environ.get("CFHA_LAB_STABLE_S", "3"))


def _poll(what: str, probe: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.2)


def _vip_on(lab: Lab, node: str) -> bool:
    shown = lab.run(node, ["ip", "-o", "-4", "addr", "show"]).stdout
    return f" {lab.vip}/" in shown


def test_up_gives_the_healthy_cfengine_pair(healthy_lab, lab_timings):
    lab = healthy_lab
    state = lab.load_state()
    if state.time_to_healthy_s is not None:
        lab_timings["time to healthy at up (s)"] = state.time_to_healthy_s
    st = lab.status()
    assert st.healthy, st.problems
    primary, standby = st.primary, st.standby
    assert primary is not None and standby is not None
    assert st.database is not None and st.database.promoted_nodes == (primary,)
    assert st.role_on(standby) is Role.UNPROMOTED
    assert agent_text(st.agent(primary)) == "status=PRI data-status=LATEST"
    assert agent_text(st.agent(standby)) == "status=HS:async data-status=STREAMING|ASYNC"
    rows = lab.psql(primary, "SELECT application_name, state, sync_state FROM pg_stat_replication")
    assert (standby, "streaming", "async") in rows
    assert lab.psql(standby, "SELECT pg_is_in_recovery()") == [(True,)]
    assert _vip_on(lab, primary) and not _vip_on(lab, standby)
    # each node is its own host: hostname = pacemaker node name (pitfall P1)
    for node in lab.node_names:
        assert lab.run(node, ["uname", "-n"]).stdout.strip() == node
        assert lab.run(node, ["crm_node", "-n"]).stdout.strip() == node


def test_nodes_are_shaped_like_cfengine_hubs(healthy_lab):
    lab = healthy_lab
    primary = lab.primary()
    for node in lab.node_names:
        ls = lab.run(node, ["ls", "/var/cfengine/state/pg"], check=True).stdout.split()
        assert {"data", "tmp"} <= set(ls)
        info = lab.run(
            node,
            ["cat", "/var/cfengine/masterfiles/cfe_internal/enterprise/ha/ha_info.json"],
            check=True,
        ).stdout
        for spec in lab.config.nodes:
            assert f'"{spec.address}"' in info and spec.hostkey_sha in info
        assert lab.run(node, ["cat", "/var/cfengine/state/master_hub.dat"]).stdout.strip() == (
            lab.node(primary).address
        )
        assert "cmp_master: PRI" in lab.run(node, ["cat", "/var/cfengine/ha.cfg"]).stdout
        ha_enabled = ["test", "-f", "/var/cfengine/httpd/htdocs/ha_enabled"]
        assert lab.run(node, ha_enabled).returncode == 0
        # the agent's own query, as CFEngine's ha.cfg runs it
        got = lab.run(node, ["crm_attribute", "-l", "reboot", "-n", "cfpgsql-status", "-G", "-q"])
        assert got.stdout.strip() == ("PRI" if node == primary else "HS:async")
    assert lab.node(primary).lock_host.exists()  # the promoted agent's PGSQL.lock


def test_cfdb_holds_the_seed_on_both_hubs(healthy_lab):
    lab = healthy_lab
    state = lab.load_state()
    hubs = [cfdb.Hub(s.name, s.address, s.hostkey_sha) for s in lab.config.nodes]
    seed_now = datetime.fromisoformat(state.seed_now)
    expected = cfdb.expected_counts(state.seed_hosts, seed_now, state.seed_rng, hubs)
    for node in lab.node_names:
        assert lab.psql(node, "SELECT count(*) FROM __hosts") == [(expected.hosts_total,)]
        keys = {r[0] for r in lab.psql(node, "SELECT hostkey FROM __hosts")}
        assert set(expected.hub_hostkeys) <= keys


def test_pg_ports_are_forwarded_to_127_0_0_1(healthy_lab):
    lab = healthy_lab
    primary = lab.primary()
    forwards = [t for t in lab.load_state().tracked if t.kind == "forward" and t.port == 5432]
    by_target = {t.target_host if t.target_host == lab.vip else t.node: t for t in forwards}
    assert set(by_target) == {"hub1", "hub2", lab.vip}
    for target, entry in by_target.items():
        dsn = f"host=127.0.0.1 port={entry.local_port} user=postgres dbname=cfdb connect_timeout=5"
        with psycopg.connect(dsn, autocommit=True) as conn:
            writable = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()
        assert writable == ((target in (primary, lab.vip)),)


def test_spawn_and_forward_reach_a_service_inside_a_node(healthy_lab, tmp_path):
    lab = healthy_lab
    node = lab.standby()
    argv = [
        sys.executable,
        "-m",
        "http.server",
        "18080",
        "--bind",
        "127.0.0.1",
        "--directory",
        "/var/cfengine",
    ]
    pid = lab.spawn(node, argv, log_path=tmp_path / "http.log")
    try:
        port = lab.forward(node, 18080)
        url = f"http://127.0.0.1:{port}/ha.cfg"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return b"cmp_master: PRI" in resp.read()
            except OSError:
                return False

        _poll("the spawned server answers through the forward", answers)
        tracked = {t.proc.pid for t in lab.load_state().tracked}
        assert pid in tracked
    finally:
        lab.stop_spawned(pid)
    assert pid not in {t.proc.pid for t in lab.load_state().tracked}


# -- scenarios ---------------------------------------------------------------------------------


def _failed_and_stopped(st: LabStatus, node: str) -> None:
    assert st.pacemaker is not None
    assert st.role_on(node) is Role.STOPPED
    assert st.pacemaker.fail_count("cfpgsql", node) == 1
    view = st.agent(node)
    assert view is None or view.status in (PgsqlStatus.STOP, None)


def _alone(lab: Lab, st: LabStatus, primary: str, gone: str) -> None:
    assert st.primary == primary
    assert agent_text(st.agent(primary)).startswith("status=PRI ")
    assert agent_text(st.agent(gone)).endswith(" data-status=DISCONNECT")
    assert lab.psql(primary, "SELECT count(*) FROM pg_stat_replication") == [(0,)]
    assert _vip_on(lab, primary) and not _vip_on(lab, gone)


def expect_stop_standby(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    _failed_and_stopped(st, r.node)
    _alone(lab, st, r.other, r.node)
    assert st.nodes[r.node].pgdata_present


def expect_wipe_standby(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    _failed_and_stopped(st, r.node)
    _alone(lab, st, r.other, r.node)
    assert not st.nodes[r.node].pgdata_present


def expect_kill_primary(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    assert r.node == r.primary_before
    _failed_and_stopped(st, r.node)
    _alone(lab, st, r.other, r.node)
    assert st.nodes[r.node].lock_present
    assert lab.psql(r.other, "SELECT pg_is_in_recovery()") == [(False,)]


def expect_diverge(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    expect_kill_primary(lab, st, r)
    ids = [int(i) for i in r.details["diverged_row_ids"].split(",")]
    assert len(ids) == 5
    # the new primary never saw them
    seen = lab.psql(r.other, "SELECT count(*) FROM lab_writes WHERE note = 'diverged'")
    assert seen == [(0,)]


def expect_fail_monitor(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    _failed_and_stopped(st, r.node)
    assert st.pacemaker is not None
    failures = [(f.op_key, f.exitstatus) for f in st.pacemaker.failed_actions if f.node == r.node]
    assert failures and failures[0][0].startswith("cfpgsql_monitor_")
    assert failures[0][1] == "error"
    assert st.nodes[r.node].pgdata_present


def expect_ban(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    assert st.pacemaker is not None
    constraints = st.pacemaker.location_constraints
    assert [(c.id, c.kind) for c in constraints] == [
        (f"cli-ban-mscfpgsql-on-{r.node}", ConstraintKind.CLI_BAN)
    ]
    assert st.role_on(r.node) is Role.STOPPED
    assert not st.pacemaker.failed_actions
    _alone(lab, st, r.other, r.node)


def expect_maintenance(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    assert st.pacemaker is not None and st.pacemaker.maintenance_mode
    assert st.database is not None and not st.database.managed
    rows = lab.psql(r.primary_before, "SELECT application_name, state FROM pg_stat_replication")
    assert rows == [(r.other, "streaming")]  # PostgreSQL itself is untouched


def expect_node_standby(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    node = st.pacemaker_node(r.node)
    assert node is not None and node.standby
    assert st.role_on(r.node) is Role.STOPPED
    _alone(lab, st, r.other, r.node)


def expect_stop_node(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    assert st.pacemaker is not None  # read from the survivor
    assert r.node not in st.pacemaker.online_nodes
    assert st.primary == r.other
    assert not st.nodes[r.node].corosync_alive and not st.nodes[r.node].pacemakerd_alive
    assert lab.run(r.node, ["crm_mon", "-1"]).returncode != 0
    # its PostgreSQL runs on unmanaged and keeps streaming
    assert lab.psql(r.node, "SELECT pg_is_in_recovery()") == [(True,)]
    rows = lab.psql(r.other, "SELECT application_name, state FROM pg_stat_replication")
    assert rows == [(r.node, "streaming")]


def expect_two_primaries(lab: Lab, st: LabStatus, r: ScenarioResult) -> None:
    assert st.primary == r.other  # pacemaker still believes in one primary
    hit = st.pacemaker_node(r.node)
    assert hit is not None and hit.maintenance
    for node in lab.node_names:
        assert lab.psql(node, "SELECT pg_is_in_recovery()") == [(False,)]
    written = lab.psql(r.node, "SELECT count(*) FROM lab_writes WHERE note = 'second primary'")
    assert written == [(1,)]


EXPECT: dict[str, Callable[[Lab, LabStatus, ScenarioResult], None]] = {
    "stop-standby": expect_stop_standby,
    "wipe-standby": expect_wipe_standby,
    "kill-primary": expect_kill_primary,
    "diverge": expect_diverge,
    "fail-monitor": expect_fail_monitor,
    "ban": expect_ban,
    "maintenance": expect_maintenance,
    "node-standby": expect_node_standby,
    "stop-node": expect_stop_node,
    "two-primaries": expect_two_primaries,
}


# The faults above the database (lab/scenarios_readiness.py) and the diagnosis' faults
# (lab/diagnosis_faults.py) are checked end to end instead: each one's state as cfha reads it
# (alerts, the diagnosed cause, the remediator's decision), then a restore, in the e2e matrix.
# A second injection of each here would cost CI minutes for nothing the matrix does not see.
CHECKED_END_TO_END = frozenset(READINESS_SCENARIOS) | frozenset(DIAGNOSIS_FAULTS)


def test_every_scenario_has_an_expectation():
    assert set(EXPECT) | CHECKED_END_TO_END == set(SCENARIOS)
    assert not set(EXPECT) & CHECKED_END_TO_END
    assert set(E2E_SCENARIOS) >= CHECKED_END_TO_END


@pytest.mark.parametrize("name", list(EXPECT))
def test_scenario_state_is_stable_and_restore_keeps_rows(healthy_lab, lab_timings, name):
    lab = healthy_lab
    primary, standby = lab.primary(), lab.standby()
    marker = lab.psql(
        primary,
        "INSERT INTO lab_writes (node, note) VALUES (%s, %s) RETURNING id",
        (primary, f"before {name}"),
    )[0][0]
    _poll(
        "the marker row reaches the standby",
        lambda: (
            lab.psql(standby, "SELECT count(*) FROM lab_writes WHERE id = %s", (marker,)) == [(1,)]
        ),
    )

    result = lab.inject(name)
    assert result.name == name and result.node in lab.node_names
    lab_timings[f"inject {name} (s)"] = result.seconds
    EXPECT[name](lab, lab.status(), result)
    time.sleep(STABLE_S)
    EXPECT[name](lab, lab.status(), result)

    report = lab.restore_healthy()
    assert report.rebuilt is None, report.rebuilt  # repaired by hand
    lab_timings[f"restore after {name} (s)"] = report.seconds
    st = lab.status()
    assert st.healthy, st.problems
    for node in lab.node_names:  # rows written before the scenario survive on both hubs

        def has_marker(n: str = node) -> bool:
            count = lab.psql(n, "SELECT count(*) FROM lab_writes WHERE id = %s", (marker,))
            return bool(count == [(1,)])

        _poll(f"marker on {node}", has_marker)
        hub_dat = lab.node(node).host_path(MASTER_HUB_DAT).read_text().strip()
        assert hub_dat == lab.node(st.primary or "").address


@pytest.mark.parametrize("name", ["fail-monitor", "node-standby"])
def test_scenario_on_the_primary_fails_over(healthy_lab, lab_timings, name):
    lab = healthy_lab
    primary = lab.primary()
    result = lab.inject(name, primary)
    st = lab.status()
    assert st.primary == result.other
    assert st.role_on(primary) is Role.STOPPED
    assert st.nodes[primary].lock_present  # demoted with a standby present: the lock stays
    report = lab.restore_healthy()
    assert report.rebuilt is None, report.rebuilt
    lab_timings[f"restore after {name} on the primary (s)"] = report.seconds
    assert lab.status().healthy


def test_scenarios_refuse_the_wrong_node(healthy_lab):
    lab = healthy_lab
    with pytest.raises(Exception, match="hits the primary"):
        lab.inject("kill-primary", lab.standby())
    with pytest.raises(Exception, match="unknown scenario"):
        lab.inject("no-such-thing")
    assert lab.status().healthy


# -- teardown, failed start, a second lab beside the first -------------------------------------


def test_a_second_lab_runs_beside_and_down_leaves_nothing(lab_cluster, lab_timings):
    first = lab_cluster
    second = claim_free_lab()
    try:
        lab_timings["second lab: time to healthy (s)"] = second.up()
        assert first.status().healthy and second.status().healthy
        assert first.vip != second.vip
        keys = [
            {r[0] for r in lab.psql(lab.primary(), "SELECT hostkey FROM __hosts")}
            for lab in (first, second)
        ]
        assert keys[0] != keys[1]  # two clusters, two data sets
        vip_forward = next(t for t in second.load_state().tracked if t.target_host == second.vip)
        dsn = f"host=127.0.0.1 port={vip_forward.local_port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SELECT host(inet_server_addr())").fetchone()
        assert row == (second.vip,)
    finally:
        report = second.down()
    lab_timings["second lab: down (s)"] = report.seconds
    assert report.processes and report.netns_inodes
    assert leftovers(report) == []
    assert second.down().existed is False  # idempotent
    assert first.status().healthy


def test_a_failed_start_leaves_nothing():
    if unavailable_reason():
        pytest.skip(unavailable_reason() or "")
    lab = claim_free_lab()
    try:
        with pytest.raises(LabNotHealthyError):
            lab.up(timeout=2.0)
    finally:
        lab.down()
    assert lab.last_down is not None and lab.last_down.netns_inodes
    assert leftovers(lab.last_down) == []
    assert not lab.exists()


def test_down_without_a_state_file_still_finds_the_nodes(monkeypatch):
    if unavailable_reason():
        pytest.skip(unavailable_reason() or "")
    monkeypatch.setenv("CFHA_LAB_KEEP_ON_FAILURE", "1")  # a failed start that stays in place
    lab = claim_free_lab()
    try:
        with pytest.raises(LabNotHealthyError):
            lab.up(timeout=2.0)
        state = lab.load_state()
        inodes = [n.netns_inode for n in state.nodes.values() if n.netns_inode]
        assert len(inodes) == 2
        lab.config.state_file.unlink()  # lost or corrupt state
        report = lab.down()
    finally:
        lab.down()
    assert sorted(report.netns_inodes) == sorted(inodes)
    assert leftovers(report) == []
