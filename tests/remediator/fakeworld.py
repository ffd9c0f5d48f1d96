"""A simulated two-hub cluster for tests that must not touch a real one.

FAKE, and why: these tests exercise the remediator's decisions (auth, dedupe, limits, circuit,
kill switch, locking between hubs, the order of steps) thousands of times, including with
hypothesis; the real cluster is the lab (tests marked `lab`). The world keeps one cluster state
that both fake hubs read, and its fake runner changes that state the way the real tools would
(cleanup restarts the standby, the hold stops it, `cibadmin --delete` removes a constraint),
so verification steps really depend on what the plan did. Every command is recorded with its argv
and the hub it ran on; nothing is ever executed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from clusterstate.tools import CommandResult
from remediator.cluster import (
    ClusterSnapshot,
    FailCount,
    LocalHost,
    LocationConstraint,
    LockState,
    PgView,
    ResourceFailure,
    SnapshotError,
)
from remediator.lock import LockOutcome, holder_value
from remediator.services import Services

from .snapshots import NOW, healthy

SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox"}


class FakeClock:
    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.mono = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


@dataclass(frozen=True)
class Call:
    node: str
    argv: tuple[str, ...]
    timeout: float
    env: dict[str, str] | None


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    base: ClusterSnapshot = field(default_factory=lambda: healthy("hub2"))
    local: dict[str, tuple[PgView | None, LocalHost | None]] = field(default_factory=dict)
    lock: LockState = field(default_factory=LockState)
    calls: list[Call] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)
    """Command name (e.g. 'pg_rewind', 'crm_resource') -> exit code it returns."""
    cause_present: set[str] = field(default_factory=set)
    """Nodes where a cleanup does not stick (the failure comes back)."""
    on_call: Callable[[Call], None] | None = None
    readable: bool = True
    simulated: list[tuple[str, str, str]] = field(
        default_factory=lambda: [("start", "cfpgsql:1", "hub2")]
    )
    """What crm_simulate says pacemaker would do: (action, resource, node)."""

    def __post_init__(self) -> None:
        for node in ("hub1", "hub2"):
            view = healthy(node, self.base.taken_at)
            self.local.setdefault(node, (view.pg_local, view.host))

    # -- what each hub sees ----------------------------------------------------------------------
    def snapshot(self, node: str) -> ClusterSnapshot:
        pg_local, host = self.local[node]
        return replace(
            self.base,
            taken_at=self.clock.time(),
            local_node=node,
            pg_local=pg_local,
            host=host,
            lock=self.lock,
        )

    def set(self, snapshot: ClusterSnapshot) -> None:
        """Adopt a (hand-made) snapshot, including its local facts for its own node."""
        self.base = snapshot
        self.local[snapshot.local_node] = (snapshot.pg_local, snapshot.host)

    def commands(self, node: str | None = None) -> list[tuple[str, ...]]:
        return [c.argv for c in self.calls if node is None or c.node == node]

    def services(self, node: str) -> Services:
        return Services(
            runner=FakeRunner(self, node),
            reader=FakeReader(self, node),
            lock=MemoryLock(self, node),
            clock=self.clock,
        )

    def simulation_xml(self) -> bytes:
        actions = "".join(
            f'<rsc_action action="{a}" resource="{r}" node="{n}"/>' for a, r, n in self.simulated
        )
        return (
            f'<pacemaker-result api-version="2.25"><actions>{actions}</actions>'
            '<status code="0" message="OK"/></pacemaker-result>'
        ).encode()

    def changes(self, node: str | None = None) -> list[tuple[str, ...]]:
        """Commands that change the cluster (not the reads and simulations on copies)."""
        return [
            c.argv
            for c in self.calls
            if (node is None or c.node == node)
            and c.argv[0] != "crm_simulate"
            and c.argv[:2] != ("cibadmin", "--query")
            and not (c.env and "CIB_file" in c.env)
        ]

    # -- effects of commands ---------------------------------------------------------------------
    def apply(self, call: Call) -> int:
        argv = call.argv
        program = next(
            (os.path.basename(a) for a in argv if os.path.basename(a) in _PROGRAMS), argv[0]
        )
        if program in self.failing:
            return self.failing[program]
        if argv[:2] == ("crm_resource", "--cleanup"):
            self._cleanup(argv[argv.index("--resource") + 1], argv[argv.index("--node") + 1])
        elif argv[:2] == ("cibadmin", "--modify") and "--xml-text" in argv:
            self._hold(argv[argv.index("--xml-text") + 1])
        elif argv[:2] == ("cibadmin", "--delete"):
            found = re.search(r"@id='([^']+)'", argv[-1])
            if found:
                self._drop_constraint(found.group(1))
        elif program == "rm" and argv[-1].endswith("/PGSQL.lock"):
            pg, host = self.local[call.node]
            self.local[call.node] = (pg, replace(host, pgsql_lock_present=False) if host else None)
        elif program == "mv" and argv[-1] == (self.base.pgsql.pgdata if self.base.pgsql else ""):
            pg, host = self.local[call.node]
            self.local[call.node] = (pg, replace(host, pgdata_has_version=True) if host else None)
        return 0

    def _drop_constraint(self, cid: str) -> None:
        self.base = replace(
            self.base, constraints=tuple(c for c in self.base.constraints if c.id != cid)
        )

    def _set_pgsql(self, node: str, running: bool) -> None:
        s = self.base
        resources = []
        for r in s.resources:
            active = set(r.active_nodes) | {node} if running else set(r.active_nodes) - {node}
            resources.append(
                replace(r, active_nodes=tuple(sorted(active))) if r.id == "cfpgsql" else r
            )
        status = "HS:sync" if running else "STOP"
        attrs = {
            **s.node_attributes,
            node: {**s.node_attributes.get(node, {}), "cfpgsql-status": status},
        }
        primary = s.pg_primary
        if primary is not None:
            streaming = (
                set(primary.streaming_to) | {node}
                if running
                else set(primary.streaming_to) - {node}
            )
            primary = replace(primary, streaming_to=tuple(sorted(streaming)))
        self.base = replace(
            s, resources=tuple(resources), node_attributes=attrs, pg_primary=primary
        )
        _, host = self.local[node]
        view = (
            PgView(True, in_recovery=True, timeline=1, received_timeline=1)
            if running
            else (PgView(False, error="connection refused"))
        )
        self.local[node] = (view, replace(host, postmaster_running=running) if host else None)

    def _cleanup(self, rsc: str, node: str) -> None:
        s = self.base
        self.base = replace(
            s,
            failures=tuple(f for f in s.failures if not (f.resource == rsc and f.node == node)),
            fail_counts=tuple(
                c for c in s.fail_counts if not (c.resource == rsc and c.node == node)
            ),
        )
        held = any(c.id.startswith("cfha-hold-") and c.node == node for c in self.base.constraints)
        if node in self.cause_present:
            self.base = replace(
                self.base,
                failures=(ResourceFailure(rsc, node, "start", "failed again", self.clock.time()),),
                fail_counts=(FailCount(rsc, node, float("inf"), 1),),
            )
        elif rsc == "cfpgsql" and not held:
            self._set_pgsql(node, running=True)

    def _hold(self, xml: str) -> None:
        cid = re.search(r'id="([^"]+)"', xml)
        rsc = re.search(r'rsc="([^"]+)"', xml)
        node = re.search(r'attribute="#uname" operation="eq" value="([^"]+)"', xml)
        end = re.search(r'end="([^"]+)"', xml)
        assert cid and rsc and node and end
        self._drop_constraint(cid.group(1))
        constraint = LocationConstraint(cid.group(1), rsc.group(1), node.group(1), "-INFINITY")
        self.base = replace(self.base, constraints=(*self.base.constraints, constraint))
        self._set_pgsql(node.group(1), running=False)


_PROGRAMS = {"crm_resource", "cibadmin", "pg_rewind", "pg_basebackup", "mv", "rm", "cp", "install"}


class FakeRunner:
    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Any = None,
        input_bytes: bytes | None = None,
    ) -> CommandResult:
        assert isinstance(argv, tuple | list), "argv must be a list, never a command line"
        assert all(isinstance(a, str) for a in argv)
        assert os.path.basename(argv[0]) not in SHELLS, f"a shell was asked to run: {argv}"
        call = Call(self.node, tuple(argv), timeout, dict(env) if env else None)
        self.world.calls.append(call)
        if self.world.on_call:
            self.world.on_call(call)
        if env and "CIB_file" in env:
            return CommandResult(tuple(argv), 0, b"", b"", 0.01)  # a change to a copy
        if argv[0] == "crm_simulate":
            return CommandResult(tuple(argv), 0, self.world.simulation_xml(), b"", 0.01)
        if tuple(argv[:2]) == ("cibadmin", "--query"):
            return CommandResult(tuple(argv), 0, b"<cib/>", b"", 0.01)
        rc = self.world.apply(call)
        return CommandResult(tuple(argv), rc, b"", b"" if rc == 0 else b"simulated failure", 0.01)


class FakeReader:
    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node

    def snapshot(self) -> ClusterSnapshot:
        if not self.world.readable:
            raise SnapshotError("crm_mon: connection refused")
        return self.world.snapshot(self.node)


class MemoryLock:
    """The CIB lock's semantics over the world's shared state (the real one: tests/test_lock)."""

    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node

    def read(self) -> LockState:
        return self.world.lock

    def acquire(self, job_id: str, now: float, ttl: float) -> LockOutcome:
        held = self.world.lock
        if held.held and held.job_id != job_id and (held.expires is None or held.expires >= now):
            return LockOutcome(False, held, f"held by {held.owner_node} ({held.job_id})")
        raw = holder_value(self.node, job_id, now, now + ttl)
        self.world.lock = LockState(self.node, job_id, float(int(now + ttl)), raw)
        return LockOutcome(True, self.world.lock, "acquired")

    def release(self, job_id: str) -> bool:
        if self.world.lock.job_id == job_id and self.world.lock.owner_node == self.node:
            self.world.lock = LockState()
        return not self.world.lock.held
