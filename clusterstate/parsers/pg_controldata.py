"""`pg_controldata` output (LANG=C), parsed: what the control file says about a data directory.

The remediator runs pg_controldata before it rewinds; the diagnosis reads it for a standby that
is not running: whether its data directory is intact, whether it last ran as a primary, and on
which timeline. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

RECOVERY_STATES = ("shut down in recovery", "in archive recovery", "in crash recovery")
"""States of a server that last ran as a standby (or was recovering): it wrote no WAL of its own."""
PRIMARY_STATES = ("shut down", "in production")
"""States of a server that last ran as a primary: it may hold WAL no other server has."""


class ControlDataError(ValueError):
    """The output is not pg_controldata's."""


@dataclass(frozen=True, slots=True)
class ControlData:
    system_identifier: str
    cluster_state: str
    """`Database cluster state`: e.g. "shut down in recovery", "in production"."""
    timeline: int | None
    """`Latest checkpoint's TimeLineID`."""
    checkpoint_location: str | None

    @property
    def last_ran_as_primary(self) -> bool:
        return self.cluster_state in PRIMARY_STATES

    @property
    def last_ran_as_standby(self) -> bool:
        return self.cluster_state in RECOVERY_STATES


def parse_controldata(text: str) -> ControlData:
    """Parse pg_controldata's `Name: value` lines; raises ControlDataError without the
    system identifier and the cluster state."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip(), value.strip())
    system_id = fields.get("Database system identifier")
    state = fields.get("Database cluster state")
    if not system_id or not state:
        raise ControlDataError("not pg_controldata output: no system identifier or cluster state")
    timeline = fields.get("Latest checkpoint's TimeLineID", "")
    return ControlData(
        system_identifier=system_id,
        cluster_state=state,
        timeline=int(timeline) if timeline.isdigit() else None,
        checkpoint_location=fields.get("Latest checkpoint location"),
    )
