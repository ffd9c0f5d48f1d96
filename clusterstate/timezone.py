"""The one time-zone rule: the zone pacemaker's tools print their local times in.

crm_mon and cibadmin print ctime() local times without a zone (`last-rc-change`, the last
configuration change). Both services read them through `local_zone`, and pass the configured zone
to the tools as `TZ` (`tool_env`), so a saved CIB from another hub's zone reads correctly.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)


def local_zone(tz: str | None = None) -> tzinfo:
    """The zone of ``tz`` (default ``$TZ``) as an IANA name or a zone file, else
    /etc/localtime's, else UTC.

    A real zone, not today's UTC offset: a July timestamp read in November needs July's offset.
    A POSIX rule string (``CET-1CEST,...``) cannot be read here; it logs and falls back.
    """
    text = os.environ.get("TZ") if tz is None else tz
    if text:
        name = text.removeprefix(":")
        try:
            if name.startswith("/"):
                with open(name, "rb") as zone_file:
                    return ZoneInfo.from_file(zone_file, key=name)
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            log.warning("TZ=%r is not a time zone cfha can read; using /etc/localtime", text)
    try:
        with open("/etc/localtime", "rb") as zone_file:
            return ZoneInfo.from_file(zone_file, key="localtime")
    except (OSError, ValueError):
        return UTC


def valid_zone_name(value: str) -> str:
    """For configuration validators: ``value`` if it names a zone this rule can read."""
    try:
        if value.removeprefix(":").startswith("/"):
            with open(value.removeprefix(":"), "rb") as zone_file:
                ZoneInfo.from_file(zone_file)
        else:
            ZoneInfo(value.removeprefix(":"))
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def tool_env(tz: str | None) -> dict[str, str] | None:
    """The environment addition that makes the tools print in the configured zone."""
    return {"TZ": tz} if tz else None
