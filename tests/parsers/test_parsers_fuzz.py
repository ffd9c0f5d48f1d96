"""Property tests: whatever they are fed, the parsers raise nothing but their own error type.

Inputs are arbitrary bytes/text, and real documents mutated at random (elements dropped,
attributes dropped or given garbage values, lines dropped or garbled).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.parsers.corosync import CorosyncParseError, parse_cfgtool_status, parse_quorumtool
from clusterstate.parsers.crm_mon import CrmMonParseError, parse_crm_mon
from clusterstate.parsers.pgsql_ra import decode_pgsql_attributes
from tests.support.shared import pacemaker_fixture_dirs

FIXTURES = Path(__file__).parents[1] / "fixtures"
# CFHA_FUZZ_EXAMPLES=5000 searches harder than the suite's everyday budget
FUZZ = settings(
    max_examples=int(os.environ.get("CFHA_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def crm_mon_seeds() -> list[bytes]:
    seeds = [path.read_bytes() for path in sorted((FIXTURES / "pacemaker").glob("live-*.xml"))]
    for folder in pacemaker_fixture_dirs():
        for name in (
            "xml-output.xml",
            "basic-output-xml.xml",
            "xml-output-of-partially-active-resources.xml",
            "output-of-partially-active-resources-xml.xml",
        ):
            if (folder / name).is_file():
                seeds.append((folder / name).read_bytes())
    return seeds


def cib_seeds() -> list[bytes]:
    seeds = []
    for folder in pacemaker_fixture_dirs():
        for path in sorted((folder / "cib").glob("*.xml")):
            try:
                etree.fromstring(path.read_bytes())
            except etree.XMLSyntaxError:
                continue
            seeds.append(path.read_bytes())
    seeds.append(b"""<cib epoch="1" cib-last-written="Tue Jul 14 10:00:00 2026"><configuration>
      <crm_config><cluster_property_set id="o"><nvpair id="a" name="stonith-enabled"
        value="false"/></cluster_property_set></crm_config>
      <nodes><node id="1" uname="hub1"><instance_attributes id="n"><nvpair id="d"
        name="cfpgsql-data-status" value="LATEST"/></instance_attributes></node></nodes>
      <resources><clone id="mscfpgsql"><meta_attributes id="m"><nvpair id="p" name="promotable"
        value="true"/></meta_attributes><primitive id="cfpgsql" class="ocf" provider="heartbeat"
        type="pgsql"><operations><op id="o1" name="monitor" interval="4s" timeout="60s"/>
        </operations></primitive></clone></resources>
      <constraints><rsc_location id="cli-ban-x" rsc="mscfpgsql" role="Promoted"><rule id="r"
        score="-INFINITY"><expression id="e" attribute="#uname" operation="eq" value="hub2"/>
        <date_expression id="l" operation="lt" end="2026-11-24 23:07:56Z"/></rule>
        </rsc_location><rsc_order id="o" first="a" then="b" score="0" symmetrical="false"/>
        <rsc_colocation id="c" rsc="a" with-rsc="b" score="INFINITY"/></constraints>
    </configuration></cib>""")
    return seeds


CRM_MON_SEEDS = crm_mon_seeds()
CIB_SEEDS = cib_seeds()
TEXT_SEEDS = [path.read_text() for path in sorted((FIXTURES / "corosync").glob("*tool-*.txt"))]

xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
tricky_values = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "INFINITY",
        "-INFINITY",
        "+INFINITY",
        "1000000",
        "9" * 30,
        "true",
        "yes",
        "maybe",
        "Master",
        "Slave",
        "Tue Feb 30 25:61:61 2026",
        "Tue Nov 24 22:05:28 0000",
        "2026-13-45 99:99:99Z",
        "2026-11-24 23:05:28 +99:00",
        "ocf::",
        ":",
        "0x1f",
        "4000ms",
        "-4000ms",
        "١٢٣",
        "Sat Dec 31 23:59:59 9999",
        "Mon Jan  1 00:00:00 0001",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    root = etree.fromstring(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        element = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["drop", "drop-attribute", "garble", "rename", "text"]))
        if action == "drop" and element is not root:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
        elif action == "drop-attribute" and element.attrib:
            del element.attrib[draw(st.sampled_from(sorted(element.attrib)))]
        elif action == "garble" and element.attrib:
            name = draw(st.sampled_from(sorted(element.attrib)))
            element.set(name, draw(st.one_of(tricky_values, xml_text)))
        elif action == "rename" and element is not root:
            element.tag = draw(
                st.sampled_from(
                    [
                        "resource",
                        "clone",
                        "group",
                        "node",
                        "bundle",
                        "replica",
                        "status",
                        "ban",
                        "x",
                    ]
                )
            )
        else:
            element.text = draw(xml_text)
    return etree.tostring(root)


def only_raises(parse: Callable[[Any], object], error: type[Exception], value: object) -> None:
    """Run ``parse``: returning or raising ``error`` is fine, anything else fails the test."""
    with contextlib.suppress(error):
        parse(value)


@FUZZ
@given(st.binary(max_size=2000))
def test_crm_mon_arbitrary_bytes(data: bytes) -> None:
    only_raises(lambda raw: parse_crm_mon(raw, local_tz=UTC), CrmMonParseError, data)


@FUZZ
@given(st.data())
def test_crm_mon_mutated_documents(data: st.DataObject) -> None:
    if not CRM_MON_SEEDS:
        pytest.skip("no seed documents")
    document = data.draw(mutated(CRM_MON_SEEDS))
    only_raises(lambda raw: parse_crm_mon(raw, local_tz=UTC), CrmMonParseError, document)


@FUZZ
@given(st.binary(max_size=2000))
def test_cib_arbitrary_bytes(data: bytes) -> None:
    only_raises(parse_cib, CibParseError, data)


@FUZZ
@given(st.data())
def test_cib_mutated_documents(data: st.DataObject) -> None:
    document = data.draw(mutated(CIB_SEEDS))
    only_raises(lambda raw: parse_cib(raw, local_tz=UTC), CibParseError, document)


@st.composite
def garbled(draw: st.DrawFn, seeds: list[str]) -> str:
    lines = draw(st.sampled_from(seeds)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        if not lines:
            break
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["drop", "replace", "insert", "cut"]))
        if action == "drop":
            del lines[index]
        elif action == "replace":
            lines[index] = draw(st.one_of(tricky_values, st.text(max_size=60)))
        elif action == "insert":
            lines.insert(index, draw(st.text(max_size=60)))
        else:
            lines[index] = lines[index][: draw(st.integers(min_value=0, max_value=40))]
    return "\n".join(lines)


@FUZZ
@given(st.text(max_size=2000))
def test_corosync_arbitrary_text(text: str) -> None:
    only_raises(parse_cfgtool_status, CorosyncParseError, text)
    only_raises(parse_quorumtool, CorosyncParseError, text)


@FUZZ
@given(st.data())
def test_corosync_mutated_captures(data: st.DataObject) -> None:
    text = data.draw(garbled(TEXT_SEEDS))
    only_raises(parse_cfgtool_status, CorosyncParseError, text)
    only_raises(parse_quorumtool, CorosyncParseError, text)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "cfpgsql-status",
                "cfpgsql-data-status",
                "cfpgsql-receiver-status",
                "master-cfpgsql",
                "cfpgsql-master-baseline",
                "cfpgsql-xlog-loc",
                "x",
            ]
        ),
        st.one_of(tricky_values, st.text(max_size=30)),
    )
)
def test_pgsql_decoding_never_raises(attributes: dict[str, str]) -> None:
    decode_pgsql_attributes(attributes, node="hub1")
