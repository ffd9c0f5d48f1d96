"""Pacemaker's value syntaxes, shared by the crm_mon and CIB parsers.

Every function here is pure and raises plain ``ValueError`` on bad input; the document parsers
turn that into their own error type. Booleans, scores, durations and timestamps each have more
than one spelling across pacemaker versions and tools, and they are decoded in this one place.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from clusterstate.parsers.described import DescribedEnum

# Pacemaker clamps every score to +/-1000000 and prints INFINITY as that number in crm_mon XML.
PCMK_SCORE_INFINITY = 1_000_000

_BOOLEANS = {
    **dict.fromkeys(("true", "on", "yes", "y", "1"), True),
    **dict.fromkeys(("false", "off", "no", "n", "0"), False),
}
_INT_RE = re.compile(r"[+-]?[0-9]{1,19}")


def parse_bool(text: str) -> bool:
    """Decode a pacemaker boolean (crm_is_true spellings: true/false, yes/no, on/off, y/n, 1/0)."""
    value = _BOOLEANS.get(text)
    if value is None:
        value = _BOOLEANS.get(text.strip().lower())
        if value is None:
            raise ValueError(f"not a boolean: {text!r}")
    return value


def parse_int(text: str) -> int:
    """Decode a decimal integer written by pacemaker (ASCII digits with an optional sign)."""
    if text.isascii() and text.isdigit() and len(text) < 20:
        return int(text)
    stripped = text.strip()
    if _INT_RE.fullmatch(stripped) is None:
        raise ValueError(f"not an integer: {text!r}")
    return int(stripped)


def parse_score(text: str) -> float:
    """Decode a score: an integer or [+-]INFINITY; |score| >= 1000000 is pacemaker's infinity.

    Returned as a float so that INFINITY is ``math.inf`` (never the arbitrary 1000000).
    """
    stripped = text.strip()
    upper = stripped.upper()
    if upper in ("INFINITY", "+INFINITY"):
        return math.inf
    if upper == "-INFINITY":
        return -math.inf
    value = parse_int(stripped)
    if value >= PCMK_SCORE_INFINITY:
        return math.inf
    if value <= -PCMK_SCORE_INFINITY:
        return -math.inf
    return float(value)


def score_text(score: float | None) -> str:
    """A score as pacemaker writes it (``INFINITY``, ``-INFINITY``, ``100``); empty if unset."""
    if score is None:
        return ""
    if math.isinf(score):
        return "INFINITY" if score > 0 else "-INFINITY"
    return f"{score:g}"


def parse_ms(text: str) -> float:
    """Decode a crm_mon duration in milliseconds ("2044ms", or a bare "33") into seconds."""
    value = parse_int(text[:-2] if text.endswith("ms") else text)
    if value < 0:
        raise ValueError(f"negative duration: {text!r}")
    return value / 1000.0


_UNIT_SECONDS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "ms": 0.001,
    "msec": 0.001,
    "us": 1e-6,
    "usec": 1e-6,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
}
_SPEC_RE = re.compile(r"([0-9]{1,12})\s*([a-z]*)")
_ISO_DURATION_RE = re.compile(
    r"P(?:([0-9]{1,6})D)?(?:T(?:([0-9]{1,9})H)?(?:([0-9]{1,9})M)?(?:([0-9]{1,12})S)?)?"
)


def parse_interval_spec(text: str) -> float:
    """Decode a CIB interval/timeout ("10s", "0", "1min", "500ms", "PT10S") into seconds.

    A bare number means seconds, as in pacemaker's crm_parse_interval_spec.
    """
    stripped = text.strip().lower()
    match = _SPEC_RE.fullmatch(stripped)
    if match is not None and match.group(2) in _UNIT_SECONDS:
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    iso = _ISO_DURATION_RE.fullmatch(text.strip().upper())
    if iso is not None and text.strip().upper() not in ("P", "PT"):
        days, hours, minutes, seconds = (int(g) if g else 0 for g in iso.groups())
        return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    raise ValueError(f"not an interval: {text!r}")


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_CTIME_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +([A-Z][a-z]{2}) +([0-9]{1,2}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})"
)
_ISO_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r" ?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _epoch(fields: tuple[int, int, int, int, int, int], micro: int, tz: tzinfo) -> float:
    try:
        when = datetime(*fields, microsecond=micro, tzinfo=tz)
        return when.timestamp()
    except (OverflowError, OSError) as exc:
        raise ValueError(f"time out of range: {fields}") from exc


def parse_ctime(text: str, local_tz: tzinfo) -> float:
    """Decode a ctime()-style "Tue Nov 24 21:40:06 2026" printed in the *local* time of crm_mon.

    ctime() carries no zone, so the zone crm_mon ran in must be given. In the repeated hour of a
    DST change the earlier (summer-time) instant is taken, as ``fold=0`` does: the text alone
    cannot tell the two apart.
    """
    match = _CTIME_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a ctime() timestamp: {text!r}")
    month = _MONTHS.get(match.group(1))
    if month is None:
        raise ValueError(f"unknown month in {text!r}")
    day, hour, minute, second, year = (int(match.group(i)) for i in range(2, 7))
    return _epoch((year, month, day, hour, minute, second), 0, local_tz)


def parse_iso_time(text: str, local_tz: tzinfo) -> float:
    """Decode pacemaker's "2026-11-24 23:05:28 +01:00" / "...28Z" / "...28.088147Z" forms
    (and a bare date, as rules allow).

    A timestamp without an offset is read in ``local_tz`` (crm_time's convention).
    """
    match = _ISO_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}")
    fields = tuple(int(match.group(i) or 0) for i in range(1, 7))
    fraction = match.group(7) or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    offset = match.group(8)
    tz: tzinfo = local_tz
    if offset == "Z":
        tz = UTC
    elif offset is not None:
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"bad UTC offset in {text!r}")
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-delta if offset[0] == "-" else delta)
    year, month, day, hour, minute, second = fields
    return _epoch((year, month, day, hour, minute, second), micro, tz)


def parse_pcmk_time(text: str, local_tz: tzinfo) -> float | None:
    """Decode any timestamp crm_mon prints: ctime(), ISO 8601 with or without zone, or epoch.

    Empty text (pacemaker's regression outputs blank the times) gives ``None``.
    """
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.isascii() and stripped.isdigit():
        return float(parse_int(stripped))
    if stripped[:1].isalpha():
        return parse_ctime(stripped, local_tz)
    return parse_iso_time(stripped, local_tz)


class Role(DescribedEnum):
    """A resource instance's role, normalised across pacemaker versions (Master/Slave renamed)."""

    STOPPED = "stopped", "Not running."
    STARTED = "started", "Running (a resource that is not promotable)."
    UNPROMOTED = "unpromoted", "Running as a secondary of a promotable clone (was 'Slave')."
    PROMOTED = "promoted", "Running as the primary of a promotable clone (was 'Master')."
    STARTING = "starting", "A start action is pending."
    STOPPING = "stopping", "A stop action is pending."
    MIGRATING = "migrating", "A live migration is pending."
    PROMOTING = "promoting", "A promote action is pending."
    DEMOTING = "demoting", "A demote action is pending."
    UNKNOWN = "unknown", "Pacemaker does not know, or printed a role unknown to this parser."


_ROLE_ALIASES = {
    "master": Role.PROMOTED,
    "slave": Role.UNPROMOTED,
    "promoted": Role.PROMOTED,
    "unpromoted": Role.UNPROMOTED,
}


_ROLE_SPELLINGS = {role.value.capitalize(): role for role in Role} | {
    "Master": Role.PROMOTED,
    "Slave": Role.UNPROMOTED,
}


def parse_role(text: str) -> Role:
    """Map any role spelling (Started, Master, Slave, Promoted, "stopped", ...) to a ``Role``."""
    role = _ROLE_SPELLINGS.get(text)  # crm_mon's own capitalised spelling, fast
    if role is not None:
        return role
    lowered = text.strip().lower()
    alias = _ROLE_ALIASES.get(lowered)
    if alias is not None:
        return alias
    try:
        return Role(lowered)
    except ValueError:
        return Role.UNKNOWN


def normalise_agent(text: str) -> str:
    """Write an agent as ``class:provider:type`` ("ocf::heartbeat:X" of pacemaker 2.0 included)."""
    return ":".join(part for part in text.strip().split(":") if part)


CFHA_HOLD_PREFIX = "cfha-hold-"
"""The ids of the remediator's resync holds (``cfha-hold-<clone>-on-<node>``): never ``cli-*``."""


class ConstraintKind(DescribedEnum):
    """Who placed a location constraint, as far as its id tells."""

    CLI_BAN = "cli-ban", "Left by crm_resource --ban / pcs resource ban (or a move away)."
    CLI_PREFER = "cli-prefer", "Left by crm_resource --move / pcs resource move to a node."
    CFHA_HOLD = "cfha-hold", "cfha's remediator keeps PostgreSQL stopped there (a rebuild)."
    CONFIGURED = "configured", "Part of the cluster's own configuration."


def constraint_kind(constraint_id: str) -> ConstraintKind:
    """The kind of a location constraint, from its id (the one rule for both services)."""
    if constraint_id.startswith("cli-ban-"):
        return ConstraintKind.CLI_BAN
    if constraint_id.startswith("cli-prefer-"):
        return ConstraintKind.CLI_PREFER
    if constraint_id.startswith(CFHA_HOLD_PREFIX):
        return ConstraintKind.CFHA_HOLD
    return ConstraintKind.CONFIGURED


def is_cli_constraint(constraint_id: str) -> bool:
    """True for constraints left by ``crm_resource --ban/--move`` or ``pcs resource ban/move``."""
    return constraint_id.startswith(("cli-ban-", "cli-prefer-"))
