"""Conformance: every crm_mon document of pacemaker's own regression suite (2.0.5, 2.1.5, 3.0.2)
parses, and what it says holds together; plus the output of the installed crm_mon (2.1.5) for
every CIB those documents came from.

The documents are read from the shared fixtures folder (``tests.support.shared``); without it
these tests are skipped. Documents are classified by their root element, not their file name
(``text-output-of-...xml`` is XML too).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.crm_mon import ClusterStatus, parse_crm_mon
from clusterstate.parsers.pcmk_values import Role
from lab.offline.cibstates import crm_mon_xml
from tests.support.shared import pacemaker_fixture_dirs

FIXTURE_DIRS = pacemaker_fixture_dirs()
NO_FIXTURES = "shared pacemaker fixtures not found (set CFHA_SHARED_DIR or provide ../shared)"


def documents(kind: str) -> list[Path]:
    """Fixture files whose root element is ``kind`` ('pacemaker-result' or 'cib')."""
    found = []
    for folder in FIXTURE_DIRS:
        for path in sorted(folder.rglob("*.xml")):
            head = path.read_bytes()[:200].lstrip()
            if head.startswith(f"<{kind} ".encode()) or head.startswith(f"<{kind}>".encode()):
                found.append(path)
    return found


def params(paths: list[Path]) -> list[Any]:
    """One test per document, or a single skipped one that says why there are none."""
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_FIXTURES), id="no-fixtures")]
    return [
        pytest.param(
            path,
            id=f"{path.parent.parent.name}/cib/{path.name}"
            if path.parent.name == "cib"
            else f"{path.parent.name}/{path.name}",
        )
        for path in paths
    ]


CRM_MON_DOCS = documents("pacemaker-result")
CIB_DOCS = documents("cib")
AGENT_RE = re.compile(r"[a-z]+(:[A-Za-z0-9_.-]+){1,2}")
ROLE_SPELLINGS = {
    Role.PROMOTED: ("Promoted", "Master"),
    Role.UNPROMOTED: ("Unpromoted", "Slave"),
}


def test_fixtures_are_present() -> None:
    if not FIXTURE_DIRS:
        pytest.skip(NO_FIXTURES)
    assert len(FIXTURE_DIRS) == 3
    assert len(CRM_MON_DOCS) >= 80
    assert len(CIB_DOCS) >= 12


def unfiltered(status: ClusterStatus) -> bool:
    """Neither --node/--resource filtering nor --group-by-node changed what is listed."""
    return re.search(r"--(node|resource|group-by-node)", status.request or "") is None


def check_invariants(status: ClusterStatus, raw: bytes) -> None:
    resources_xml = etree.fromstring(raw).find("resources")
    listed = [] if resources_xml is None else list(resources_xml.iter("resource"))

    # every instance listed under <resources> is in the flattened list, roles normalised
    assert len(status.instances) == len(listed)
    for instance, element in zip(status.instances, listed, strict=True):
        primitive = instance.primitive
        assert primitive.id == element.get("id")
        assert primitive.role is not Role.UNKNOWN, element.get("role")
        for role, spellings in ROLE_SPELLINGS.items():
            assert (primitive.role is role) == (element.get("role") in spellings)
        assert AGENT_RE.fullmatch(primitive.agent), primitive.agent
        assert "::" not in primitive.agent
        assert primitive.removed == (element.get("removed", element.get("orphaned")) == "true")
        assert len(primitive.nodes) == primitive.nodes_running_on
        assert primitive.active == bool(primitive.nodes) or not primitive.managed

    summary = status.summary
    assert summary is not None
    assert summary.options is not None and summary.options.fencing_enabled is not None
    assert summary.dc is not None and summary.dc.present
    names = {node.name for node in status.nodes}
    assert len(names) == len(status.nodes)
    if unfiltered(status):
        if "nodes" in status.sections:
            assert summary.nodes_configured == len(status.nodes)
            assert {n for i in status.instances for n in i.primitive.nodes} <= names
            assert {h.node for h in status.history} <= names
            assert set(status.node_attributes) <= names
            assert sum(node.is_dc for node in status.nodes) == 1
            assert next(node.name for node in status.nodes if node.is_dc) == summary.dc.name
        assert summary.resources_configured == len(status.instances)
        assert summary.resources_disabled == sum(
            i.primitive.target_role is Role.STOPPED for i in status.instances
        )
    for history in status.history:
        assert history.fail_count >= 0
        assert history.migration_threshold is not None and history.migration_threshold > 0
        assert all(op.interval_seconds >= 0 for op in history.operations)
    for failure in status.failures:
        assert failure.op_key.startswith(failure.resource_id + "_")
    for ban in status.bans:
        assert ban.weight < 0


@pytest.mark.parametrize("path", params(CRM_MON_DOCS))
def test_regression_document_parses_consistently(path: Path) -> None:
    raw = path.read_bytes()
    status = parse_crm_mon(raw, local_tz=UTC)
    assert not status.legacy
    check_invariants(status, raw)


def fixture(version: str, name: str) -> bytes:
    folder = next((f for f in FIXTURE_DIRS if f.name == version), None)
    if folder is None:
        pytest.skip(NO_FIXTURES)
    return (folder / name).read_bytes()


def test_2_1_and_3_0_renames_parse_to_the_same_cluster() -> None:
    # 3.0.2 renamed orphaned -> removed, stonith-enabled -> fencing-enabled, rc texts, and added
    # maintenance attributes; once parsed, the same cluster must look the same
    old = parse_crm_mon(fixture("2.1.5", "xml-output.xml"), local_tz=UTC)
    new = parse_crm_mon(fixture("3.0.2", "basic-output-xml.xml"), local_tz=UTC)
    assert new.summary == old.summary
    assert new.nodes == old.nodes
    assert new.bans == old.bans
    assert new.node_attributes == old.node_attributes
    unmaintained = [
        dataclasses.replace(i, primitive=dataclasses.replace(i.primitive, maintenance=None))
        for i in new.instances
    ]
    assert unmaintained == list(old.instances)
    assert [(h.node, h.resource_id, h.fail_count, h.migration_threshold) for h in new.history] == [
        (h.node, h.resource_id, h.fail_count, h.migration_threshold) for h in old.history
    ]


def test_2_0_agents_lose_the_empty_provider_separator() -> None:
    status = parse_crm_mon(fixture("2.0.5", "xml-output.xml"), local_tz=UTC)
    agents = {i.primitive.agent for i in status.instances}
    assert "ocf:pacemaker:ping" in agents and "ocf:heartbeat:IPaddr2" in agents
    assert status.summary is not None and status.summary.dc is not None
    assert status.summary.dc.name == "cluster02"  # from the node list: 2.0.5 names no DC


def test_every_resource_shape_is_walked() -> None:
    status = parse_crm_mon(fixture("2.1.5", "xml-output.xml"), local_tz=UTC)
    assert status.promoted_nodes("promotable-clone") == ("cluster02",)
    assert status.promoted_nodes("promotable-rsc") == ("cluster02",)
    assert status.active_nodes("promotable-clone") == ("cluster01", "cluster02")
    # clone of a group: members carry both parents, the group without its ":N" instance suffix
    proxies = status.instances_of("mysql-clone-group")
    assert {(i.clone_id, i.group_id, i.resource_id) for i in proxies} == {
        ("mysql-clone-group", "mysql-group", "mysql-proxy")
    }
    assert status.active_nodes("mysql-group") == ("cluster01", "cluster02")
    # bundle replicas
    bundle = status.instances_of("httpd-bundle")
    assert len(bundle) == 12
    assert {i.replica_id for i in bundle} == {"0", "1", "2"}
    assert status.active_nodes("httpd") == ("httpd-bundle-0", "httpd-bundle-1")
    # plain group and primitive
    assert status.active_nodes("exim-group") == ("cluster02",)
    assert status.active_nodes("Fencing") == ("cluster01",)
    assert status.bans[0].id == "not-on-cluster1" and not status.bans[0].is_cli


def test_failed_actions_of_both_wordings() -> None:
    for version, name in (
        ("2.1.5", "xml-output-of-partially-active-resources.xml"),
        ("3.0.2", "output-of-partially-active-resources-xml.xml"),
    ):
        (failure,) = parse_crm_mon(fixture(version, name), local_tz=UTC).failures
        assert (
            failure.resource_id,
            failure.task,
            failure.interval_seconds,
            failure.node,
            failure.exitcode,
        ) == ("dummy-2", "monitor", 0.0, "cluster02", 3)


@pytest.mark.parametrize("path", params(CIB_DOCS))
def test_regression_cib_parses_or_is_refused_as_malformed(path: Path) -> None:
    raw = path.read_bytes()
    try:
        etree.fromstring(raw)
    except etree.XMLSyntaxError:
        # 2.1.5's crm_mon-feature_set.xml has a missing end tag (libxml2 recovers, we refuse)
        with pytest.raises(CibParseError):
            parse_cib(raw)
        return
    config = parse_cib(raw, local_tz=UTC)
    assert config.primitives
    assert all(AGENT_RE.fullmatch(p.agent) for p in config.primitives)
    assert all(c.child_id for c in config.clones)


@pytest.mark.parametrize("path", params(CIB_DOCS))
def test_installed_crm_mon_on_each_regression_cib(path: Path, pacemaker_tools: None) -> None:
    raw = crm_mon_xml(path, tz="UTC")
    status = parse_crm_mon(raw, local_tz=UTC)
    check_invariants(status, raw)
    assert status.api_version == "2.25"  # pacemaker 2.1.5, Debian 12
    try:
        config = parse_cib(path.read_bytes(), local_tz=UTC)
    except CibParseError:
        return
    assert status.summary is not None
    assert status.summary.last_change == config.last_written
    configured = {p.id for p in config.primitives}
    # a bundle's IP, container and connection are implicit: only its inner resource is configured
    assert {i.resource_id for i in status.instances if i.bundle_id is None} <= configured
    assert {i.bundle_id for i in status.instances if i.bundle_id} <= set(config.bundles)
