"""Stopping a lab: `down` and the check that nothing is left behind.

`down` reads the state file and undoes everything, in order: tracked processes (spawned,
forwarders), pacemakerd (it stops its resources), corosync, then every other process left in the
nodes' network namespaces, then the directory. Mounts, links and namespaces need no explicit
cleanup: they belong to the nodes' namespaces and vanish with their last process.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lab.config import LabConfig
from lab.procs import (
    ProcRef,
    is_alive,
    is_host_netns,
    netns_inode,
    pids_in_netns,
    start_time,
    terminate,
)
from lab.state import LabState, NodeProcesses, StateError, StateStore

log = logging.getLogger("lab")
PACEMAKER_STOP_TIMEOUT_S = 60.0
# A cluster that never finished starting can sit in its election for a long time after SIGTERM;
# its data is thrown away anyway, so it gets a short grace before SIGKILL.
PACEMAKER_STOP_TIMEOUT_STARTING_S = 5.0
KILL_SWEEPS = 5


@dataclass(frozen=True)
class DownReport:
    existed: bool
    killed: tuple[int, ...] = ()  # PIDs that had to be killed after the orderly stop
    seconds: float = 0.0
    # What the lab had, to check that none of it is left (see `leftovers`).
    processes: tuple[ProcRef, ...] = ()
    netns_inodes: tuple[int, ...] = ()
    root: str = ""
    links: tuple[str, ...] = ()


def leftovers(report: DownReport) -> list[str]:
    """Anything of a stopped lab still present on the machine; empty when nothing is."""
    found = [f"process {r.pid} still running" for r in report.processes if is_alive(r)]
    for inode in report.netns_inodes:
        if is_host_netns(inode):
            continue
        found += [f"process {r.pid} still in netns {inode}" for r in pids_in_netns(inode)]
    if report.root and Path(report.root).exists():
        found.append(f"directory {report.root} still exists")
    mounts = Path("/proc/mounts").read_text()
    if report.root and report.root in mounts:
        found.append(f"a mount under {report.root} is still in /proc/mounts")
    links = Path("/proc/net/dev").read_text()  # the links of our (the host's) namespace
    found += [f"host link {name}" for name in report.links if f"{name}:" in links]
    return found


def _all_node_processes(state: LabState) -> list[ProcRef]:
    refs: list[ProcRef] = []
    for node_state in state.nodes.values():
        if node_state.netns_inode and not is_host_netns(node_state.netns_inode):
            refs += pids_in_netns(node_state.netns_inode)
        if node_state.holder and is_alive(node_state.holder):
            refs.append(node_state.holder)
    return list(dict.fromkeys(refs))


def _kill_what_is_left(state: LabState, killed: list[int]) -> list[ProcRef]:
    """SIGKILL everything still in the nodes, sweeping again while anything is: a parent killed
    after its child (pacemakerd, a lost state file's unknown order) may have respawned it."""
    found: list[ProcRef] = []
    for _ in range(KILL_SWEEPS):
        alive = [r for r in _all_node_processes(state) if is_alive(r)]
        if not alive:
            break
        killed += [r.pid for r in alive if r.pid not in killed]
        found += [r for r in alive if r not in found]
        terminate(alive, timeout=3, sig=signal.SIGKILL)
    return found


def _state_from_holders(cfg: LabConfig) -> LabState | None:
    nodes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for spec in cfg.nodes:
            if b"lab.nodeinit" in argv and str(spec.root).encode() in argv:
                pid = int(entry.name)
                start, inode = start_time(pid), netns_inode(pid)
                if start is not None and inode is not None and not is_host_netns(inode):
                    nodes[spec.name] = NodeProcesses(holder=ProcRef(pid, start), netns_inode=inode)
    if not nodes:
        return None
    log.warning("lab %s: no state file; found its holders %s", cfg.lab_id, nodes)
    return LabState(cfg.lab_id, str(cfg.root), "stopping", os.getpid(), nodes=nodes)


def down(cfg: LabConfig, store: StateStore) -> DownReport:
    started = time.monotonic()
    try:
        state: LabState | None = store.load()
    except StateError:
        state = None
    if state is None and not cfg.root.exists():
        return DownReport(existed=False)
    killed: list[int] = []
    seen: list[ProcRef] = []
    if state is None:
        # No usable state file: find the lab's holders by their --root argument, and with them
        # everything in their network namespaces.
        state = _state_from_holders(cfg)
    if state is not None:
        if store.exists():
            store.update(lambda s: replace(s, phase="stopping"))
        terminate([t.proc for t in state.tracked], timeout=5)
        pacemakers = [n.pacemakerd for n in state.nodes.values() if n.pacemakerd]
        # pacemakerd stops its resources (demote, stop PostgreSQL, remove the VIP) before exiting.
        grace = (
            PACEMAKER_STOP_TIMEOUT_S if state.phase == "up" else PACEMAKER_STOP_TIMEOUT_STARTING_S
        )
        terminate(pacemakers, timeout=grace)
        terminate([n.corosync for n in state.nodes.values() if n.corosync], timeout=10)
        remaining = _kill_what_is_left(state, killed)
        seen = (
            [t.proc for t in state.tracked]
            + remaining
            + [
                ref
                for n in state.nodes.values()
                for ref in (n.holder, n.corosync, n.pacemakerd)
                if ref is not None
            ]
        )
    shutil.rmtree(cfg.root, ignore_errors=True)
    if cfg.root.exists():
        shutil.rmtree(cfg.root)  # raises with the reason
    return DownReport(
        existed=True,
        killed=tuple(killed),
        seconds=time.monotonic() - started,
        processes=tuple(dict.fromkeys(seen)),
        netns_inodes=tuple(
            n.netns_inode for n in (state.nodes.values() if state else ()) if n.netns_inode
        ),
        root=str(cfg.root),
        links=tuple(n.link for n in cfg.nodes),
    )
