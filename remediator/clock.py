"""Time, behind an interface so tests can move it (cooldowns, windows, deadlines)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock Unix time (what the journal records and the CIB lock compares)."""
        ...

    def monotonic(self) -> float:
        """For deadlines."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
