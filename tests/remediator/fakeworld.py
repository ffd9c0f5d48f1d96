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
from pathlib import Path
from typing import Any

from lxml import etree

from clusterstate.diagnosis import Diagnosis, DiagnosisInputs, diagnose
from clusterstate.errors import ReadError
from clusterstate.handshake import Handshake
from clusterstate.host import DataDir, PgsqlLock
from clusterstate.model import ClusterState
from clusterstate.pacemaker_state import LockState
from clusterstate.parsers.pcmk_values import score_text
from clusterstate.parsers.pg_controldata import ControlData
from clusterstate.parsers.pg_messages import Cause, Clue
from clusterstate.parsers.pgsql_ra import PgsqlStatus
from clusterstate.postgres import PgFacts, StandbyLink
from clusterstate.tools import CommandResult
from lab.offline.clusterstates import (
    failure,
    history,
    location,
    pg_down,
    pg_standby,
    with_pacemaker,
)
from remediator.lock import LockOutcome, holder_value
from remediator.services import Services

from .snapshots import NOW, healthy

SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox"}
SYSTEM_ID = "7716183412321539998"
STOPPED_STANDBY = ControlData(SYSTEM_ID, "shut down in recovery", 1, "0/3000000")
ANSWERED = Handshake(True, "postgres@10.250.0.100:5432", SYSTEM_ID, 1, "0/3000000")
# A walreceiver line as PostgreSQL 15 writes it (tests/fixtures/pg_messages/pg15).
DIVERGED = Clue(
    Cause.TIMELINE_DIVERGED,
    "FATAL: could not start WAL streaming: ERROR: requested starting point 0/4000000 on "
    "timeline 1 is not in this server's history DETAIL: This server's history forked from "
    "timeline 1 at 0/3000000.",
)


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


@dataclass(frozen=True)
class LocalFacts:
    """What only a hub itself can read: its own PostgreSQL and files."""

    postgres: PgFacts | None
    data_dir: DataDir | None
    pgsql_lock: PgsqlLock | None

    @classmethod
    def of(cls, s: ClusterState) -> LocalFacts:
        return cls(s.postgres, s.data_dir, s.pgsql_lock)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    base: ClusterState = field(default_factory=lambda: healthy("hub2"))
    local: dict[str, LocalFacts] = field(default_factory=dict)
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
    log_clues: dict[str, Clue] = field(default_factory=dict)
    """Per hub: the newest cause-naming line of its server log (none by default)."""
    handshake: Handshake = ANSWERED
    """What the primary answers a hub's replication handshake."""
    reads: int = 0
    on_read: Callable[[int], None] | None = None
    """Called with the number of the read before each snapshot a hub reads."""

    def __post_init__(self) -> None:
        for node in ("hub1", "hub2"):
            self.local.setdefault(node, LocalFacts.of(healthy(node, self.base.taken_at)))

    # -- what each hub sees ----------------------------------------------------------------------
    def snapshot(self, node: str) -> ClusterState:
        local = self.local[node]
        pacemaker = replace(
            self.base.pacemaker, local_node=node, local_is_dc=self.base.pacemaker.dc == node
        )
        return replace(
            self.base,
            taken_at=self.clock.time(),
            local_node=node,
            pacemaker=replace(pacemaker, lock=self.lock),
            postgres=local.postgres,
            data_dir=local.data_dir,
            pgsql_lock=local.pgsql_lock,
            diagnosis=self.diagnosis(node, local),
        )

    def diagnosis(self, node: str, local: LocalFacts) -> Diagnosis | None:
        """The real decision (`clusterstate.diagnosis`) over this hub's fake sources."""
        database = self.base.pacemaker.database
        running = local.postgres is not None and local.postgres.up
        return diagnose(
            DiagnosisInputs(
                node,
                database.promoted_nodes if database else None,
                local.postgres,
                local.data_dir,
                controldata=None if running else STOPPED_STANDBY,
                log_clue=self.log_clues.get(node),
                handshake=self.handshake,
            )
        )

    def diverge(self, node: str = "hub2") -> None:
        """The standby's history forked from the primary's: what a re-sync cures."""
        self.log_clues[node] = DIVERGED

    def set(self, snapshot: ClusterState) -> None:
        """Adopt a (hand-made) snapshot, including its local facts for its own node."""
        self.base = snapshot
        self.local[snapshot.local_node] = LocalFacts.of(snapshot)

    def update_local(self, node: str, **changes: object) -> None:
        """Change a hub's own facts: `data_dir` / `pgsql_lock` fields, or `postgres`."""
        local = self.local[node]
        data = {k: v for k, v in changes.items() if k in DataDir.__dataclass_fields__}
        lock = changes.get("pgsql_lock_present", "unchanged")
        self.local[node] = LocalFacts(
            changes.get("postgres", local.postgres),  # type: ignore[arg-type]
            replace(local.data_dir, **data) if local.data_dir and data else local.data_dir,  # type: ignore[arg-type]
            replace(local.pgsql_lock, present=lock)  # type: ignore[arg-type]
            if local.pgsql_lock and lock != "unchanged"
            else local.pgsql_lock,
        )

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

    def cib_xml(self) -> bytes:
        """The CIB as cibadmin would print it: enough for the location constraints."""
        cib = etree.Element("cib")
        configuration = etree.SubElement(cib, "configuration")
        for section in ("crm_config", "nodes", "resources"):
            etree.SubElement(configuration, section)
        constraints = etree.SubElement(configuration, "constraints")
        for c in self.base.pacemaker.location_constraints:
            etree.SubElement(
                constraints, "rsc_location", id=c.id, rsc=c.resource or "",
                node=c.node or "", score=score_text(c.score),
            )  # fmt: skip
        return etree.tostring(cib)

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
            self.update_local(call.node, pgsql_lock_present=False)
        elif program == "mv" and argv[-1] == (
            pgsql.pgdata if (pgsql := self.base.pacemaker.pgsql) else ""
        ):
            self.update_local(call.node, has_version=True)
        return 0

    def _drop_constraint(self, cid: str) -> None:
        constraints = self.base.pacemaker.location_constraints
        self.base = with_pacemaker(
            self.base, location_constraints=tuple(c for c in constraints if c.id != cid)
        )

    def _set_pgsql(self, node: str, running: bool) -> None:
        p = self.base.pacemaker
        assert p.database is not None
        active = set(p.database.active_nodes)
        active = active | {node} if running else active - {node}
        database = replace(p.database, active_nodes=tuple(sorted(active)))
        status = PgsqlStatus.HS_SYNC if running else PgsqlStatus.STOP
        views = tuple(replace(v, status=status) if v.node == node else v for v in p.agent_views)
        primary = self.base.primary
        if primary is not None:
            others = tuple(x for x in primary.standbys if x.name != node)
            streaming = (*others, *pg_primary_link(node)) if running else others
            primary = replace(primary, standbys=streaming)
        resources = tuple(database if r.primitive == "cfpgsql" else r for r in p.resources)
        self.base = replace(
            with_pacemaker(self.base, database=database, resources=resources, agent_views=views),
            primary=primary,
        )
        self.update_local(
            node,
            postgres=pg_standby() if running else pg_down(),
            postmaster_running=running,
        )

    def _cleanup(self, rsc: str, node: str) -> None:
        p = self.base.pacemaker
        self.base = with_pacemaker(
            self.base,
            failed_actions=tuple(
                f for f in p.failed_actions if not (f.resource_id == rsc and f.node == node)
            ),
            history=tuple(h for h in p.history if not (h.resource_id == rsc and h.node == node)),
        )
        held = any(
            c.id.startswith("cfha-hold-") and c.node == node
            for c in self.base.pacemaker.location_constraints
        )
        if node in self.cause_present:
            self.base = with_pacemaker(
                self.base,
                failed_actions=(failure(rsc, node, "start", "failed again", self.clock.time()),),
                history=(history(rsc, node, float("inf"), 1),),
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
        constraint = location(cid.group(1), resource=rsc.group(1), on=node.group(1))
        constraints = (*self.base.pacemaker.location_constraints, constraint)
        self.base = with_pacemaker(self.base, location_constraints=constraints)
        self._set_pgsql(node.group(1), running=False)


def delete_on_copy(cib: Path, argv: Sequence[str]) -> None:
    """`cibadmin --delete --xpath //constraints/rsc_location[@id='X']` on a copy of the CIB."""
    found = re.search(r"@id='([^']+)'", argv[-1]) if "--delete" in argv else None
    if found is None or not cib.exists():
        return
    tree = etree.parse(str(cib))
    for element in tree.iterfind(f".//rsc_location[@id='{found.group(1)}']"):
        element.getparent().remove(element)  # type: ignore[union-attr]
    tree.write(str(cib))


def pg_primary_link(node: str) -> tuple[StandbyLink, ...]:
    return (StandbyLink(node, "streaming", "async"),)


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
            delete_on_copy(Path(env["CIB_file"]), argv)  # a change to a copy, as cibadmin would
            return CommandResult(tuple(argv), 0, b"", b"", 0.01)
        if argv[0] == "crm_simulate":
            return CommandResult(tuple(argv), 0, self.world.simulation_xml(), b"", 0.01)
        if tuple(argv[:2]) == ("cibadmin", "--query"):
            return CommandResult(tuple(argv), 0, self.world.cib_xml(), b"", 0.01)
        rc = self.world.apply(call)
        return CommandResult(tuple(argv), rc, b"", b"" if rc == 0 else b"simulated failure", 0.01)


class FakeReader:
    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node

    def read(self) -> ClusterState:
        if not self.world.readable:
            raise ReadError("unavailable", "crm_mon: connection refused")
        self.world.reads += 1
        if self.world.on_read:
            self.world.on_read(self.world.reads)
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
