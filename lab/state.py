"""The lab's state file: everything needed to inspect or stop a lab from another process.

`lab up` writes it step by step *before* each thing it creates, so `lab down` can always clean
up, even after a half-failed start. Updates are serialised with a lock file and written
atomically (rename).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.procs import ProcRef

STATE_VERSION = 1


class StateError(RuntimeError):
    """The state file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class NodeProcesses:
    """The processes the lab started for one node, as recorded in the state file."""

    holder: ProcRef | None = None  # the process that owns the node's namespaces
    netns_inode: int | None = None
    corosync: ProcRef | None = None
    pacemakerd: ProcRef | None = None


@dataclass(frozen=True)
class Tracked:
    """A long-running process started by `spawn` or `forward`; stopped by `down`."""

    kind: str  # "spawn" | "forward"
    node: str
    proc: ProcRef
    argv: tuple[str, ...] = ()
    log: str = ""
    port: int | None = None  # forward: the port inside the node
    target_host: str | None = None  # forward: the address it connects to inside the node
    local_port: int | None = None  # forward: the port on 127.0.0.1


@dataclass(frozen=True)
class LabState:
    lab_id: int
    root: str
    phase: str  # "claimed" | "starting" | "up" | "stopping"
    owner_pid: int
    nodes: dict[str, NodeProcesses] = field(default_factory=dict)
    tracked: tuple[Tracked, ...] = ()
    seed_hosts: int = 0
    seed_now: str = ""  # ISO timestamp the cfdb seed used as "now"
    seed_rng: int = 0
    time_to_healthy_s: float | None = None
    # The PostgreSQL major its hubs run (lab.pglayout), chosen at `up`; a state written before
    # labs could run another major is a 15 lab.
    pg_major: int = 15
    pg_version: str = ""  # as `postgres --version` said at `up`, e.g. "18.6"

    def node(self, name: str) -> NodeProcesses:
        return self.nodes.get(name, NodeProcesses())

    def with_node(self, name: str, **changes: Any) -> LabState:
        nodes = dict(self.nodes)
        nodes[name] = replace(self.node(name), **changes)
        return replace(self, nodes=nodes)


def _ref(data: Any) -> ProcRef | None:
    return None if data is None else ProcRef.from_json(data)


def _ref_json(ref: ProcRef | None) -> dict[str, int] | None:
    return None if ref is None else ref.to_json()


def to_json(state: LabState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "lab_id": state.lab_id,
        "root": state.root,
        "phase": state.phase,
        "owner_pid": state.owner_pid,
        "nodes": {
            name: {
                "holder": _ref_json(n.holder),
                "netns_inode": n.netns_inode,
                "corosync": _ref_json(n.corosync),
                "pacemakerd": _ref_json(n.pacemakerd),
            }
            for name, n in state.nodes.items()
        },
        "tracked": [
            {
                "kind": t.kind,
                "node": t.node,
                "proc": t.proc.to_json(),
                "argv": list(t.argv),
                "log": t.log,
                "port": t.port,
                "target_host": t.target_host,
                "local_port": t.local_port,
            }
            for t in state.tracked
        ],
        "seed": {"hosts": state.seed_hosts, "now": state.seed_now, "rng": state.seed_rng},
        "time_to_healthy_s": state.time_to_healthy_s,
        "postgres": {"major": state.pg_major, "version": state.pg_version},
    }


def from_json(data: Any) -> LabState:
    try:
        if data.get("version") != STATE_VERSION:
            raise StateError(f"unsupported state version {data.get('version')!r}")
        nodes = {
            name: NodeProcesses(
                holder=_ref(n.get("holder")),
                netns_inode=n.get("netns_inode"),
                corosync=_ref(n.get("corosync")),
                pacemakerd=_ref(n.get("pacemakerd")),
            )
            for name, n in data["nodes"].items()
        }
        tracked = tuple(
            Tracked(
                kind=t["kind"],
                node=t["node"],
                proc=ProcRef.from_json(t["proc"]),
                argv=tuple(t.get("argv", ())),
                log=t.get("log", ""),
                port=t.get("port"),
                target_host=t.get("target_host"),
                local_port=t.get("local_port"),
            )
            for t in data.get("tracked", [])
        )
        seed = data.get("seed", {})
        pg = data.get("postgres", {})
        return LabState(
            lab_id=int(data["lab_id"]),
            root=str(data["root"]),
            phase=str(data["phase"]),
            owner_pid=int(data["owner_pid"]),
            nodes=nodes,
            tracked=tracked,
            seed_hosts=int(seed.get("hosts", 0)),
            seed_now=str(seed.get("now", "")),
            seed_rng=int(seed.get("rng", 0)),
            time_to_healthy_s=data.get("time_to_healthy_s"),
            pg_major=int(pg.get("major", 15)),
            pg_version=str(pg.get("version", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise StateError(f"malformed lab state: {err}") from err


class StateStore:
    """Reads and writes one lab's state file under an exclusive lock."""

    def __init__(self, state_file: Path, lock_file: Path) -> None:
        self.state_file = state_file
        self.lock_file = lock_file

    def exists(self) -> bool:
        return self.state_file.exists()

    def load(self) -> LabState:
        try:
            raw = self.state_file.read_text()
        except FileNotFoundError as err:
            raise StateError(f"no lab state at {self.state_file}") from err
        try:
            return from_json(json.loads(raw))
        except json.JSONDecodeError as err:
            raise StateError(f"{self.state_file}: {err}") from err

    def save(self, state: LabState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(to_json(state), indent=2) + "\n")
        os.replace(tmp, self.state_file)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(self, change: Callable[[LabState], LabState]) -> LabState:
        """Apply `change(state) -> state` under the lock and save the result."""
        with self.locked():
            state = change(self.load())
            self.save(state)
            return state
