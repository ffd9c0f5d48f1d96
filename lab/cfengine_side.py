"""The CFEngine side of a lab hub, laid out as CFEngine lays it out, and the faults on it.

What a hub holds above the database (reference/cfengine-ha.md §1-3): ha_info.json in
masterfiles and, as update.cf copies it, in inputs; ha.cfg; master_hub.dat; the markers
ha_enabled and am_policy_hub; ppkeys (its own pair, the other hub's key, one key per client of
cfdb); ppkeys_hubs (both hubs' 426-byte keys); Mission Portal's config files that ha.cf syncs and
the notification scripts. `write_all` renders them on both hubs; it is also the undo of every
fault below, which `lab.restore` calls after any scenario.

The keys are stand-ins of the right names and sizes (the lab runs no cf-serverd that would use
them); Mission Portal's files are plausible PHP with made-up secrets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path

from lab import postgres, render
from lab.cfdb_plan import client_hostkey, ha_inventory
from lab.config import (
    CF_HUB_EVERYWHERE,
    CF_HUB_PID,
    HA_CFG,
    HA_ENABLED,
    HA_INFO_INPUTS,
    HA_INFO_JSON,
    HTDOCS,
    NOTIFICATION_SCRIPTS,
    POLICY_HUB_MARKER,
    PPKEYS,
    PPKEYS_HUBS,
    LabConfig,
    NodeSpec,
)
from lab.nodes import LabNodes
from lab.settle import promoted_node

KEY_BYTES = 426  # a hub's public key file, as ha_update.cf copies only keys of this size
MISSION_PORTAL_FILES = (
    "application/config/cf_robot.php",
    "application/config/appsettings.php",
    "application/config/config.php",
    "ldap/config/settings.php",
    "api/config/config.php",
)
# What a hub's agent reports instead of its real HA state (the inventory fault), read by the
# cf-agent stand-in (lab/product/stack.py); under the lab's root.
INVENTORY_OVERRIDE = "inventory-override.json"


def public_key(seed: str) -> bytes:
    """A PEM-shaped stand-in for an RSA public key, exactly KEY_BYTES long."""
    head, tail = b"-----BEGIN RSA PUBLIC KEY-----\n", b"-----END RSA PUBLIC KEY-----\n"
    body = b""
    counter = 0
    while len(body) < KEY_BYTES:
        body += hashlib.sha256(f"{seed}:{counter}".encode()).hexdigest().encode()
        counter += 1
    size = KEY_BYTES - len(head) - len(tail)
    lines = [body[i : i + 64] for i in range(0, size - 1, 65)]
    text = b"\n".join(lines)[: size - 1] + b"\n"
    return head + text + tail


def mission_portal_file(relative: str, cfg: LabConfig) -> str:
    name = relative.rsplit("/", 1)[-1].removesuffix(".php")
    secret = hashlib.sha256(f"cfha-lab {cfg.root} {relative}".encode()).hexdigest()[:24]
    return (
        "<?php defined('BASEPATH') OR exit('No direct script access allowed');\n"
        f"// {relative}: rendered by the cfha lab, the same on both hubs (ha.cf syncs it)\n"
        f"$config['{name}_url'] = 'https://{cfg.vip}/';\n"
        f"$config['{name}_secret'] = '{secret}';\n"
    )


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    path.chmod(mode)


def write_node(cfg: LabConfig, node: NodeSpec, client_hostkeys: Iterable[str] = ()) -> None:
    """Every CFEngine HA file of one hub (the keys of `client_hostkeys` in its ppkeys)."""
    info = render.ha_info_json(cfg)
    _write(node.host_path(HA_INFO_JSON), info)
    _write(node.host_path(HA_INFO_INPUTS), info, 0o600)
    _write(node.host_path(HA_CFG), render.HA_CFG_TEXT)
    _write(node.host_path(HA_ENABLED), "", 0o440)
    _write(node.host_path(POLICY_HUB_MARKER), "")
    ppkeys, hubs = node.host_path(PPKEYS), node.host_path(PPKEYS_HUBS)
    for directory in (ppkeys, hubs):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    _write(ppkeys / "localhost.pub", public_key(node.hostkey), 0o600)
    _write(ppkeys / "localhost.priv", public_key("private " + node.hostkey), 0o600)
    for peer in cfg.nodes:
        _write(hubs / f"root-{peer.hostkey}.pub", public_key(peer.hostkey), 0o600)
        if peer is not node:
            _write(ppkeys / f"root-{peer.hostkey}.pub", public_key(peer.hostkey), 0o600)
    for hostkey in client_hostkeys:
        _write(ppkeys / f"root-{hostkey}.pub", public_key(hostkey), 0o600)
    for relative in MISSION_PORTAL_FILES:
        _write(node.host_path(HTDOCS) / relative, mission_portal_file(relative, cfg), 0o440)
    scripts = node.host_path(NOTIFICATION_SCRIPTS)
    _write(scripts / "notify-pager.sh", "#!/bin/sh\n# cfha lab: a notification script\n", 0o755)
    node.host_path(CF_HUB_EVERYWHERE).unlink(missing_ok=True)


def write_all(lab: LabNodes, client_hostkeys: Iterable[str] | None = None) -> None:
    """Every hub's files as CFEngine lays them out (the default clients: cfdb's, as seeded)."""
    keys = list(client_hostkeys) if client_hostkeys is not None else seeded_clients(lab)
    for node in lab.config.nodes:
        write_node(lab.config, node, keys)
    (lab.config.root / INVENTORY_OVERRIDE).unlink(missing_ok=True)


def seeded_clients(lab: LabNodes) -> list[str]:
    """The client host keys of the lab's cfdb seed (a function of its size and seed only)."""
    state = lab.load_state()
    return [client_hostkey(state.seed_rng, i) for i in range(state.seed_hosts)]


def undo_faults(lab: LabNodes) -> None:
    """After any scenario: every file as rendered, no flag, no frozen cf-hub stand-in."""
    for node in lab.config.nodes:
        pidfile = node.host_path(CF_HUB_PID)
        with contextlib.suppress(OSError, ValueError, IndexError):  # none, or not running
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGCONT)
    write_all(lab)


def inventory_override(lab: LabNodes) -> dict[str, dict[str, str]]:
    """What a hub's agent reports instead of its real HA state (the inventory fault)."""
    path = lab.config.root / INVENTORY_OVERRIDE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def refresh_ha_inventory(lab: LabNodes) -> None:
    """Each hub's HA inventory in cfdb, as its agent reports it and cf-hub collects it: the
    promoted hub active (PRI), the other passive, the active hub's address as HA master IP; a
    hub named in the lab's inventory override reports that instead."""
    primary = promoted_node(lab)
    active = lab.node(primary).address
    override = inventory_override(lab)
    for spec in lab.config.nodes:
        reported = ha_inventory(spec.name, spec.name == primary, active)
        reported.update(override.get(spec.name, {}))
        postgres.query(
            lab.node(primary),
            'UPDATE __inventory SET "values" = "values" || %s::jsonb WHERE hostkey = %s',
            (json.dumps(reported), spec.hostkey),
        )
