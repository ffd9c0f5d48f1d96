"""`Lab`: the Python API of the two-hub lab cluster (used by the CLI, tests, demo, benchmarks).

    lab = Lab(3)                      # instance id 3: netns/links/subnet/dirs all derived from it
    lab.up()                          # returns the seconds it took to become healthy
    lab.run("hub1", ["crm_mon", "-1"])
    lab.inject("kill-primary")
    lab.restore_healthy()
    lab.down()                        # idempotent; also cleans up after a failed `up`

Every method works from any process: what is running is read from the lab's state file.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab import cfengine_side, lifecycle, postgres, restore, scenarios, teardown, tracked
from lab import config as lab_config
from lab import status as lab_status
from lab.cfdb_plan import ha_inventory
from lab.config import (
    MASTER_HUB_DAT,
    LabConfig,
    NodeSpec,
    lab_id_from_env,
)
from lab.errors import LabError
from lab.node import NodeCommandError, NodeRunner
from lab.procs import is_alive
from lab.scenarios import ScenarioResult
from lab.state import LabState, StateError, StateStore
from lab.status import LabStatus


class LabNotHealthyError(LabError):
    def __init__(self, message: str, last: LabStatus | None) -> None:
        super().__init__(message)
        self.last = last


class Lab:
    def __init__(self, lab_id: int | None = None, root_base: Path | None = None) -> None:
        chosen = lab_id_from_env() if lab_id is None else lab_id
        # Looked up at call time, so tests can point labs elsewhere.
        base = root_base if root_base is not None else lab_config.DEFAULT_ROOT_BASE
        self.config = LabConfig.for_id(chosen, base)
        self.store = StateStore(self.config.state_file, self.config.lock_file)
        self.last_down: teardown.DownReport | None = None  # set by down(), also after a failed up

    def __repr__(self) -> str:
        return f"Lab({self.config.lab_id}, root={self.config.root})"

    # -- facts -------------------------------------------------------------------------------
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
        """Addresses and paths of a node: `.address`, `.pg_dsn()` (inside the node),
        `.pg_dsn_host()` (from the host), `.pgdata_host`, `.lock_host`, `.hostkey`, ..."""
        return self.config.node(name)

    def other(self, name: str) -> str:
        return self.config.other(name).name

    def exists(self) -> bool:
        return self.store.exists()

    def load_state(self) -> LabState:
        try:
            return self.store.load()
        except StateError as err:
            raise LabError(f"lab {self.lab_id} is not up: {err}") from err

    def runner(self, name: str) -> NodeRunner:
        holder = self.load_state().node(self.node(name).name).holder
        if holder is None or not is_alive(holder):
            raise LabError(f"{name} of lab {self.lab_id} is not running")
        return NodeRunner(name, holder)

    def process_alive(self, name: str) -> dict[str, bool]:
        node_state = self.load_state().node(name)
        refs = {
            "holder": node_state.holder,
            "corosync": node_state.corosync,
            "pacemakerd": node_state.pacemakerd,
        }
        return {key: ref is not None and is_alive(ref) for key, ref in refs.items()}

    def stack_alive(self, name: str) -> bool:
        alive = self.process_alive(name)
        return all(alive.values())

    # -- lifecycle ---------------------------------------------------------------------------
    def up(
        self,
        timeout: float = 120.0,
        *,
        seed_hosts: int = 50,
        rng_seed: int = 1,
        replace: bool = False,
    ) -> float:
        """Start the lab and wait until it is healthy; returns the seconds that took.

        Fails if the lab already exists, unless `replace` (then it is torn down first).
        On any failure everything started so far is torn down again.
        """
        return lifecycle.up(
            self, timeout, seed_hosts=seed_hosts, rng_seed=rng_seed, replace_existing=replace
        )

    def down(self) -> teardown.DownReport:
        """Stop everything and remove the lab's directory. Idempotent."""
        return teardown.down(self)

    # -- observing ---------------------------------------------------------------------------
    def status(self) -> LabStatus:
        return lab_status.gather(self)

    def status_text(self) -> str:
        current = self.status()
        text = ""
        for name in self.node_names:
            if self.stack_alive(name):
                done = self.run(name, ["crm_mon", "-1", "-A", "-f", "-r", "--include=bans"])
                text = done.stdout if done.returncode == 0 else done.stderr
                break
        return lab_status.format_text(current, text)

    def wait_healthy(self, timeout: float = 60.0) -> LabStatus:
        deadline = time.monotonic() + timeout
        last: LabStatus | None = None
        while True:
            last = self.status()
            if last.healthy:
                return last
            if time.monotonic() >= deadline:
                problems = "; ".join(last.problems)
                raise LabNotHealthyError(
                    f"lab {self.lab_id} not healthy after {timeout:.0f}s: {problems}", last
                )
            time.sleep(0.5)

    def primary(self) -> str:
        """The node pacemaker has promoted (raises if there is not exactly one)."""
        found = self.status().primary
        if found is None:
            raise LabError(f"lab {self.lab_id}: no single promoted node")
        return found

    def standby(self) -> str:
        return self.other(self.primary())

    # -- acting ------------------------------------------------------------------------------
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

    def psql(
        self,
        node: str,
        sql: str,
        params: tuple[Any, ...] | None = None,
        *,
        db: str = "cfdb",
    ) -> list[tuple[Any, ...]]:
        """Run one SQL statement on the node's PostgreSQL (via its Unix socket) and return rows."""
        return postgres.query(self.node(node), sql, params, db)

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        user: str | None = None,
    ) -> int:
        """Start a long-running process inside the node; `down` stops it. Returns its PID."""
        return tracked.spawn(self, node, argv, env=env, log_path=log_path, user=user)

    def stop_spawned(self, pid: int, timeout: float = 5.0) -> None:
        tracked.stop_tracked(self, pid, timeout)

    def forward(
        self, node: str, port: int, target_host: str = "127.0.0.1", local_port: int = 0
    ) -> int:
        """Make `target_host:port` as seen from inside `node` reachable on 127.0.0.1.

        Returns the local port (chosen by the kernel unless `local_port` is given). Nothing is
        added to the host's network namespace: a forwarder process inside the node accepts on a
        socket that was bound on 127.0.0.1 in the host namespace before it entered the node.
        """
        return tracked.forward(self, node, port, target_host=target_host, local_port=local_port)

    def inject(self, scenario: str, node: str | None = None) -> ScenarioResult:
        """Break the lab in one of `lab.scenarios.SCENARIOS` ways; returns what it did."""
        return scenarios.inject(self, scenario, node)

    def restore_healthy(self, timeout: float = 90.0) -> float:
        """Bring the lab back to healthy after any scenario; returns the seconds it took."""
        return restore.restore_healthy(self, timeout)

    def refresh_master_hub(self) -> str:
        """Write the active hub's IP into both hubs' master_hub.dat, as cf-agent would."""
        active = self.node(self.primary()).address
        for spec in self.config.nodes:
            path = spec.host_path(MASTER_HUB_DAT)
            path.write_text(active + "\n")
        return active

    def refresh_ha_inventory(self) -> None:
        """Each hub's HA inventory in cfdb, as its agent reports it and cf-hub collects it:
        the promoted hub active (PRI), the other passive, the active hub's address as HA
        master IP; a hub named in the lab's inventory override reports that instead."""
        primary = self.primary()
        active = self.node(primary).address
        override = cfengine_side.inventory_override(self)
        for spec in self.config.nodes:
            reported = ha_inventory(spec.name, spec.name == primary, active)
            reported.update(override.get(spec.name, {}))
            self.psql(
                primary,
                'UPDATE __inventory SET "values" = "values" || %s::jsonb WHERE hostkey = %s',
                (json.dumps(reported), spec.hostkey),
            )
