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
    if status is not None and status.get("code") not in (None, "0"):
        raise SimulationError(f"crm_simulate failed: {status.get('message')}")
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
    """Would deleting these location constraints only start things? (changes nothing live)"""
    timeout = tools.read_timeout_seconds
    try:
        live = runner.run((tools.cibadmin, "--query"), timeout=timeout)
        if not live.ok:
            return Check(SIMULATION, False, f"cibadmin --query: {live.stderr_tail(200)}")
        with tempfile.TemporaryDirectory(prefix="cfha-simulate-") as tmp:
            copy = Path(tmp) / "cib.xml"
            copy.write_bytes(live.stdout)
            on_copy = {"CIB_file": str(copy)}
            for cid in constraint_ids:
                xpath = location_constraint_xpath(cid)
                runner.run(
                    (tools.cibadmin, "--delete", "--xpath", xpath), timeout=timeout, env=on_copy
                )
            argv = (tools.crm_simulate, "--simulate", "--xml-file", str(copy), "--output-as=xml")
            simulated = runner.run(argv, timeout=timeout)
        actions = parse_actions(simulated.stdout)
    except CommandError as exc:
        return Check(SIMULATION, False, f"{exc.reason}: {exc}")
    except (SimulationError, ValueError) as exc:
        return Check(SIMULATION, False, str(exc))
    unsafe = [a.describe() for a in actions if a.action not in SAFE_ACTIONS]
    if unsafe:
        return Check(SIMULATION, False, f"pacemaker would: {'; '.join(unsafe)}")
    planned = "; ".join(a.describe() for a in actions) or "nothing"
    return Check(SIMULATION, True, f"pacemaker would only: {planned}")
