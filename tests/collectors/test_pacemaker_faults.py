"""Faults of the `pacemaker` collector: a hanging crm_mon, garbage, a cluster that is not running,
a failing cibadmin; its CIB cache, time zones and configuration checks; and a fuzz run.

The hanging crm_mon is a fake (a script that sleeps): the one thing that cannot be made real.
Everything else runs the real crm_mon/cibadmin on saved CIBs, or replays crm_mon's captured
answers (`tests/fixtures/pacemaker/`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from clusterstate.pacemaker_state import PacemakerState
from clusterstate.parsers.crm_mon_model import PacemakerdState
from clusterstate.timezone import local_zone
from clusterstate.tools import REAP_SECONDS, CommandResult, CommandRunner, SubprocessRunner
from exporter.collectors import pacemaker_metrics as pm
from exporter.collectors.corosync import CorosyncCollector, CorosyncConfig
from exporter.collectors.pacemaker import PacemakerCollector, PacemakerConfig
from exporter.collectors.pgsql_agent import PgsqlAgentCollector, PgsqlAgentConfig
from exporter.config import ConfigError, config_from_mapping
from exporter.scrape import CollectorError, CollectorResult, ScheduledCollector, Scraper
from lab.offline.cibstates import BASE_AT, PCMK_TZ, CibStates, cibadmin_query, crm_mon_xml
from servicekit.metrics import MetricWriter, exposition_text
from servicekit.settings import parse_settings
from tests.parsers.test_parsers_fuzz import CIB_SEEDS, CRM_MON_SEEDS, FUZZ, mutated
from tests.support.metrics_text import sample_value, scrape_text
from tests.support.runners import CibFileRunner, ScriptedRunner

FIXTURES = Path(__file__).parents[1] / "fixtures"
CRM_MON = "/usr/sbin/crm_mon"


def collector(runner: CommandRunner, **config: object) -> PacemakerCollector:
    settings = parse_settings(PacemakerConfig, {"time_zone": PCMK_TZ, **config}, "test")
    return PacemakerCollector(settings, "hub1", runner)


def failure(pacemaker: PacemakerCollector) -> CollectorError:
    with pytest.raises(CollectorError) as raised:
        pacemaker.collect(MetricWriter())
    return raised.value


def written(error: CollectorError) -> MetricWriter:
    assert error.partial is not None
    return error.partial


def corosync_from_fixtures() -> CorosyncCollector:
    runner = ScriptedRunner()
    folder = FIXTURES / "corosync"
    runner.set(
        "corosync-quorumtool", (folder / "two-node-healthy.hub1.quorumtool-ps.txt").read_text()
    )
    runner.set("corosync-cfgtool", (folder / "two-node-healthy.hub1.cfgtool-s.txt").read_text())
    runner.set(
        "corosync-cmapctl", (folder / "two-node-healthy.hub1.cmapctl-nodelist.txt").read_text()
    )
    return CorosyncCollector(CorosyncConfig(), "hub1", runner)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """The process has exited (a zombie waiting for its new parent to reap it counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_a_hanging_crm_mon_times_out_within_the_deadline_and_the_rest_is_published(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "crm_mon.pid"
    fake = tmp_path / "crm_mon"
    # FAKE (allowed only for this): a crm_mon that never answers
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    fake.chmod(0o755)
    deadline = 2.0
    pacemaker = PacemakerCollector(
        PacemakerConfig(
            crm_mon_path=str(fake),
            crm_mon_timeout_seconds=0.5,
            cibadmin_timeout_seconds=0.5,
            deadline_seconds=deadline,
        ),
        "hub1",
        SubprocessRunner(),
    )
    agent = PgsqlAgentCollector(
        PgsqlAgentConfig(lock_path=str(tmp_path / "PGSQL.lock")), "hub1", "cfpgsql"
    )
    scraper = Scraper(
        [ScheduledCollector(pacemaker, deadline), ScheduledCollector(corosync_from_fixtures(), 5)],
        [agent],
        node="hub1",
        cluster="cfcluster",
    )
    started = time.monotonic()
    scrape = scraper.scrape()
    elapsed = time.monotonic() - started
    scraper.close()
    text = scrape_text(scrape)
    result = scrape.results["pacemaker"]
    assert result.reason == "timeout"
    assert result.duration_seconds < deadline
    assert elapsed < deadline + 1.0  # the scrape did not wait for the hung tool
    assert sample_value(text, "cfha_pacemaker_up", node="hub1") == 0
    assert sample_value(text, "cfha_pacemaker_local_is_dc", node="hub1") == 0
    reason = "cfha_exporter_collector_failure_reason"
    assert sample_value(text, reason, collector="pacemaker", state="timeout") == 1
    # the other collectors are still published
    assert sample_value(text, "cfha_exporter_collector_success", collector="corosync") == 1
    assert sample_value(text, "cfha_corosync_quorate", node="hub1") == 1
    assert sample_value(text, "cfha_pgsql_lock_present", node="hub1") == 0
    assert sample_value(text, reason, collector="pgsql_agent", state="unavailable") == 1
    # and the hung process (with its process group) was killed, not left behind
    assert wait_gone(int(pid_file.read_text()))


def test_garbage_xml_is_a_parse_failure() -> None:
    runner = ScriptedRunner()
    runner.set("crm_mon", b"<pacemaker-result><summary><node name=")
    error = failure(collector(runner))
    assert error.reason == "parse"
    assert written(error).value(pm.UP, node="hub1") == 0
    assert isinstance(error.facts, PacemakerState) and error.facts.down_reason == "parse"


def test_garbage_with_a_failing_exit_code_is_a_command_failure() -> None:
    runner = ScriptedRunner()
    runner.set("crm_mon", b"", returncode=4, stderr=b"crm_mon: Access denied")
    error = failure(collector(runner))
    assert error.reason == "permission"
    assert "Access denied" in str(error)
    runner.set("crm_mon", b"oops", returncode=70, stderr=b"crm_mon: internal error")
    assert failure(collector(runner)).reason == "command"


def test_not_connected_output_means_the_cluster_is_down_here() -> None:
    runner = ScriptedRunner()
    runner.set(
        "crm_mon", (FIXTURES / "pacemaker" / "not-connected-2.1.5.xml").read_bytes(), returncode=102
    )
    error = failure(collector(runner))
    assert error.reason == "unavailable"
    assert isinstance(error.facts, PacemakerState) and not error.facts.up
    assert runner.count("cibadmin") == 0


def test_a_starting_pacemakerd_is_reported_with_its_state() -> None:
    runner = ScriptedRunner()
    runner.set("crm_mon", (FIXTURES / "pacemaker" / "live-starting.xml").read_bytes())
    error = failure(collector(runner))
    assert error.reason == "unavailable"
    assert isinstance(error.facts, PacemakerState)
    assert error.facts.pacemakerd_state is PacemakerdState.RUNNING
    text = exposition_text(written(error), "cfcluster")
    state = "cfha_pacemaker_pacemakerd_state"
    assert sample_value(text, state, node="hub1", state="running") == 1
    assert sample_value(text, state, node="hub1", state="shutting_down") == 0
    assert sample_value(text, "cfha_pacemaker_up", node="hub1") == 0


class NamespaceRunner:
    """The real tools in a fresh, empty network namespace: nothing of a cluster to talk to."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        return SubprocessRunner().run(
            ["unshare", "--net", *argv], timeout=timeout, env=env, input_bytes=input_bytes
        )


def test_real_crm_mon_without_a_cluster_gives_explicit_down_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or not Path(CRM_MON).exists():
        pytest.skip("needs root, unshare and crm_mon to run crm_mon in an empty namespace")
    monkeypatch.delenv("CIB_file", raising=False)
    scraper = Scraper(
        [ScheduledCollector(collector(NamespaceRunner()), 5.0)],
        [PgsqlAgentCollector(PgsqlAgentConfig(lock_path="/nonexistent/PGSQL.lock"), "hub1", "x")],
        node="hub1",
        cluster="cfcluster",
    )
    text = scrape_text(scraper.scrape())
    scraper.close()
    assert sample_value(text, "cfha_pacemaker_up", node="hub1") == 0
    assert sample_value(text, "cfha_pacemaker_local_is_dc", node="hub1") == 0
    assert (
        sample_value(
            text,
            "cfha_exporter_collector_failure_reason",
            collector="pacemaker",
            state="unavailable",
        )
        == 1
    )
    assert sample_value(text, "cfha_pacemaker_node_state", node="hub1", state="online") is None


def test_a_failing_cibadmin_still_publishes_crm_mons_view_with_bans(cib_states: CibStates) -> None:
    runner = CibFileRunner(cib_states.leftover_ban())
    pacemaker = collector(runner, cibadmin_path="/nonexistent/cibadmin")
    error = failure(pacemaker)
    assert error.reason == "unavailable"
    facts = error.facts
    assert isinstance(facts, PacemakerState) and facts.up and facts.cib is None
    assert [c.id for c in facts.cli_constraints] == ["cli-ban-mscfpgsql-on-hub2"]
    out = written(error)
    assert out.value(pm.CLI_CONSTRAINTS, kind="cli-ban") == 1
    assert out.value(pm.UP, node="hub1") == 1


def test_after_a_change_a_failing_cibadmin_leaves_only_the_last_known_cib(
    cib_states: CibStates,
) -> None:
    runner = ScriptedRunner()
    runner.set("crm_mon", crm_mon_xml(cib_states.healthy()))
    runner.set("cibadmin", cibadmin_query(cib_states.healthy()))
    pacemaker = collector(runner, cib_max_age_seconds=0)
    assert pacemaker.collect(MetricWriter()).cib_current
    runner.set("cibadmin", b"", returncode=102, stderr=b"Could not connect to the CIB")
    # the configuration did not change: the copy is still current, the refresh failure reported
    error = failure(pacemaker)
    assert error.reason == "unavailable"
    assert isinstance(error.facts, PacemakerState) and error.facts.cib_current
    runner.set("crm_mon", crm_mon_xml(cib_states.leftover_ban()))  # the configuration changed
    error = failure(pacemaker)
    facts = error.facts
    assert isinstance(facts, PacemakerState) and not facts.cib_current
    assert facts.cib is not None  # last known: still gives the pgsql resource's tmpdir
    assert [c.id for c in facts.location_constraints] == ["cli-ban-mscfpgsql-on-hub2"]  # bans


def test_the_cib_is_re_read_only_when_the_configuration_changed(
    cib_states: CibStates, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = crm_mon_xml(cib_states.healthy())
    banned = crm_mon_xml(cib_states.leftover_ban())
    runner = ScriptedRunner()
    runner.set("crm_mon", healthy)
    runner.set("cibadmin", cibadmin_query(cib_states.healthy()))
    pacemaker = collector(runner)
    for _ in range(3):
        pacemaker.collect(MetricWriter())
    assert runner.count("crm_mon") == 3
    assert runner.count("cibadmin") == 1
    runner.set("crm_mon", banned)  # last change moved on: read the configuration again
    runner.set("cibadmin", cibadmin_query(cib_states.leftover_ban()))
    facts = pacemaker.collect(MetricWriter())
    assert runner.count("cibadmin") == 2
    assert [c.id for c in facts.cli_constraints] == ["cli-ban-mscfpgsql-on-hub2"]
    aged = collector(runner, cib_max_age_seconds=0)
    aged.collect(MetricWriter())
    aged.collect(MetricWriter())
    assert runner.count("cibadmin") == 4


def test_facts_for_the_verdict(cib_states: CibStates) -> None:
    facts = collector(CibFileRunner(cib_states.failover())).collect(MetricWriter())
    assert facts.up and facts.cluster_name == "cfcluster"
    assert facts.dc == "hub1" and facts.local_is_dc and facts.quorate is True
    assert facts.maintenance_mode is False and facts.fencing_enabled is False
    assert facts.database is not None and facts.database.promoted_nodes == ("hub2",)
    assert facts.vip is not None and facts.vip.active_nodes == ("hub2",)
    assert [(f.resource_id, f.node, f.exitcode) for f in facts.failed_actions] == [
        ("cfpgsql", "hub1", 7)
    ]
    view = facts.agent_view("hub2")
    assert view is not None and view.is_primary
    assert facts.online_nodes == ("hub1", "hub2") and facts.unclean_nodes == ()
    assert facts.cib is not None and facts.cib.primitive("cfpgsql") is not None


def test_local_times_are_read_in_the_zone_crm_mon_ran_in(cib_states: CibStates) -> None:
    berlin = collector(CibFileRunner(cib_states.healthy())).collect(MetricWriter())
    assert berlin.last_change == BASE_AT
    # the same saved CIB read as if the hubs were in New York: 10:00 there is 6 hours later
    new_york = collector(
        CibFileRunner(cib_states.healthy(), tz="America/New_York"), time_zone="America/New_York"
    ).collect(MetricWriter())
    assert new_york.last_change == BASE_AT + 6 * 3600


def test_local_zone_is_a_real_zone() -> None:
    assert local_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert local_zone(":Europe/Berlin") == ZoneInfo("Europe/Berlin")
    from_file = local_zone("/usr/share/zoneinfo/America/New_York")
    summer = from_file.utcoffset(datetime(2026, 7, 1))
    winter = from_file.utcoffset(datetime(2026, 1, 1))
    assert summer != winter  # a zone with its DST rules, not a fixed offset
    assert local_zone("Not/A_Zone") is not None  # falls back with a warning


def test_command_timeouts_must_fit_in_the_deadline() -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(
            {
                "collectors": {
                    "pacemaker": {
                        "deadline_seconds": 2,
                        "crm_mon_timeout_seconds": 1.5,
                        "cibadmin_timeout_seconds": 1,
                    },
                    "corosync": {"deadline_seconds": 2, "command_timeout_seconds": 1},
                }
            }
        )
    joined = "\n".join(raised.value.errors)
    assert "collectors.pacemaker: crm_mon_timeout_seconds + " in joined
    assert "must be less than deadline_seconds (2)" in joined
    assert "collectors.corosync: three tools" in joined
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        config_from_mapping({"collectors": {"pacemaker": {"time_zone": "Mars/Olympus"}}})
    defaults = config_from_mapping({})
    assert defaults.collectors.pacemaker.database_resource == "cfpgsql"
    assert defaults.collectors.pacemaker.vip_resource == "cfvirtip"


@FUZZ
@given(
    crm_mon=st.one_of(mutated(CRM_MON_SEEDS), st.binary(max_size=200)),
    cib=st.one_of(mutated(CIB_SEEDS), st.binary(max_size=100)),
    returncode=st.sampled_from([0, 0, 0, 1, 102]),
)
def test_the_collector_raises_nothing_but_its_own_error(
    crm_mon: bytes, cib: bytes, returncode: int
) -> None:
    runner = ScriptedRunner()
    runner.set("crm_mon", crm_mon, returncode=returncode)
    runner.set("cibadmin", cib)
    pacemaker = collector(runner)
    out = MetricWriter()
    try:
        facts: object = pacemaker.collect(out)
    except CollectorError as exc:
        assert exc.reason in ("parse", "unavailable", "command")
        facts = exc.facts
        out = exc.partial or MetricWriter()
    result = CollectorResult("pacemaker", True, 0.0, 0.0, facts=facts)
    agent = PgsqlAgentCollector(
        PgsqlAgentConfig(lock_path="/nonexistent/PGSQL.lock"), "hub1", "cfpgsql"
    )
    try:
        agent.collect(out, {"pacemaker": result})
    except CollectorError as exc:
        assert exc.reason == "unavailable"
    list(out.families("cfcluster"))


def test_subprocess_fake_is_really_killed_group_wide(tmp_path: Path) -> None:
    """The runner kills the whole process group: a child of crm_mon cannot outlive it."""
    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "crm_mon"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nwait\n")
    fake.chmod(0o755)
    error = failure(
        collector(SubprocessRunner(), crm_mon_path=str(fake), crm_mon_timeout_seconds=0.3)
    )
    assert error.reason == "timeout"
    assert wait_gone(int(pid_file.read_text()))


def test_a_child_that_left_the_process_group_is_killed_and_never_holds_the_collector(
    tmp_path: Path,
) -> None:
    """A crm_mon helper that calls setsid (its own session and group) and keeps the output pipe
    open: the runner finds it by the pipe and kills it, and returns on time (issue 19 item 5).
    FAKE (allowed only for this): a crm_mon whose child escapes."""
    pid_file = tmp_path / "escaped.pid"
    fake = tmp_path / "crm_mon"
    fake.write_text(f"#!/bin/sh\nsetsid sh -c 'echo $$ > {pid_file}; exec sleep 300' &\nwait\n")
    fake.chmod(0o755)
    started = time.monotonic()
    error = failure(
        collector(SubprocessRunner(), crm_mon_path=str(fake), crm_mon_timeout_seconds=0.5)
    )
    elapsed = time.monotonic() - started
    assert error.reason == "timeout"
    assert elapsed < 0.5 + 2 * REAP_SECONDS + 1.0, elapsed
    assert wait_gone(int(pid_file.read_text()))


def test_an_orphaned_helper_holding_the_pipe_after_crm_mon_exited_is_killed(
    tmp_path: Path,
) -> None:
    """crm_mon itself exits, its helper (re-parented to init, in another session) keeps stdout
    open: the read times out instead of waiting forever, and the helper is killed."""
    pid_file = tmp_path / "orphan.pid"
    fake = tmp_path / "crm_mon"
    fake.write_text(f"#!/bin/sh\nsetsid sh -c 'echo $$ > {pid_file}; exec sleep 300' &\nexit 0\n")
    fake.chmod(0o755)
    started = time.monotonic()
    error = failure(
        collector(SubprocessRunner(), crm_mon_path=str(fake), crm_mon_timeout_seconds=0.5)
    )
    assert error.reason == "timeout"
    assert time.monotonic() - started < 0.5 + 2 * REAP_SECONDS + 1.0
    assert wait_gone(int(pid_file.read_text()))


def test_a_fatal_assertion_with_truncated_output_is_a_parse_failure(
    cib_states: CibStates, tmp_path: Path
) -> None:
    """A truncated saved CIB: crm_mon exits 0, prints a plausible but partial document, and
    says "Triggered fatal assertion" on stderr. Never read as the cluster's state."""
    runner = ScriptedRunner()
    healthy_xml = crm_mon_xml(cib_states.healthy())
    runner.set(
        "crm_mon",
        healthy_xml,
        stderr="crm_mon: Triggered fatal assertion at xml.c:1234 : node != NULL\n",
    )
    error = failure(collector(runner))
    assert error.reason == "parse" and "fatal assertion" in str(error)
    assert isinstance(error.facts, PacemakerState) and not error.facts.up


def test_a_document_without_its_required_sections_is_a_parse_failure(
    cib_states: CibStates,
) -> None:
    document = etree.fromstring(crm_mon_xml(cib_states.healthy()))
    nodes = document.find("nodes")
    assert nodes is not None
    document.remove(nodes)
    runner = ScriptedRunner()
    runner.set("crm_mon", etree.tostring(document))
    error = failure(collector(runner))
    assert error.reason == "parse" and "lacks nodes" in str(error)
