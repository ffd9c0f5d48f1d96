"""The whole cfha product on a running lab: one way to bring it up, for the demo and the e2e tests.

    with ProductStack(lab, StackSettings(workdir)) as stack:     # start() on enter
        stack.hubs["hub1"].exporter_url        # status page, /metrics (127.0.0.1)
        stack.remediator("hub2").jobs()        # the remediator's API, with the bearer token
        stack.prometheus.alerts(); stack.alertmanager.alerts(); stack.sink.received()

Inside each hub (`Lab.spawn`, reached through `Lab.forward` on 127.0.0.1): cfha-exporter and
cfha-remediator (lab policy and guard, `stackconfig`); the lab itself runs the stand-ins of
cf-hub and cf-serverd (`lab.cfhub`, `lab.cfserverd`). A cf-agent
stand-in (a thread) writes the active hub's address into both hubs' master_hub.dat every 10 s,
as CFEngine's HA policy does at each agent run (every 5 minutes; lab time runs 30 times
faster), and each hub's HA inventory into cfdb, as the hubs' agents report it and cf-hub
collects it: without it the verdict stays DEGRADED after a failover. On the host,
bound to 127.0.0.1: Prometheus with the lab copy of `alerts/rules/` scraping both exporters
(job `cfha`) and both remediators (job `cfha-remediator`), Alertmanager with the example
routing tuned for the lab (remediation requests to both remediators, human receivers to a
webhook sink), and the sink. `close()` stops everything it started, by PID, also after a
failed start; the lab itself is the caller's. If the lab is rebuilt under a running stack
(`lab restore` does when it cannot repair by hand), every process the stack started in the hubs
stops with it: `lost_hubs()` notices, `bring_back_hubs()` starts them again on the new lab, with
the same journals and the same addresses.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from lab.cluster import Lab
from lab.errors import LabError
from lab.product import stackconfig
from lab.product.promrules import write_lab_copy
from lab.product.promstack import (
    Alertmanager,
    Prometheus,
    PromStack,
    StackError,
    missing_binaries,
    wait_until,
)
from lab.product.remediator_client import RemediatorClient

REPO = Path(__file__).resolve().parents[2]
EXPORTER_PORT = 9732  # inside each hub, on the hub's own 127.0.0.1
REMEDIATOR_PORT = 9735
CFAGENT_INTERVAL_SECONDS = 10.0
READY_TIMEOUT = 60.0

__all__ = [
    "HubProcesses",
    "ProductStack",
    "RemediatorClient",
    "StackError",
    "StackSettings",
    "missing_binaries",
]


@dataclass(frozen=True)
class StackSettings:
    """Where the stack keeps its files, and how it runs.

    `local_ports`: preferred 127.0.0.1 ports, keyed `"<node>:exporter"` / `"<node>:remediator"`
    (any free port when missing or taken). `dry_run`: the remediators decide, plan and audit
    everything and execute nothing.
    """

    workdir: Path
    dry_run: bool = False
    local_ports: Mapping[str, int] = field(default_factory=dict)


@dataclass
class HubProcesses:
    """What runs in one hub and where it is reached from the host."""

    node: str
    exporter_url: str
    remediator_url: str
    exporter_pid: int
    remediator_pid: int
    journal_tag: str = "0"  # the remediator's journal is `journal-<tag>.db`

    @property
    def pids(self) -> tuple[int, int]:
        return self.exporter_pid, self.remediator_pid


class ProductStack:
    """Owns every process it starts on the lab and on the host; `close()` stops them by PID."""

    def __init__(self, lab: Lab, settings: StackSettings) -> None:
        self.lab = lab
        self.settings = settings
        self.workdir = settings.workdir
        self.token = secrets.token_hex(24)
        self.token_file = self.workdir / "remediator.token"
        self.policy_file = self.workdir / "remediator-policy.yml"
        self.hubs: dict[str, HubProcesses] = {}
        self._promstack: PromStack | None = None
        self._prometheus: Prometheus | None = None
        self._alertmanager: Alertmanager | None = None
        self._stop_agent = threading.Event()
        self._agent: threading.Thread | None = None

    def __enter__(self) -> ProductStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parts ---------------------------------------------------------------------------------
    @property
    def promstack(self) -> PromStack:
        if self._promstack is None:
            raise StackError("the product stack is not started")
        return self._promstack

    @property
    def prometheus(self) -> Prometheus:
        if self._prometheus is None:
            raise StackError("Prometheus is not started")
        return self._prometheus

    @property
    def alertmanager(self) -> Alertmanager:
        if self._alertmanager is None:
            raise StackError("Alertmanager is not started")
        return self._alertmanager

    @property
    def sink(self) -> Any:
        return self.promstack.sink

    def remediator(self, node: str) -> RemediatorClient:
        return RemediatorClient(self.hubs[node].remediator_url, self.token)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Everything, in dependency order; on any failure what started is stopped again."""
        missing = missing_binaries()
        if missing:
            raise StackError(f"not installed: {', '.join(missing)}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token_file.write_text(self.token)
        self.token_file.chmod(0o600)
        self.policy_file.write_text(yaml.safe_dump(stackconfig.lab_policy(), sort_keys=False))
        (self.workdir / "promstack").mkdir(exist_ok=True)
        self._promstack = PromStack(self.workdir / "promstack")
        try:
            for node in self.lab.node_names:
                self.hubs[node] = self._start_hub(
                    node,
                    "0",
                    self.settings.local_ports.get(f"{node}:exporter", 0),
                    self.settings.local_ports.get(f"{node}:remediator", 0),
                )
            self._start_agent_stand_in()
            self._start_alerting()
            for node in self.lab.node_names:
                self._wait_remediator(node)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop what this stack started (Prometheus and Alertmanager first), by PID."""
        self._stop_agent.set()
        if self._agent is not None:
            self._agent.join(timeout=30)
            self._agent = None
        if self._promstack is not None:
            self._promstack.close()
        self._prometheus = self._alertmanager = None
        for hub in self.hubs.values():
            for pid, grace in (
                (hub.remediator_pid, 40.0),  # lets a running step finish (graceful_timeout)
                (hub.exporter_pid, 5.0),
            ):
                with contextlib.suppress(Exception):  # the lab may already be gone
                    self.lab.stop_spawned(pid, timeout=grace)
        self.hubs.clear()

    def restart_remediators(self, tag: str) -> None:
        """Both remediators again with fresh journals (`journal-<tag>`); the old ones are kept.

        A journal holds the attempt budgets and circuits (per day): a test run that breaks the
        lab many times in a row starts each scenario as a freshly deployed remediator would."""
        for node, hub in self.hubs.items():
            self.lab.stop_spawned(hub.remediator_pid, timeout=40)
            hub.journal_tag = tag
            hub.remediator_pid = self._spawn_remediator(node, tag)
        for node in self.hubs:
            self._wait_remediator(node)

    def lost_hubs(self) -> list[str]:
        """Hubs where nothing this stack started runs any more: the lab was stopped or rebuilt."""
        return [
            node
            for node, hub in self.hubs.items()
            if not any(self.lab.is_running(pid) for pid in hub.pids)
        ]

    def bring_back_hubs(self) -> list[str]:
        """Start the exporter, remediator and forwards again in every lost hub
        of a lab that is up again; the same journals, the same 127.0.0.1 ports when free (then
        Prometheus and Alertmanager go on as they were). Returns the hubs brought back."""
        lost = self.lost_hubs()
        for node in lost:
            old = self.hubs[node]
            new = self._start_hub(
                node, old.journal_tag, _port(old.exporter_url), _port(old.remediator_url)
            )
            self.hubs[node] = new
            if (new.exporter_url, new.remediator_url) != (old.exporter_url, old.remediator_url):
                # Prometheus scrapes, and Alertmanager posts to, the old addresses.
                raise StackError(f"{node}: its old 127.0.0.1 ports were taken; restart the stack")
        for node in lost:
            self._wait_remediator(node)
        return lost

    # -- hubs ----------------------------------------------------------------------------------
    def _hub_dir(self, node: str) -> Path:
        path = self.workdir / node
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _spawn(self, node: str, what: str, argv: list[str]) -> int:
        return self.lab.spawn(
            node,
            [sys.executable, *argv],
            env={"PYTHONPATH": str(REPO)},  # the product of this tree
            log_path=self._hub_dir(node) / f"{what}.log",
        )

    def _forward(self, node: str, port: int, preferred: int) -> str:
        try:
            local = self.lab.forward(node, port, local_port=preferred)
        except OSError:  # the preferred port is taken: any free one will do
            local = self.lab.forward(node, port)
        return f"http://127.0.0.1:{local}"

    def _spawn_remediator(self, node: str, tag: str) -> int:
        base = self._hub_dir(node)
        config = base / "remediator.yml"
        config.write_text(
            yaml.safe_dump(
                stackconfig.remediator_config(
                    node=node,
                    port=REMEDIATOR_PORT,
                    journal=base / f"journal-{tag}.db",
                    kill_switch_file=base / "remediator.paused",
                    policy_file=self.policy_file,
                    token_file=self.token_file,
                    dry_run=self.settings.dry_run,
                ),
                sort_keys=False,
            )
        )
        return self._spawn(
            node, "remediator", ["-m", "remediator", "--config.file", str(config), "serve"]
        )

    def _start_hub(
        self, node: str, journal_tag: str, exporter_port: int, remediator_port: int
    ) -> HubProcesses:
        spec = self.lab.node(node)
        config = self._hub_dir(node) / "exporter.yml"
        config.write_text(
            yaml.safe_dump(
                stackconfig.exporter_config(
                    node, self.lab.other(node), spec.pg_dsn("cfdb"), EXPORTER_PORT
                )
            )
        )
        # The ids are recorded in the lab's state file at once, so `lab down` stops them
        # even if this process dies before it could.
        exporter = self._spawn(node, "exporter", ["-m", "exporter", "--config.file", str(config)])
        remediator = self._spawn_remediator(node, journal_tag)
        return HubProcesses(
            node=node,
            exporter_url=self._forward(node, EXPORTER_PORT, exporter_port),
            remediator_url=self._forward(node, REMEDIATOR_PORT, remediator_port),
            exporter_pid=exporter,
            remediator_pid=remediator,
            journal_tag=journal_tag,
        )

    def _start_agent_stand_in(self) -> None:
        def loop() -> None:
            while not self._stop_agent.wait(CFAGENT_INTERVAL_SECONDS):
                # no single primary (mid-failover) or the lab going down: the next run retries
                with contextlib.suppress(LabError, OSError, psycopg.Error):
                    self.lab.refresh_master_hub()
                    self.lab.refresh_ha_inventory()

        self._stop_agent.clear()
        self._agent = threading.Thread(target=loop, name="cf-agent-stand-in", daemon=True)
        self._agent.start()

    def _wait_remediator(self, node: str) -> None:
        client = self.remediator(node)
        try:
            wait_until(client.healthy, READY_TIMEOUT, f"{node}'s remediator healthy")
        except StackError as exc:
            log = self._hub_dir(node) / "remediator.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise StackError(f"{exc}\n--- {log} ---\n{tail}") from exc

    # -- alerting ------------------------------------------------------------------------------
    def _start_alerting(self) -> None:
        stack = self.promstack
        example = yaml.safe_load((REPO / "alerts" / "alertmanager.example.yml").read_text())
        self._alertmanager = stack.alertmanager(
            stackconfig.alertmanager_config(
                example,
                stack.sink.url("/"),
                {node: f"{hub.remediator_url}/webhook" for node, hub in self.hubs.items()},
                self.token_file,
            )
        )
        rules = write_lab_copy(REPO / "alerts" / "rules", self.workdir / "rules")
        self._prometheus = stack.prometheus(
            scrape_configs=stackconfig.scrape_configs(
                {n: h.exporter_url.removeprefix("http://") for n, h in self.hubs.items()},
                {n: h.remediator_url.removeprefix("http://") for n, h in self.hubs.items()},
            ),
            rule_files=rules,
            alertmanagers=[self._alertmanager],
            external_labels={"cfha_runbook_base": f"file://{REPO / 'alerts' / 'runbooks'}"},
        )
        self._prometheus.wait_targets_up(timeout=READY_TIMEOUT)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Seconds until every scrape target is up and both remediators answer."""
        started = time.monotonic()
        self.prometheus.wait_targets_up(timeout=timeout)
        for node in self.hubs:
            self._wait_remediator(node)
        return time.monotonic() - started


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
