"""Simulate a CIB change before making it: pacemaker's own scheduler says what would happen.

The live CIB (configuration and status) is copied to a temporary file, the change is applied to
the copy (`CIB_file=<copy> cibadmin ...`), and `crm_simulate --simulate --xml-file <copy>
--output-as=xml` lists the actions the scheduler would take. Removing a leftover ban or prefer
should at most *start* something (the instance the ban kept away); any other action (stop,
demote, promote, move, recover, fence) means the change would disturb the primary or the VIP,
and it is refused. The PAF documentation asks for exactly this before any CIB change.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from clusterstate.parsers.cib import CibParseError, parse_cib
from clusterstate.tools import CommandError, CommandRunner
from remediator.config import ToolsConfig
from remediator.guard import SIMULATION, Check

SAFE_ACTIONS = frozenset({"start"})


class SimulationError(ValueError):
    """crm_simulate's output is not what this parser understands."""


@dataclass(frozen=True)
class SimulatedAction:
    action: str
    resource: str
    node: str | None
    role: str | None
    reason: str | None

    def describe(self) -> str:
        where = f" on {self.node}" if self.node else ""
        role = f" ({self.role})" if self.role else ""
        return f"{self.action} {self.resource}{role}{where}"


def parse_actions(xml: bytes) -> tuple[SimulatedAction, ...]:
    """The `<actions>` of `crm_simulate --output-as=xml` (pure)."""
    try:
        root = etree.fromstring(
            xml, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        raise SimulationError(f"not XML: {exc}") from exc
    if root.tag != "pacemaker-result":
        raise SimulationError(f"unexpected root <{root.tag}>")
    status = root.find("status")
    if status is None:
        raise SimulationError("crm_simulate's output has no result status (cut short?)")
    if status.get("code") != "0":
        raise SimulationError(f"crm_simulate failed: {status.get('message')}")
    if root.find("actions") is None:
        raise SimulationError("crm_simulate listed no <actions> (it always does, even empty)")
    return tuple(
        SimulatedAction(
            action=(a.get("action") or "").lower(),
            resource=a.get("resource") or "?",
            node=a.get("node"),
            role=a.get("role"),
            reason=a.get("reason"),
        )
        for a in root.iterfind("actions/rsc_action")
    )


def location_constraint_xpath(constraint_id: str) -> str:
    """The XPath of one location constraint, for `cibadmin --delete --xpath` (ids are unique)."""
    if "'" in constraint_id:
        raise ValueError(f"cannot quote constraint id {constraint_id!r} in XPath")
    return f"//constraints/rsc_location[@id='{constraint_id}']"


def removal_is_quiet(
    runner: CommandRunner, tools: ToolsConfig, constraint_ids: Sequence[str]
) -> Check:
    """Would deleting these location constraints only start things? (changes nothing live)

    Fails closed: a step of the simulation that fails, a constraint that is not in the live CIB
    or still in the copy after its deletion, or output crm_simulate did not finish, refuses.
    """
    try:
        actions = simulate_removal(runner, tools, constraint_ids)
    except CommandError as exc:
        return Check(SIMULATION, False, f"{exc.reason}: {exc}")
    except (SimulationError, CibParseError, OSError, ValueError) as exc:
        return Check(SIMULATION, False, str(exc))
    unsafe = [a.describe() for a in actions if a.action not in SAFE_ACTIONS]
    if unsafe:
        return Check(SIMULATION, False, f"pacemaker would: {'; '.join(unsafe)}")
    planned = "; ".join(a.describe() for a in actions) or "nothing"
    return Check(SIMULATION, True, f"pacemaker would only: {planned}")


def simulate_removal(
    runner: CommandRunner, tools: ToolsConfig, constraint_ids: Sequence[str]
) -> tuple[SimulatedAction, ...]:
    """What pacemaker would do once the constraints are deleted, on a copy of the live CIB."""
    timeout = tools.read_timeout_seconds
    live = runner.run((tools.cibadmin, "--query"), timeout=timeout)
    if not live.ok:
        raise SimulationError(f"cibadmin --query: {live.stderr_tail(200)}")
    missing = [cid for cid in constraint_ids if cid not in _location_ids(live.stdout)]
    if missing:
        raise SimulationError(f"not in the live CIB: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="cfha-simulate-") as tmp:
        copy = Path(tmp) / "cib.xml"
        copy.write_bytes(live.stdout)
        for cid in constraint_ids:
            argv = (tools.cibadmin, "--delete", "--xpath", location_constraint_xpath(cid))
            deleted = runner.run(argv, timeout=timeout, env={"CIB_file": str(copy)})
            if not deleted.ok:
                raise SimulationError(f"deleting {cid} from a copy: {deleted.stderr_tail(200)}")
        left = [cid for cid in constraint_ids if cid in _location_ids(copy.read_bytes())]
        if left:
            raise SimulationError(f"still in the copy after deletion: {', '.join(left)}")
        simulate = (tools.crm_simulate, "--simulate", "--xml-file", str(copy), "--output-as=xml")
        simulated = runner.run(simulate, timeout=timeout)
    if not simulated.ok:
        detail = simulated.stderr_tail(200) or f"exit {simulated.returncode}"
        raise SimulationError(f"crm_simulate failed: {detail}")
    return parse_actions(simulated.stdout)


def _location_ids(cib_xml: bytes) -> set[str]:
    return {c.id for c in parse_cib(cib_xml).locations}
