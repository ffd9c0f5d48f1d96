"""Which pgsql resource agent a hub runs, read from the agent script itself.

Two agents run CFEngine's ``cfpgsql`` resource, both installed as ``ocf:heartbeat:pgsql``:
ClusterLabs' stock ``heartbeat/pgsql`` (resource-agents) and CFEngine's fork
(``cfengine/core`` ``contrib/pgsql_RA``, forked from resource-agents 4.1.1 in 2018, last changed
2021), which the CFEngine HA guide copies over the stock file. They write the same node
attributes with the same values (``pgsql_ra`` decodes both), but differ where it matters for
the product (docs/pacemaker.md):

* The fork reads ``crm_mon -n1`` *text* to find the primary and which nodes are online; stock
  since resource-agents 4.6 reads crm_mon's XML. That text changed layout in pacemaker 2.0.4
  (``  * Node hub1: online:``) and says ``Promoted`` from 2.1, so on those releases the fork
  finds no primary and no online node: it stops updating ``<rsc>-status`` and
  ``<rsc>-data-status`` (every such write is guarded by "is the node online"), while the
  promotion score and the receiver status still change. Its attributes are then stale.
* The fork logs its refusals (``PGSQL.lock`` present, ...) with ``ocf_log err`` where stock sets
  an OCF exit reason, so a failed action of the fork carries no reason (``exitreason="none"``).

``describe_pgsql_agent`` reads these facts from the script text (pure); ``reads_crm_mon`` says
whether an agent can read a given pacemaker's crm_mon at all.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from clusterstate.parsers.described import DescribedEnum

__all__ = [
    "CrmMonReading",
    "PgsqlAgentScript",
    "describe_pgsql_agent",
    "ocf_agent_path",
    "reads_crm_mon",
]


class CrmMonReading(DescribedEnum):
    """How an agent reads the cluster status."""

    XML = "xml", "crm_mon XML (--output-as=xml or --as-xml): every pacemaker release."
    TEXT = "text", "crm_mon -n1 text: only the layout of pacemaker 1.1 to 2.0.3."
    UNKNOWN = "unknown", "Neither was found in the script."


@dataclass(frozen=True, slots=True)
class PgsqlAgentScript:
    """What a pgsql agent script does that the product depends on."""

    cfengine_fork: bool
    """CFEngine's ``contrib/pgsql_RA`` (its header note), not ClusterLabs' stock agent."""
    crm_mon_reading: CrmMonReading
    lock_exit_reason: bool
    """Refusing to start on ``PGSQL.lock`` sets an OCF exit reason (stock), or only logs (fork)."""


_FORK_NOTE = "This is a modified version of the upstream RA"
_TEXT_RE = re.compile(r"crm_mon -n1\b")
_XML_RE = re.compile(r"crm_mon -1 \$XMLOPT|--output-as=xml|--as-xml")
_LOCK_REASON_RE = re.compile(r'ocf_exit_reason "My data may be inconsistent')


def describe_pgsql_agent(script: str) -> PgsqlAgentScript:
    """Read the facts above from the agent's shell script. Pure, never raises."""
    if _XML_RE.search(script):
        reading = CrmMonReading.XML
    elif _TEXT_RE.search(script):
        reading = CrmMonReading.TEXT
    else:
        reading = CrmMonReading.UNKNOWN
    return PgsqlAgentScript(
        cfengine_fork=_FORK_NOTE in script,
        crm_mon_reading=reading,
        lock_exit_reason=_LOCK_REASON_RE.search(script) is not None,
    )


_LIST_LAYOUT_FROM = (2, 0, 4)  # crm_mon text: "  * Node hub1: online:" (Pacemaker-2.0.4 tag)


def reads_crm_mon(reading: CrmMonReading, pacemaker_version: str | None) -> bool | None:
    """Whether an agent reading crm_mon this way finds the primary on this pacemaker.

    ``None`` when that cannot be told (unknown reading or version).
    """
    if reading is CrmMonReading.XML:
        return True
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", pacemaker_version or "")
    if reading is CrmMonReading.UNKNOWN or match is None:
        return None
    version = tuple(int(part) for part in match.groups())
    return version < _LIST_LAYOUT_FROM


def ocf_agent_path(agent: str, ocf_root: str = "/usr/lib/ocf") -> str | None:
    """``ocf:heartbeat:pgsql`` -> ``/usr/lib/ocf/resource.d/heartbeat/pgsql`` (None if not OCF)."""
    parts = agent.split(":")
    if len(parts) != 3 or parts[0] != "ocf" or not all(re.fullmatch(r"[\w.-]+", p) for p in parts):
        return None
    return posixpath.join(ocf_root, "resource.d", parts[1], parts[2])
