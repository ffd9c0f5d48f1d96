"""What every collector's settings section accepts (each collector adds its own fields)."""

from __future__ import annotations

from servicekit.settings import Settings, setting


class CollectorSettings(Settings):
    enabled: bool = True
    deadline_seconds: float = setting(
        default=5.0,
        gt=0,
        le=60,
        description="The scrape waits this long for the collector, then reports `timeout`.",
    )
