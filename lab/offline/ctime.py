"""Times as pacemaker writes them with C's ctime() ("Tue Jul 14 10:00:00 2026"): cib-last-written,
and pacemaker 1.1's crm_mon. Standard library only: the pacemaker 1.1 stand-in
(tests/support/pacemaker11.py), which runs under any python3, uses it too."""

from __future__ import annotations

from datetime import datetime, tzinfo

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ctime_text(epoch: float, zone: tzinfo) -> str:
    """``epoch`` as C ``ctime()`` prints it in ``zone``."""
    when = datetime.fromtimestamp(epoch, zone)
    day, month = _DAYS[when.weekday()], _MONTHS[when.month - 1]
    return f"{day} {month} {when.day:2d} {when:%H:%M:%S} {when.year}"
