"""The side effects the remediator depends on, in one place, so tests can replace each of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from clusterstate.model import ClusterState
from clusterstate.pacemaker_state import LockState
from clusterstate.tools import CommandRunner
from remediator.clock import Clock, SystemClock
from remediator.lock import LockOutcome


class ClusterReader(Protocol):
    def read(self) -> ClusterState:
        """Read the whole cluster now (`clusterstate.read`). Raises ReadError if pacemaker
        cannot be read; every other unreadable fact is None in the state."""
        ...


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
