"""`Lab`: the Python API of the two-hub lab cluster (used by the CLI, tests, demo, benchmarks).

    lab = Lab(3)                      # instance id 3: netns/links/subnet/dirs all derived from it
    lab.up()                          # returns the seconds it took to become healthy
    lab.run("hub1", ["crm_mon", "-1"])
    lab.inject("kill-primary")
    lab.restore_healthy()
    lab.down()                        # idempotent; also cleans up after a failed `up`

Every method works from any process: what is running is read from the lab's state file.
`Lab` only puts the lab's modules together: each of them gets the lab's nodes (`LabNodes`: config,
state store, commands inside the nodes) or less, and none of them knows `Lab`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab import (
    cfengine_side,
    lifecycle,
    pglayout,
    postgres,
    restore,
    scenarios,
    settle,
    teardown,
    tracked,
)
from lab import config as lab_config
from lab import status as lab_status
from lab.config import MAX_LAB_ID, LabConfig, NodeSpec, lab_id_from_env
from lab.errors import LabError
from lab.node import NodeRunner
from lab.nodes import LabNodes
from lab.pglayout import LabPostgres
from lab.restore import RestoreReport
from lab.scenarios import ScenarioResult
from lab.settle import LabNotHealthyError
from lab.state import LabState, StateStore
from lab.status import LabStatus

__all__ = ["Lab", "LabNotHealthyError", "claim_free_lab"]


class Lab:
    def __init__(self, lab_id: int | None = None, root_base: Path | None = None) -> None:
        chosen = lab_id_from_env() if lab_id is None else lab_id
        # Looked up at call time, so tests can point labs elsewhere.
        base = root_base if root_base is not None else lab_config.DEFAULT_ROOT_BASE
        self.config = LabConfig.for_id(chosen, base)
        self.store = StateStore(self.config.state_file, self.config.lock_file)
        self.nodes = LabNodes(self.config, self.store)
        # The last teardown that found something to stop: by down(), also inside a failed up.
        self.last_down: teardown.DownReport | None = None

    def __repr__(self) -> str:
        return f"Lab({self.config.lab_id}, root={self.config.root})"

    # -- facts -------------------------------------------------------------------------------
    @property
    def lab_id(self) -> int:
        return self.config.lab_id

    @property
    def node_names(self) -> tuple[str, str]:
        return self.nodes.node_names

    @property
    def vip(self) -> str:
        return self.config.vip

    def node(self, name: str) -> NodeSpec:
        """Addresses and paths of a node: `.address`, `.pg_dsn()` (inside the node),
        `.pg_dsn_host()` (from the host), `.pgdata_host`, `.lock_host`, `.hostkey`, ..."""
        return self.config.node(name)

    def other(self, name: str) -> str:
        return self.nodes.other(name)

    def postgres(self) -> LabPostgres:
        """The PostgreSQL the hubs run (`.major`, `.bin_dir` inside a node, `.tool(name)`), as
        chosen when the lab came up."""
        return self.nodes.postgres()

    def exists(self) -> bool:
        return self.store.exists()

    def load_state(self) -> LabState:
        return self.nodes.load_state()

    def runner(self, name: str) -> NodeRunner:
        return self.nodes.runner(name)

    def process_alive(self, name: str) -> dict[str, bool]:
        return self.nodes.process_alive(name)

    def stack_alive(self, name: str) -> bool:
        return self.nodes.stack_alive(name)

    # -- lifecycle ---------------------------------------------------------------------------
    def claim(self) -> bool:
        """Reserve this lab id for the calling process (atomic); False if it is taken."""
        return lifecycle.claim(self.config, self.store)

    def up(
        self,
        timeout: float = 120.0,
        *,
        seed_hosts: int = 50,
        rng_seed: int = 1,
        replace: bool = False,
        pg_major: int | None = None,
    ) -> float:
        """Start the lab and wait until it is healthy; returns the seconds that took.

        `pg_major`: the PostgreSQL its hubs run, 15 or 18 (None: CFHA_LAB_PG, else 15); every
        later call on this lab, from any process, uses the same.
        Fails if the lab already exists, unless `replace` (then it is torn down first).
        On any failure everything started so far is torn down again.
        """
        return lifecycle.up(
            self.nodes,
            timeout,
            seed_hosts=seed_hosts,
            rng_seed=rng_seed,
            replace_existing=replace,
            pg_major=pglayout.major_from_env() if pg_major is None else pg_major,
            on_down=self._record_down,
        )

    def down(self) -> teardown.DownReport:
        """Stop everything and remove the lab's directory. Idempotent."""
        return self._record_down(teardown.down(self.config, self.store))

    def _record_down(self, report: teardown.DownReport) -> teardown.DownReport:
        if report.existed:
            self.last_down = report
        return report

    # -- observing ---------------------------------------------------------------------------
    def status(self) -> LabStatus:
        return lab_status.gather(self.nodes)

    def status_text(self) -> str:
        current = self.status()
        text = ""
        for name in self.node_names:
            if self.stack_alive(name):
                done = self.run(name, ["crm_mon", "-1", "-A", "-f", "-r", "--include=bans"])
                text = done.stdout if done.returncode == 0 else done.stderr
                break
        # Which PostgreSQL, right under the verdict (lab.status is the typed view; this is a fact
        # of the lab's own making, from its state file).
        header, _, rest = lab_status.format_text(current, text).partition("\n")
        return f"{header}\n  {self.postgres().describe(self.config.nodes)}\n{rest}"

    def wait_healthy(self, timeout: float = 60.0) -> LabStatus:
        """The lab's status once healthy; LabNotHealthyError (`.last`) after `timeout`."""
        return settle.wait_healthy(self.nodes, timeout)

    def primary(self) -> str:
        """The node pacemaker has promoted (raises if there is not exactly one)."""
        return settle.promoted_node(self.nodes)

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
        return self.nodes.run(node, argv, timeout, input=input, user=user, env=env, check=check)

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
        return tracked.spawn(self.nodes, node, argv, env=env, log_path=log_path, user=user)

    def stop_spawned(self, pid: int, timeout: float = 5.0) -> None:
        tracked.stop_tracked(self.nodes, pid, timeout)

    def is_running(self, pid: int) -> bool:
        """Whether `pid`, spawned or forwarding in this lab, still runs (not after a rebuild)."""
        return tracked.is_running(self.nodes, pid)

    def forward(
        self, node: str, port: int, target_host: str = "127.0.0.1", local_port: int = 0
    ) -> int:
        """Make `target_host:port` as seen from inside `node` reachable on 127.0.0.1.

        Returns the local port (chosen by the kernel unless `local_port` is given). Nothing is
        added to the host's network namespace: a forwarder process inside the node accepts on a
        socket that was bound on 127.0.0.1 in the host namespace before it entered the node.
        """
        return tracked.forward(
            self.nodes, node, port, target_host=target_host, local_port=local_port
        )

    def inject(self, scenario: str, node: str | None = None) -> ScenarioResult:
        """Break the lab in one of `lab.scenarios.SCENARIOS` ways; returns what it did."""
        return scenarios.inject(self.nodes, scenario, node)

    def restore_healthy(self, timeout: float = 90.0) -> RestoreReport:
        """Bring the lab back to healthy after any scenario; `.seconds` it took, `.actions`,
        `.rebuilt` (why it had to be rebuilt, None when repaired by hand)."""
        return restore.restore_healthy(self.nodes, timeout)

    def refresh_master_hub(self) -> str:
        """Write the active hub's IP into both hubs' master_hub.dat, as cf-agent would."""
        return restore.refresh_master_hub(self.nodes)

    def refresh_ha_inventory(self) -> None:
        """Each hub's HA inventory in cfdb, as its agent reports it and cf-hub collects it."""
        cfengine_side.refresh_ha_inventory(self.nodes)


def claim_free_lab(first: int = 1, last: int = MAX_LAB_ID) -> Lab:
    """A lab id nobody uses, reserved for this process (id 0 is left to `make lab-up`)."""
    for lab_id in range(first, last + 1):
        candidate = Lab(lab_id)
        if candidate.claim():
            return candidate
    raise LabError(f"no free lab id in {first}..{last}; stop stale labs: python -m lab down")
