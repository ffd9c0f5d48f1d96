"""The two pgsql agents: which one a script is, and whether it can read a pacemaker's crm_mon.

The stock agent is the one installed here (Debian 12's resource-agents 4.12). CFEngine's fork is
represented by the few lines of it this test needs (``fixtures/pgsql-agent``, see its README).
The agents' own shell pipelines are run, with bash, on the real crm_mon output of the healthy
CFEngine state: the stock agent's XML greps find the primary and the online nodes on 2.1.5 (and
in pacemaker 1.1's XML); the fork's text greps find neither on 2.1.5.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from clusterstate.parsers.pgsql_agent_script import (
    CrmMonReading,
    describe_pgsql_agent,
    ocf_agent_path,
    reads_crm_mon,
)
from lab.offline.cibstates import CibStates, run_tool
from tests.support.legacy_fixtures import FIXTURE_DIR, LEGACY_SUFFIX

STOCK = Path("/usr/lib/ocf/resource.d/heartbeat/pgsql")
FORK = Path(__file__).parents[1] / "fixtures" / "pgsql-agent" / "cfengine-pgsql_RA.excerpt"


def stock_script() -> str:
    if not STOCK.is_file():
        pytest.skip("resource-agents' pgsql agent is not installed (scripts/ensure-debs)")
    return STOCK.read_text()


def test_stock_agent_reads_xml_and_sets_exit_reasons() -> None:
    script = describe_pgsql_agent(stock_script())
    assert (script.cfengine_fork, script.crm_mon_reading, script.lock_exit_reason) == (
        False,
        CrmMonReading.XML,
        True,
    )


def test_cfengine_fork_reads_text_and_only_logs() -> None:
    script = describe_pgsql_agent(FORK.read_text())
    assert (script.cfengine_fork, script.crm_mon_reading, script.lock_exit_reason) == (
        True,
        CrmMonReading.TEXT,
        False,
    )
    assert describe_pgsql_agent("#!/bin/sh\nexit 0\n").crm_mon_reading is CrmMonReading.UNKNOWN


@pytest.mark.parametrize(
    ("reading", "version", "expected"),
    [
        (CrmMonReading.XML, "2.1.5", True),
        (CrmMonReading.XML, None, True),
        (CrmMonReading.TEXT, "1.1.23", True),
        (CrmMonReading.TEXT, "2.0.3", True),
        (CrmMonReading.TEXT, "2.0.4", False),
        (CrmMonReading.TEXT, "2.1.5-a3f44794f94", False),
        (CrmMonReading.TEXT, "3.0.2", False),
        (CrmMonReading.TEXT, None, None),
        (CrmMonReading.UNKNOWN, "1.1.23", None),
    ],
)
def test_which_crm_mon_an_agent_can_read(
    reading: CrmMonReading, version: str | None, expected: bool | None
) -> None:
    assert reads_crm_mon(reading, version) is expected


def test_agent_path() -> None:
    assert ocf_agent_path("ocf:heartbeat:pgsql") == str(STOCK)
    assert (
        ocf_agent_path("ocf:heartbeat:pgsql", "/opt/ocf") == "/opt/ocf/resource.d/heartbeat/pgsql"
    )
    assert ocf_agent_path("systemd:postgresql") is None
    assert ocf_agent_path("ocf:../..:pgsql") is None


# -- the agents' own greps on real crm_mon output ----------------------------------------------


def pipelines(script: str, names: tuple[str, ...]) -> dict[str, str]:
    """The one-line bodies (``print_crm_mon | ...``) of these shell functions, and the
    primary check (``... Master"`` / ``role=...``) as ``master``."""
    found = {}
    for name in names:
        match = re.search(rf"^{name}\(\) {{\n\s*(print_crm_mon \|[^\n]+)\n", script, re.MULTILINE)
        assert match, name
        found[name] = match.group(1)
    master = re.search(r"^\s*(print_crm_mon \|[^\n]*(?:Master\"|\(Promoted\|Master\)[^\n]*))$",
                       script, re.MULTILINE)  # fmt: skip
    assert master
    found["master"] = master.group(1)
    return found


def run_on(found: dict[str, str], output: bytes, tmp_path: Path) -> dict[str, bool]:
    """Each pipeline's verdict (exit 0) on ``output``, with the agent's variables for hub1."""
    path = tmp_path / "crm_mon.out"
    path.write_bytes(output)
    results = {}
    for name, pipeline in found.items():
        shell = (
            f'print_crm_mon() {{ cat "{path}"; }}\nRESOURCE_NAME=cfpgsql\nset -- hub1\n{pipeline}'
        )
        done = subprocess.run(["bash", "-c", shell], capture_output=True, timeout=30, check=False)
        results[name] = done.returncode == 0
    return results


def test_stock_agent_finds_the_primary_in_every_xml(cib_states: CibStates, tmp_path: Path) -> None:
    found = pipelines(stock_script(), ("is_node_online", "node_exist"))
    healthy = cib_states.healthy()
    for output in (
        run_tool(["crm_mon", "-1", "--output-as=xml"], cib=healthy),
        run_tool(["crm_mon", "-1", "--as-xml"], cib=healthy),
        (FIXTURE_DIR / ("healthy" + LEGACY_SUFFIX)).read_bytes(),  # pacemaker 1.1's XML
    ):
        assert run_on(found, output, tmp_path) == {
            "is_node_online": True,
            "node_exist": True,
            "master": True,
        }


def test_cfengine_fork_finds_nothing_in_pacemaker_21_text(
    cib_states: CibStates, tmp_path: Path
) -> None:
    found = pipelines(FORK.read_text(), ("is_node_online", "node_exist"))
    text = run_tool(["crm_mon", "-n1"], cib=cib_states.healthy())
    assert b"* Node hub1: online:" in text and b"Promoted" in text
    assert run_on(found, text, tmp_path) == {
        "is_node_online": False,
        "node_exist": False,
        "master": False,
    }
