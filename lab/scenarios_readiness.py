"""Failure scenarios above the database (issue 20): faults that leave PostgreSQL and pacemaker
healthy and break a failover anyway, or what Mission Portal and cfha see.

Each leaves a stable state; `lab.restore` undoes every one of them (`cfengine_side.undo_faults`,
`undo_archive_fill`) after any scenario, since the cluster itself stays healthy.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab import cfengine_side, tracked
from lab.config import (
    CF_HUB_EVERYWHERE,
    CF_HUB_PID,
    HA_CFG,
    HTDOCS,
    PG_ARCHIVE_DIR,
    PG_OS_USER,
    POLICY_HUB_MARKER,
    PPKEYS,
)
from lab.nodes import LabNodes
from lab.scenario_kit import ScenarioError, ScenarioResult, resolve_target, result

CLIENT_KEYS_REMOVED = 5
ARCHIVE_FS_SIZE = "256m"  # a small filesystem for the archive, so it fills within minutes
WALFILL = "lab.walfill"
REPO = Path(__file__).resolve().parents[1]


def passive_hub_files(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """Four file faults on the passive hub at once, each seen by its own reader and rule:
    5 client keys gone from its ppkeys, its am_policy_hub marker gone, Mission Portal's
    config.php edited there, and its ha.cfg asking another resource's status.

    Leaves: PostgreSQL and pacemaker healthy; the verdict's hub_keys_missing,
    policy_hub_marker_missing and ha_cfg_invalid on that hub; the two hubs' config.php and
    ha.cfg digests differ."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    spec = lab.node(t.node)
    ppkeys = spec.host_path(PPKEYS)
    removed = sorted(
        p for p in ppkeys.glob("root-SHA=*.pub")
        if p.name.removeprefix("root-").removesuffix(".pub") not in
        {n.hostkey for n in lab.config.nodes}
    )[:CLIENT_KEYS_REMOVED]  # fmt: skip
    for path in removed:
        path.unlink()
    spec.host_path(POLICY_HUB_MARKER).unlink(missing_ok=True)
    config = spec.host_path(HTDOCS) / "application/config/config.php"
    with config.open("a") as edited:
        edited.write("$config['edited_on_the_passive_hub'] = TRUE;\n")
    cfg = spec.host_path(HA_CFG)
    cfg.write_text(cfg.read_text().replace("-n cfpgsql-status", "-n pgsql-status"))
    return result(
        "passive-hub-files",
        t,
        [f"rm {len(removed)} client keys from {PPKEYS}", f"rm {POLICY_HUB_MARKER}",
         "edit config.php", "ha.cfg: cmd asks pgsql-status"],
        f"{t.node}: keys, marker, Mission Portal config and ha.cfg wrong; the cluster healthy",
        started,
    )  # fmt: skip


def cf_hub_both(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """cf-hub runs on the passive hub too (started by hand there): the cf-hub stand-in of that
    hub keeps its pid file although its hub is passive. Needs the product stack's stand-ins."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    spec = lab.node(t.node)
    spec.host_path(CF_HUB_EVERYWHERE).touch()
    _wait(lambda: spec.host_path(CF_HUB_PID).exists(), f"{t.node}'s cf-hub pid file", 10)
    return result("cf-hub-both", t, [f"touch {CF_HUB_EVERYWHERE}"],
                  f"cf-hub runs on {t.node} (passive) and {t.primary}", started)  # fmt: skip


def freeze_cf_hub(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """The active hub's cf-hub frozen (SIGSTOP): nothing in cfdb moves any more. Needs the
    product stack's cf-hub stand-in."""
    started = time.monotonic()
    t = resolve_target(lab, node, "primary", ("primary",))
    pidfile = lab.node(t.node).host_path(CF_HUB_PID)
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise ScenarioError(
            f"no cf-hub stand-in runs on {t.node} (start the product stack)"
        ) from exc
    os.kill(pid, signal.SIGSTOP)
    return result("freeze-cf-hub", t, [f"kill -STOP {pid} (cf-hub)"],
                  f"cf-hub on {t.node} (active) stopped; cfdb frozen", started)  # fmt: skip


def inventory_wrong(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """The passive hub reports itself active in its HA inventory (what its agent would send if
    it believed so): the cf-agent stand-in writes that into cfdb from now on."""
    started = time.monotonic()
    t = resolve_target(lab, node, "standby", ("standby",))
    override = {t.node: {"HA node state": "active", "HA node state extended": "PRI"}}
    (lab.config.root / cfengine_side.INVENTORY_OVERRIDE).write_text(json.dumps(override))
    cfengine_side.refresh_ha_inventory(lab)
    return result("inventory-wrong", t, [f"{t.node} reports HA node state active"],
                  f"cfdb: {t.node} active, pacemaker: {t.primary} promoted", started)  # fmt: skip


def archive_filling(lab: LabNodes, node: str | None = None) -> ScenarioResult:
    """The primary's WAL archive fills its filesystem: a 256 MiB filesystem is mounted on
    data/pg_arch inside the node (the archive's own filesystem, small so that it fills within
    minutes), and a writer switches WAL segments every 8 s, eight times: the archiver copies
    128 MiB of 16 MiB segments into it."""
    started = time.monotonic()
    t = resolve_target(lab, node, "primary", ("primary",))
    lab.run(t.node, ["mount", "-t", "tmpfs", "-o", f"size={ARCHIVE_FS_SIZE},mode=0700",
                     "cfha-lab-archive", str(PG_ARCHIVE_DIR)], check=True)  # fmt: skip
    lab.run(t.node, ["chown", f"{PG_OS_USER}:{PG_OS_USER}", str(PG_ARCHIVE_DIR)], check=True)
    pid = tracked.spawn(
        lab,
        t.node,
        [sys.executable, "-m", WALFILL, "--dsn", lab.node(t.node).pg_dsn(), "--segments", "8",
         "--interval", "8"],
        env={"PYTHONPATH": str(REPO)},
        log_path=lab.node(t.node).logs / "walfill.log",
        user=None,
    )  # fmt: skip
    return result("archive-filling", t, [f"tmpfs {ARCHIVE_FS_SIZE} on {PG_ARCHIVE_DIR}",
                                         f"WAL writer {pid}"],
                  f"{t.node}'s archive filesystem filling by 2 MiB/s", started)  # fmt: skip


def undo_archive_fill(lab: LabNodes) -> None:
    """Stop the WAL writer and take the small filesystem off the archive, on any node."""
    for entry in lab.load_state().tracked:
        if WALFILL in entry.argv:
            tracked.stop_tracked(lab, entry.proc.pid, timeout=5)
    for name in lab.node_names:
        if lab.run(name, ["mountpoint", "-q", str(PG_ARCHIVE_DIR)]).returncode == 0:
            lab.run(name, ["umount", "--lazy", str(PG_ARCHIVE_DIR)], check=True)


def _wait(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ScenarioError(f"{what}: not there after {timeout:.0f} s")
        time.sleep(0.2)


SCENARIOS: dict[str, Callable[[LabNodes, str | None], ScenarioResult]] = {
    "passive-hub-files": passive_hub_files,
    "cf-hub-both": cf_hub_both,
    "freeze-cf-hub": freeze_cf_hub,
    "inventory-wrong": inventory_wrong,
    "archive-filling": archive_filling,
}
