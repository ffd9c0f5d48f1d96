"""Waiting for a lab state: read the lab's status until a check finds nothing missing."""

from __future__ import annotations

from collections.abc import Callable

from lab.errors import LabError
from lab.nodes import LabNodes
from lab.polling import poll
from lab.status import LabStatus, gather

POLL_INTERVAL_S = 0.3
Check = Callable[[LabStatus], list[str]]


class NotSettledError(LabError):
    """The state waited for did not appear in time; `last` is the last status read."""

    def __init__(self, message: str, last: LabStatus | None) -> None:
        super().__init__(message)
        self.last = last


class LabNotHealthyError(NotSettledError):
    """The lab did not become healthy in time."""


def wait_for(
    nodes: LabNodes,
    check: Check,
    what: str,
    timeout: float,
    *,
    error: type[NotSettledError] = NotSettledError,
) -> LabStatus:
    """Poll the lab until `check` finds nothing missing; raise `error` with what still was."""
    last: list[tuple[LabStatus, list[str]]] = []

    def settled() -> LabStatus | None:
        current = gather(nodes)
        last[:] = [(current, check(current))]
        return None if last[0][1] else current

    def not_settled(_: str) -> NotSettledError:
        current, missing = last[0] if last else (None, ["no status read"])
        return error(f"{what}: not reached after {timeout:.0f}s: {'; '.join(missing)}", current)

    found = poll(
        settled,
        timeout=timeout,
        what=what,
        interval=POLL_INTERVAL_S,
        done=lambda status: status is not None,
        retry_on=(),
        error=not_settled,
    )
    assert found is not None
    return found


def wait_healthy(nodes: LabNodes, timeout: float) -> LabStatus:
    return wait_for(
        nodes,
        lambda s: list(s.problems),
        f"lab {nodes.lab_id} healthy",
        timeout,
        error=LabNotHealthyError,
    )


def promoted_node(nodes: LabNodes) -> str:
    """The node pacemaker has promoted now (raises if there is not exactly one)."""
    found = gather(nodes).primary
    if found is None:
        raise LabError(f"lab {nodes.lab_id}: no single promoted node")
    return found
