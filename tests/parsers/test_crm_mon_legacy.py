"""Conformance of the legacy schema: for every CFEngine-shaped state, pacemaker 1.1's
``crm_mon --as-xml`` (the stand-in of ``tests/support/pacemaker11.py``) and pacemaker 2.1's
``--output-as=xml`` parse into the same facts, and what 1.1 does not print is unknown (``None``).

The committed documents (``tests/fixtures/pacemaker/legacy-1.1``) are compared without any
pacemaker tool; with the tools installed, they are also checked to be what ``make.py`` makes
now, and 2.1's own unconverted ``--as-xml`` is checked against ``--output-as=xml`` too.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clusterstate.pacemaker_cli import LEGACY_CRM_MON_ARGV
from clusterstate.pacemaker_state import agent_views
from clusterstate.parsers.crm_mon import ClusterStatus, parse_crm_mon
from clusterstate.parsers.crm_mon_model import Clone, Group
from lab.offline.cibstates import (
    PCMK_TZ,
    CibStates,
    crm_mon_xml,
    run_tool,
    tool_env,
)
from tests.support.legacy_fixtures import (
    FIXTURE_DIR,
    LEGACY_SUFFIX,
    MODERN_SUFFIX,
    committed_states,
    render,
)
from tests.support.pacemaker11 import NOT_CONNECTED_11, STANDIN_DIR
from tests.support.pacemaker_tools import require_pacemaker_tools

ZONE = ZoneInfo(PCMK_TZ)
STATES = committed_states()


def parse_fixture(state: str, suffix: str) -> ClusterStatus:
    return parse_crm_mon((FIXTURE_DIR / (state + suffix)).read_bytes(), local_tz=ZONE)


def facts(status: ClusterStatus) -> dict[str, Any]:
    """Every fact the exporter, the verdict and the remediator read, in comparable form.

    Left out are only the facts pacemaker 1.1 does not print (``test_what_11_lacks_is_unknown``
    checks that the legacy parse has them as ``None``) and the document's own identity.
    """
    summary = status.summary
    assert summary is not None and summary.dc is not None and summary.options is not None
    options = summary.options
    return {
        "dc": dataclasses.replace(summary.dc, mixed_version=None),
        "summary": (
            summary.stack,
            summary.last_update,
            summary.last_change,
            summary.last_change_user,
            summary.last_change_client,
            summary.last_change_origin,
            summary.nodes_configured,
            summary.resources_configured,
            summary.resources_disabled,
            summary.resources_blocked,
        ),
        "options": (
            options.fencing_enabled,
            options.symmetric_cluster,
            options.no_quorum_policy,
            options.maintenance_mode,
        ),
        "nodes": [dataclasses.replace(n, health=None, feature_set=None) for n in status.nodes],
        "instances": status.instances,
        "clones": [
            (r.id, r.promotable, r.unique, r.managed, r.failed, r.failure_ignored, r.target_role)
            for r in status.resources
            if isinstance(r, Clone)
        ],
        "groups": [(r.id, r.number_resources) for r in status.resources if isinstance(r, Group)],
        "node_attributes": status.node_attributes,
        "agent": agent_views(status, None, "cfpgsql"),
        "history": status.history,
        "failures": status.failures,
        "bans": status.bans,
        "fencing": status.fence_events,
        "tickets": status.tickets,
        "promoted": status.promoted_nodes("mscfpgsql"),
        "vip": status.active_nodes("cfvirtip"),
    }


def test_every_state_is_committed() -> None:
    assert sorted(CibStates.NAMES) == STATES


@pytest.mark.parametrize("state", STATES)
def test_pacemaker_11_and_21_agree_on_every_fact(state: str) -> None:
    modern = parse_fixture(state, MODERN_SUFFIX)
    legacy = parse_fixture(state, LEGACY_SUFFIX)
    assert (modern.legacy, legacy.legacy, legacy.api_version) == (False, True, "1.1.23")
    expected, got = facts(modern), facts(legacy)
    for name in expected:
        assert got[name] == expected[name], name


@pytest.mark.parametrize("state", STATES)
def test_what_11_lacks_is_unknown(state: str) -> None:
    legacy = parse_fixture(state, LEGACY_SUFFIX)
    summary = legacy.summary
    assert summary is not None and summary.dc is not None and summary.options is not None
    assert summary.dc.mixed_version is None
    assert summary.options.stop_all_resources is None
    assert summary.options.fencing_timeout_seconds is None
    assert summary.options.priority_fencing_delay_seconds is None
    assert all(n.health is None and n.feature_set is None for n in legacy.nodes)
    assert all(
        (r.managed, r.disabled) == (None, None) for r in legacy.resources if isinstance(r, Group)
    )
    assert all(r.disabled is None for r in legacy.resources if isinstance(r, Clone))
    # and 2.1 does print them: the comparison above would otherwise hide a parser gap
    modern = parse_fixture(state, MODERN_SUFFIX)
    assert modern.summary is not None and modern.summary.options is not None
    assert modern.summary.options.stop_all_resources is not None
    assert all(n.health is not None for n in modern.nodes)
    assert all(r.managed is not None for r in modern.resources if isinstance(r, Group))


def test_11_spells_roles_agents_and_times_its_own_way() -> None:
    text = (FIXTURE_DIR / ("failover" + LEGACY_SUFFIX)).read_text()
    assert text.startswith('<?xml version="1.0"?>\n<crm_mon version="1.1.23">')
    assert 'role="Master"' in text and "Promoted" not in text
    assert 'resource_agent="ocf::heartbeat:pgsql"' in text
    assert 'last-rc-change="Tue Jul 14 11:30:00 2026" queued' in text  # ctime(), not ISO
    healthy = (FIXTURE_DIR / ("healthy" + LEGACY_SUFFIX)).read_text()
    assert 'role="Slave"' in healthy and "Unpromoted" not in healthy
    ban = (FIXTURE_DIR / ("leftover_ban" + LEGACY_SUFFIX)).read_text()
    assert 'master_only="false"' in ban and "promoted-only" not in ban


# -- against the installed pacemaker tools -----------------------------------------------------


def test_committed_fixtures_are_what_make_py_makes(cib_states: CibStates) -> None:
    made = render(cib_states)
    assert sorted(made) == sorted(p.name for p in FIXTURE_DIR.glob("*.xml"))
    for name, content in made.items():
        assert (FIXTURE_DIR / name).read_bytes() == content, name


@pytest.mark.parametrize("state", STATES)
def test_pacemaker_21_legacy_output_reads_like_output_as(cib_states: CibStates, state: str) -> None:
    cib = getattr(cib_states, state)()
    legacy = parse_crm_mon(run_tool(LEGACY_CRM_MON_ARGV, cib=cib), local_tz=ZONE)
    modern = parse_crm_mon(crm_mon_xml(cib), local_tz=ZONE)
    assert (legacy.legacy, legacy.api_version) == (True, "2.1.5")
    assert legacy.nodes == modern.nodes  # 2.1 prints health and feature_set in both schemas
    expected, got = facts(modern), facts(legacy)
    expected.pop("summary"), got.pop("summary")  # last_update: two runs, two clocks
    assert got == expected


def test_standin_refuses_what_11_does_not_know(tmp_path: Path) -> None:
    standin = str(STANDIN_DIR / "crm_mon")
    for argv, complaint in (
        (["--output-as=xml"], "crm_mon: unrecognized option '--output-as=xml'"),
        (["--one-shot", "--include=none,summary"], "unrecognized option '--include=none,summary'"),
        (["--help-all"], "crm_mon: unrecognized option '--help-all'"),
        (["-1", "-I", "summary"], "crm_mon: invalid option -- 'I'"),
    ):
        done = subprocess.run(
            [standin, *argv], capture_output=True, timeout=30, check=False, env=tool_env()
        )
        assert (done.returncode, done.stdout) == (1, b""), argv
        first, _, usage = done.stderr.decode().partition("\n")
        assert complaint in first
        assert usage.startswith("crm_mon - Provides a summary of cluster's current state.")
        assert " -X, --as-xml" in usage


def test_standin_prints_what_the_fixture_holds(cib_states: CibStates) -> None:
    done = subprocess.run(
        [str(STANDIN_DIR / "crm_mon"), *LEGACY_CRM_MON_ARGV[1:]],
        capture_output=True,
        timeout=60,
        check=False,
        env=tool_env(cib_states.leftover_ban()),
    )
    assert done.returncode == 0, done.stderr
    committed = parse_fixture("leftover_ban", LEGACY_SUFFIX)
    assert facts(parse_crm_mon(done.stdout, local_tz=ZONE)) | {"summary": None} == facts(
        committed
    ) | {"summary": None}


def test_standin_without_a_cluster_answers_as_11_does() -> None:
    require_pacemaker_tools()
    # no CIB_file: crm_mon asks this network namespace's cluster (the lab's live in their own)
    probe = ["crm_mon", "-1", "-X"]
    if (
        subprocess.run(
            probe, capture_output=True, timeout=60, check=False, env=tool_env()
        ).returncode
        == 0
    ):
        pytest.skip("a pacemaker cluster runs in this namespace")
    done = subprocess.run(
        [str(STANDIN_DIR / "crm_mon"), *LEGACY_CRM_MON_ARGV[1:]],
        capture_output=True,
        timeout=60,
        check=False,
        env=tool_env(),
    )
    assert (done.returncode, done.stdout.decode()) == (107, NOT_CONNECTED_11)
    assert (
        NOT_CONNECTED_11.encode()
        == (FIXTURE_DIR.parent / "not-connected-1.1.23-legacy.txt").read_bytes()
    )
