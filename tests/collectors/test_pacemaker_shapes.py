"""Every resource shape pacemaker prints, through the collector's writer: each crm_mon document of
pacemaker's own regression suite (2.0.5, 2.1.5, 3.0.2, from the shared fixtures folder) becomes
a valid page whose role series agree with the parsed instances.

Skipped with a message when the shared folder is absent.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clusterstate.pacemaker_state import pacemaker_state
from clusterstate.parsers.crm_mon import ClusterUnavailableError, parse_crm_mon
from exporter.collectors.pacemaker_write import write_state
from servicekit.metrics import MetricWriter, exposition_text
from tests.support.metrics_text import sample_value
from tests.support.shared import pacemaker_fixture_dirs

NO_FIXTURES = "shared pacemaker fixtures not found (set CFHA_SHARED_DIR or provide ../shared)"


def crm_mon_documents() -> list[Any]:
    found = []
    for folder in pacemaker_fixture_dirs():
        for path in sorted(folder.glob("*.xml")):
            head = path.read_bytes()[:200].lstrip()
            if head.startswith((b"<pacemaker-result", b"<crm_mon")):
                found.append(pytest.param(path, id=f"{folder.name}/{path.name}"))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=NO_FIXTURES))]


def page(path: Path) -> str:
    status = parse_crm_mon(path.read_bytes(), local_tz=UTC)
    facts = pacemaker_state(
        status, None, local_node="cluster01", database_resource="x", vip_resource="y"
    )
    out = MetricWriter()
    write_state(out, facts, now=0.0)
    return exposition_text(out, "test")


@pytest.mark.parametrize("path", crm_mon_documents())
def test_every_document_becomes_a_consistent_page(path: Path) -> None:
    try:
        status = parse_crm_mon(path.read_bytes(), local_tz=UTC)
    except ClusterUnavailableError:
        pytest.skip("a not-connected document: covered by the down-series tests")
    text = page(path)
    index = Index(text)
    sample_lines = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert not {"master", "slave"} & set(sample_lines.lower().replace('"', " ").split())
    assert "ocf::" not in sample_lines
    for instance in status.instances:
        primitive = instance.primitive
        rid = instance.resource_id
        assert len(index.find("cfha_pacemaker_resource_info", resource=rid)) == 1
        for node in primitive.nodes:
            roles = index.find("cfha_pacemaker_resource_role", resource=rid, node=node)
            assert sum(value for _, value in roles) == 1, (rid, node)
            if len(status.instances_of(rid)) == 1:
                (on,) = [labels["state"] for labels, value in roles if value == 1]
                assert on == primitive.role.value, (rid, node)


class Index:
    """The page's samples by name, parsed once (a page can hold thousands of series)."""

    def __init__(self, text: str) -> None:
        self.by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                entry = (dict(sample.labels), float(sample.value))
                self.by_name.setdefault(sample.name, []).append(entry)

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (found, value)
            for found, value in self.by_name.get(name, [])
            if all(found.get(k) == v for k, v in labels.items())
        ]


def fixture(version: str, name: str) -> Path:
    for folder in pacemaker_fixture_dirs():
        if folder.name == version and (folder / name).is_file():
            return folder / name
    pytest.skip(f"{version}/{name} not in the shared fixtures")


def test_clone_of_group_promotable_clone_and_bundle() -> None:
    text = page(fixture("2.1.5", "xml-output.xml"))
    info = "cfha_pacemaker_resource_info"
    assert (
        sample_value(
            text, info, resource="mysql-proxy", clone="mysql-clone-group", group="mysql-group"
        )
        == 1
    )
    assert sample_value(text, info, resource="promotable-rsc", promotable="true") == 1
    role = "cfha_pacemaker_resource_role"
    assert (
        sample_value(text, role, resource="promotable-rsc", node="cluster02", state="promoted") == 1
    )
    assert (
        sample_value(text, role, resource="promotable-rsc", node="cluster01", state="unpromoted")
        == 1
    )
    assert sample_value(text, role, resource="mysql-proxy", node="cluster02", state="started") == 1
    bundle = page(fixture("2.1.5", "xml-output-of-partially-active-resources.xml"))
    assert sample_value(bundle, info, resource="httpd", bundle="httpd-bundle") == 1
    assert sample_value(bundle, role, resource="httpd", node="httpd-bundle-0", state="started") == 1
