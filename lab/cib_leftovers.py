"""What `restore` removes from a lab's CIB by hand: what people and cfha leave behind on purpose.

- `cli-ban-*` / `cli-prefer-*` location constraints (`crm_resource --ban/--move`, `pcs resource
  ban/move`);
- the remediator's resync hold `cfha-hold-<clone>-on-<node>`: a rule-based -INFINITY location
  with a lifetime that a failed `resync_standby` keeps, so that pacemaker does not start a
  half-rebuilt standby, until a human has looked (alerts/runbooks/CfHaRemediationFailed.md);
- the remediator's cluster-wide lock, the `cluster_property_set` `cfha-remediation-lock`.

Restoring a lab is that human's decision, so all three go. Pure: a CIB in, what to delete (and
the cibadmin argv that deletes it) out. Which constraint is whose, and where the lock is, is
`clusterstate`'s one reading (`LocationConstraint.kind`, `remediation_lock`); that it matches what
the remediator writes is tested with the remediator's own writers
(tests/lab/test_restore_leftovers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from clusterstate.pacemaker_state import LOCK_SET_ID, remediation_lock
from clusterstate.parsers.cib import parse_cib
from clusterstate.parsers.pcmk_values import ConstraintKind

WHAT = {
    ConstraintKind.CLI_BAN: "cli constraint",
    ConstraintKind.CLI_PREFER: "cli constraint",
    ConstraintKind.CFHA_HOLD: "cfha resync hold",
}


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
        Leftover(WHAT[location.kind], "rsc_location", location.id)
        for location in cib.locations
        if location.kind in WHAT
    ]
    lock = remediation_lock(cib)
    if lock.held:
        found.append(
            Leftover("cfha remediation lock", "cluster_property_set", LOCK_SET_ID, lock.raw or "")
        )
    return found
