"""One lab's nodes as they run now: its addresses and paths, its state file, commands inside them.

Every lab operation (`lifecycle`, `teardown`, `tracked`, `status`, `scenarios`, `restore`) gets
this object, or only the parts of it it needs, and `lab.cluster.Lab` puts them together on top:
nothing here knows the operations.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from lab.config import LabConfig, NodeSpec
from lab.errors import LabError
from lab.node import NodeCommandError, NodeRunner
from lab.pglayout import LabPostgres, for_major
from lab.procs import is_alive
from lab.state import LabState, StateError, StateStore


class LabNodes:
    def __init__(self, config: LabConfig, store: StateStore) -> None:
        self.config = config
        self.store = store

    @property
    def lab_id(self) -> int:
        return self.config.lab_id

    @property
    def node_names(self) -> tuple[str, str]:
        first, second = self.config.nodes
        return first.name, second.name

    @property
    def vip(self) -> str:
        return self.config.vip

    def node(self, name: str) -> NodeSpec:
        return self.config.node(name)

    def other(self, name: str) -> str:
        return self.config.other(name).name

    def load_state(self) -> LabState:
        try:
            return self.store.load()
        except StateError as err:
            raise LabError(f"lab {self.lab_id} is not up: {err}") from err

    def postgres(self) -> LabPostgres:
        """The PostgreSQL this lab runs: the major chosen at `up`, from the state file."""
        state = self.load_state()
        return for_major(state.pg_major, state.pg_version)

    def runner(self, name: str) -> NodeRunner:
        holder = self.load_state().node(self.node(name).name).holder
        if holder is None or not is_alive(holder):
            raise LabError(f"{name} of lab {self.lab_id} is not running")
        return NodeRunner(name, holder)

    def run(
        self,
        node: str,
        argv: Sequence[str],
        timeout: float = 30.0,
        *,
        input: str | None = None,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node's network, UTS, IPC and mount namespaces."""
        try:
            return self.runner(node).run(
                argv, timeout=timeout, input=input, user=user, env=env, check=check
            )
        except NodeCommandError as err:
            raise LabError(str(err)) from err

    def process_alive(self, name: str) -> dict[str, bool]:
        node_state = self.load_state().node(name)
        refs = {
            "holder": node_state.holder,
            "corosync": node_state.corosync,
            "pacemakerd": node_state.pacemakerd,
        }
        return {key: ref is not None and is_alive(ref) for key, ref in refs.items()}

    def stack_alive(self, name: str) -> bool:
        return all(self.process_alive(name).values())
