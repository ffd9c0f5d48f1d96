"""The exporter unit's identity on a real cluster node: what its collectors run works as an
unprivileged user whose *effective* group is haclient, and not with haclient only as a
supplementary group (corosync admits IPC clients by effective gid; that is why the unit says
`Group=haclient`).

Marked `lab`: runs inside a hub of the live lab. The identity is `nobody` with the unit's
restrictions that setpriv can apply (no new privileges, empty capability sets).
"""

from __future__ import annotations

import pytest

from clusterstate.parsers.crm_mon import CRM_MON_ARGV
from exporter.collectors.corosync import CorosyncConfig
from exporter.collectors.pacemaker import PacemakerConfig
from lab.cluster import Lab

pytestmark = pytest.mark.lab

COROSYNC = CorosyncConfig()
PACEMAKER = PacemakerConfig()
# The collectors' own command lines (exporter/collectors/{pacemaker,corosync}.py).
COLLECTOR_COMMANDS = {
    "crm_mon": [PACEMAKER.crm_mon_path, *CRM_MON_ARGV[1:]],
    "cibadmin": [PACEMAKER.cibadmin_path, "--query", "--scope", "configuration"],
    "corosync-quorumtool": [COROSYNC.quorumtool_path, "-p", "-s"],
    "corosync-cfgtool": [COROSYNC.cfgtool_path, "-s"],
    "corosync-cmapctl": [COROSYNC.cmapctl_path, "nodelist.node"],
}


def unprivileged(regid: str, groups: str) -> list[str]:
    return [
        "setpriv", "--reuid=nobody", f"--regid={regid}", f"--groups={groups}",
        "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
    ]  # fmt: skip


@pytest.mark.parametrize("tool", sorted(COLLECTOR_COMMANDS))
def test_collector_commands_work_with_haclient_as_the_effective_group(
    healthy_lab: Lab, tool: str
) -> None:
    node = healthy_lab.primary()
    argv = [*unprivileged("haclient", "nogroup"), *COLLECTOR_COMMANDS[tool]]
    done = healthy_lab.run(node, argv, timeout=30)
    assert done.returncode == 0, f"{tool}: rc={done.returncode} {done.stderr.strip()}"
    assert done.stdout.strip()


def test_corosync_refuses_haclient_as_a_supplementary_group_only(healthy_lab: Lab) -> None:
    node = healthy_lab.primary()
    argv = [*unprivileged("nogroup", "haclient"), *COLLECTOR_COMMANDS["corosync-quorumtool"]]
    done = healthy_lab.run(node, argv, timeout=30)
    assert done.returncode != 0, done.stdout
