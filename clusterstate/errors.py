"""Why a part of the cluster could not be read: one error type with one closed set of reasons.

Every reader raises `ReadError` (or a subclass: `tools.CommandError`, `pg.PgError`), so the
exporter can publish the reason and the remediator can refuse with it, without either of them
knowing which tool or query failed.
"""

from __future__ import annotations

from typing import Generic, TypeVar

StateT = TypeVar("StateT")

REASONS: tuple[str, ...] = (
    "timeout",
    "connect",
    "auth",
    "permission",
    "parse",
    "schema",
    "command",
    "unavailable",
    "config",
    "query",
    "internal",
)
REASON_HELP: tuple[str, ...] = (
    "no answer within the deadline (a hung tool or a slow query)",
    "could not connect (service down, wrong address or socket)",
    "authentication was refused",
    "not allowed to read a file, socket, table or run a tool",
    "output could not be parsed (garbled or unexpected format)",
    "an expected table, column or function is missing (version or schema drift)",
    "a tool ran but exited with an error",
    "the thing to observe is not there (tool not installed, cluster not running on this node)",
    "the configuration is invalid",
    "a query failed for another reason",
    "a bug in cfha: see its log",
)


class ReadError(Exception):
    """A part of the cluster could not be read. `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown read failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason


class Unreadable(ReadError, Generic[StateT]):
    """A source could not be read (fully); `state` is what is known of it (down, or partial),
    which the exporter publishes and the remediator treats as unknown."""

    def __init__(self, reason: str, message: str, state: StateT) -> None:
        super().__init__(reason, message)
        self.state = state
