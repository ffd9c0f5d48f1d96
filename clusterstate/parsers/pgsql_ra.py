"""The ``ocf:heartbeat:pgsql`` agent's view of replication, decoded from node attributes.

The agent (and CFEngine's fork of it) publishes its state as node attributes named after the
resource (``cfpgsql`` unless configured otherwise): ``<rsc>-status``, ``<rsc>-data-status``,
``<rsc>-receiver-status``, the promotion score ``master-<rsc>``, and the LSNs
``<rsc>-master-baseline`` / ``<rsc>-xlog-loc``. ``decode_pgsql_attributes`` turns them into a
``PgsqlAgentView`` of closed state sets and numbers; it never raises. An attribute that is not
set gives ``None`` (unknown), a value outside the known set gives the ``OTHER`` member.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from clusterstate.parsers.described import DescribedEnum
from clusterstate.parsers.pcmk_values import parse_score

__all__ = [
    "DEFAULT_PGSQL_RESOURCE",
    "DEFAULT_PGSQL_TMPDIR",
    "PgsqlAgentView",
    "PgsqlAttributeNames",
    "PgsqlStatus",
    "ReceiverStatus",
    "ReplicationState",
    "SyncState",
    "decode_pgsql_attributes",
    "parse_pgsql_lsn",
]

DEFAULT_PGSQL_RESOURCE = "cfpgsql"
"""The pgsql primitive of a CFEngine Enterprise HA cluster."""
DEFAULT_PGSQL_TMPDIR = "/var/lib/pgsql/tmp"
"""The agent's default ``tmpdir`` (CFEngine sets ``/var/cfengine/state/pg/tmp``)."""


class PgsqlStatus(DescribedEnum):
    """``<rsc>-status``: what the agent says this node's PostgreSQL is."""

    PRI = "PRI", "Primary: promoted and accepting writes."
    HS_SYNC = "HS:sync", "Hot standby streaming from the primary as its synchronous standby."
    HS_ASYNC = "HS:async", "Hot standby streaming asynchronously from the primary."
    HS_POTENTIAL = "HS:potential", "Hot standby streaming, candidate to become synchronous."
    HS_CONNECTED = "HS:connected", "Hot standby connected to the primary but not streaming."
    HS_ALONE = "HS:alone", "Hot standby that sees no primary (or its data is DISCONNECT)."
    STOP = "STOP", "PostgreSQL is stopped on this node."
    UNKNOWN = "UNKNOWN", "The agent could not tell (e.g. a failed stop)."
    OTHER = "other", "A value this exporter does not know."


class ReplicationState(DescribedEnum):
    """First part of ``<rsc>-data-status``: how current this node's data is."""

    LATEST = "LATEST", "This node is (or last was) the primary: its data is the newest."
    STREAMING = "STREAMING", "Streaming WAL from the primary and caught up."
    CATCHUP = "CATCHUP", "Connected and catching up with the primary."
    STARTUP = "STARTUP", "WAL sender starting up."
    BACKUP = "BACKUP", "A base backup is being sent."
    STOPPING = "STOPPING", "WAL sender stopping."
    DISCONNECT = "DISCONNECT", "Not connected to the primary: this node must not be promoted."
    OTHER = "other", "A value this exporter does not know."


class SyncState(DescribedEnum):
    """Second part of ``<rsc>-data-status`` (pg_stat_replication.sync_state)."""

    SYNC = "SYNC", "Synchronous standby: commits wait for it."
    ASYNC = "ASYNC", "Asynchronous standby."
    POTENTIAL = "POTENTIAL", "Asynchronous now, would become synchronous if the current failed."
    QUORUM = "QUORUM", "Candidate of quorum-based synchronous replication."
    NONE = "none", "No sync state (LATEST or DISCONNECT)."
    OTHER = "other", "A value this exporter does not know."


class ReceiverStatus(DescribedEnum):
    """``<rsc>-receiver-status`` (only with ``check_wal_receiver=true``, as CFEngine sets)."""

    NORMAL = "normal", "The WAL receiver of this standby is running."
    NORMAL_MASTER = "normal (master)", "This node is the primary (no WAL receiver needed)."
    ERROR = "ERROR", "This standby's WAL receiver is not running."
    OTHER = "other", "A value this exporter does not know."


@dataclass(frozen=True, slots=True)
class PgsqlAttributeNames:
    """The node attribute names the agent uses for resource ``resource``."""

    status: str
    data_status: str
    receiver_status: str
    promotion_score: str
    master_baseline: str
    xlog_location: str

    @classmethod
    def for_resource(cls, resource: str) -> PgsqlAttributeNames:
        """Names for the primitive ``resource`` (e.g. ``cfpgsql``)."""
        return cls(
            status=f"{resource}-status",
            data_status=f"{resource}-data-status",
            receiver_status=f"{resource}-receiver-status",
            promotion_score=f"master-{resource}",
            master_baseline=f"{resource}-master-baseline",
            xlog_location=f"{resource}-xlog-loc",
        )


@dataclass(frozen=True, slots=True)
class PgsqlAgentView:
    """The pgsql agent's attributes of one node, decoded. ``None`` = attribute not set."""

    node: str
    resource: str
    status: PgsqlStatus | None
    replication_state: ReplicationState | None
    sync_state: SyncState | None
    receiver_status: ReceiverStatus | None
    promotion_score: float | None
    """``master-<rsc>``: 1000 primary, 100 may be promoted, ``-inf`` must not be promoted."""
    master_baseline_lsn: int | None
    """LSN (bytes) at which this node was promoted; set on the primary."""
    xlog_location_lsn: int | None
    """Newest received/replayed LSN (bytes), published only during a promotion election."""

    @property
    def is_primary(self) -> bool:
        """The agent reports this node as the primary."""
        return self.status is PgsqlStatus.PRI


_LSN_HEX_RE = re.compile(r"[0-9A-Fa-f]{16}")
_LSN_SLASH_RE = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_pgsql_lsn(text: str) -> int | None:
    """An LSN in bytes from the agent's 16-hex-digit form (or PostgreSQL's ``X/Y``)."""
    stripped = text.strip()
    if _LSN_HEX_RE.fullmatch(stripped):
        return int(stripped, 16)
    match = _LSN_SLASH_RE.fullmatch(stripped)
    if match:
        return (int(match.group(1), 16) << 32) | int(match.group(2), 16)
    return None


_E = TypeVar("_E", bound=DescribedEnum)


def _enum_or_other(enum: type[_E], text: str | None, other: _E) -> _E | None:
    if text is None:
        return None
    try:
        return enum(text.strip())
    except ValueError:
        return other


def _split_data_status(text: str | None) -> tuple[ReplicationState | None, SyncState | None]:
    """``STREAMING|ASYNC`` -> (STREAMING, ASYNC); ``LATEST`` -> (LATEST, NONE)."""
    if text is None:
        return None, None
    state, _, sync = text.strip().partition("|")
    replication = _enum_or_other(ReplicationState, state.upper(), ReplicationState.OTHER)
    sync_state = (
        _enum_or_other(SyncState, sync.upper(), SyncState.OTHER) if sync else SyncState.NONE
    )
    return replication, sync_state


def _score(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_score(text)
    except ValueError:
        return None


def decode_pgsql_attributes(
    attributes: Mapping[str, str], *, node: str, resource: str = DEFAULT_PGSQL_RESOURCE
) -> PgsqlAgentView:
    """Decode one node's attributes (crm_mon's node attributes of that node). Never raises."""
    names = PgsqlAttributeNames.for_resource(resource)
    replication, sync = _split_data_status(attributes.get(names.data_status))
    baseline = attributes.get(names.master_baseline)
    xlog = attributes.get(names.xlog_location)
    return PgsqlAgentView(
        node=node,
        resource=resource,
        status=_enum_or_other(PgsqlStatus, attributes.get(names.status), PgsqlStatus.OTHER),
        replication_state=replication,
        sync_state=sync,
        receiver_status=_enum_or_other(
            ReceiverStatus, attributes.get(names.receiver_status), ReceiverStatus.OTHER
        ),
        promotion_score=_score(attributes.get(names.promotion_score)),
        master_baseline_lsn=parse_pgsql_lsn(baseline) if baseline is not None else None,
        xlog_location_lsn=parse_pgsql_lsn(xlog) if xlog is not None else None,
    )
