"""The side effects the remediator depends on, in one place, so tests can replace each of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from clusterstate.tools import CommandRunner
from remediator.clock import Clock, SystemClock
from remediator.cluster import ClusterReader, LockState
from remediator.lock import LockOutcome


class Lock(Protocol):
    def read(self) -> LockState: ...

    def acquire(self, job_id: str, now: float, ttl: float) -> LockOutcome: ...

    def release(self, job_id: str) -> bool: ...


@dataclass(frozen=True)
class Services:
    runner: CommandRunner
    """Every command with a side effect goes through it (argv, timeout, no shell)."""
    reader: ClusterReader
    lock: Lock
    clock: Clock = field(default_factory=SystemClock)
