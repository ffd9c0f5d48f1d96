"""What `restore` removes from a lab's CIB by hand: what people and cfha leave behind on purpose.

- `cli-ban-*` / `cli-prefer-*` location constraints (`crm_resource --ban/--move`, `pcs resource
  ban/move`);
- the remediator's resync hold `cfha-hold-<clone>-on-<node>`: a rule-based -INFINITY location
  with a lifetime that a failed `resync_standby` keeps, so that pacemaker does not start a
  half-rebuilt standby, until a human has looked (alerts/runbooks/CfHaRemediationFailed.md);
- the remediator's cluster-wide lock, the `cluster_property_set` `cfha-remediation-lock`.

Restoring a lab is that human's decision, so all three go. Pure: a CIB in, what to delete (and
the cibadmin argv that deletes it) out. The ids are the remediator's own (`remediator.lock`;
`PgTarget.hold_id`, pinned by tests/lab/test_cib_leftovers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from clusterstate.parsers.cib import parse_cib
from remediator.lock import LOCK_NVPAIR_ID, LOCK_SET_ID

CFHA_HOLD_PREFIX = "cfha-hold-"


@dataclass(frozen=True)
class Leftover:
    what: str  # in words, for the restore report
    element: str  # the CIB element that goes: "rsc_location" or "cluster_property_set"
    id: str
    detail: str = ""

    def delete_argv(self) -> list[str]:
        """cibadmin deletes the element of that tag with that id (ids are unique in a CIB)."""
        return ["cibadmin", "--delete", "--xml-text", f'<{self.element} id="{self.id}"/>']

    def describe(self) -> str:
        return f"{self.what} {self.id}" + (f" ({self.detail})" if self.detail else "")


def find_leftovers(cib_xml: bytes) -> list[Leftover]:
    """Every leftover of `cibadmin --query` output, in CIB order (the lock last).

    A malformed CIB raises `clusterstate.parsers.cib.CibParseError`. (crm_mon names a location
    with a lifetime by its rule, "cli-ban-R-on-N-rule", which is no element cibadmin could
    delete: the ids come from the CIB itself.)
    """
    cib = parse_cib(cib_xml)
    found = [
        Leftover("cli constraint", "rsc_location", location.id)
        for location in cib.cli_constraints()
    ]
    found += [
        Leftover("cfha resync hold", "rsc_location", location.id)
        for location in cib.locations
        if location.id.startswith(CFHA_HOLD_PREFIX)
    ]
    if LOCK_NVPAIR_ID in cib.properties:
        holder = cib.properties[LOCK_NVPAIR_ID]
        found.append(Leftover("cfha remediation lock", "cluster_property_set", LOCK_SET_ID, holder))
    return found
