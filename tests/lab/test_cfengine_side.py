"""The lab's CFEngine side without a running lab: what it renders for a hub is what cfha's
readers take for a healthy hub, and the cf-hub stand-in keeps its pid file only where cf-hub
runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clusterstate.cfdb import HubFacts
from clusterstate.cfengine import read_cfengine_files
from clusterstate.cfengine_keys import TrustKeysReader
from clusterstate.mission_portal import read_mission_portal_config
from clusterstate.parsers.cfengine_files import HUB_KEY_BYTES, hostkey_of_key_file
from exporter.collectors.readiness_model import ClientKeyCounter, hub_keys
from lab import cfengine_side
from lab.cfdb_plan import client_hostkey, plan
from lab.cfhub import keep_pidfile
from lab.config import CFENGINE_DIR, NOTIFICATION_SCRIPTS, LabConfig


def test_keys_have_the_size_ha_update_copies() -> None:
    for seed in ("a", "SHA=" + "f" * 64, "private x"):
        key = cfengine_side.public_key(seed)
        assert len(key) == HUB_KEY_BYTES == 426
        assert key.startswith(b"-----BEGIN RSA PUBLIC KEY-----\n")
        assert key.endswith(b"-----END RSA PUBLIC KEY-----\n")
    assert cfengine_side.public_key("a") != cfengine_side.public_key("b")


def test_client_keys_are_the_seeds_hosts() -> None:
    seeded = plan(5, datetime(2026, 1, 1, tzinfo=UTC), 3)
    assert [row[0] for row in seeded.hosts] == [client_hostkey(3, i) for i in range(5)]


def test_a_rendered_hub_is_a_healthy_hub_to_the_readers(tmp_path: Path) -> None:
    cfg = LabConfig.for_id(7, root_base=tmp_path)
    hub1, hub2 = cfg.nodes
    clients = [client_hostkey(1, i) for i in range(20)]
    cfengine_side.write_node(cfg, hub2, clients)
    work = hub2.host_path(CFENGINE_DIR)
    files = read_cfengine_files(work, lambda: frozenset({hub2.address}))
    assert {n: s for n, s in files.file_states.items() if s != "ok"} == {
        "master_hub.dat": "missing"  # written by `up` and the cf-agent stand-in, not here
    }
    assert files.ha_info_drift is False and files.policy_hub_marker
    assert files.local_hub is not None and files.local_hub.ip == hub2.address
    keys = TrustKeysReader(work).read()
    assert {k.state for k in hub_keys(files, keys) or ()} == {"ok"}
    counter = ClientKeyCounter()
    assert files.hubs is not None
    known = frozenset(clients) | {hub1.hostkey, hub2.hostkey}
    counted = counter.count(files.hubs, keys, HubFacts(up=True, hostkeys=known))
    assert counted is not None and (counted.trusted, counted.missing) == (20, 0)
    assert all(hostkey_of_key_file(p.name) for p in (work / "ppkeys_hubs").iterdir())
    scripts = hub2.host_path(NOTIFICATION_SCRIPTS)
    config = read_mission_portal_config(work, scripts)
    assert set(config.states.values()) == {"ok"}
    cfengine_side.write_node(cfg, hub1, clients)
    other = read_mission_portal_config(
        hub1.host_path(CFENGINE_DIR), hub1.host_path(NOTIFICATION_SCRIPTS)
    )
    assert other.digests == config.digests  # the same files on both hubs


@pytest.mark.parametrize(
    ("active", "flag", "kept"), [(True, False, True), (False, False, False), (False, True, True)]
)
def test_the_cf_hub_stand_in_keeps_its_pid_file_where_cf_hub_runs(
    tmp_path: Path, active: bool, flag: bool, kept: bool
) -> None:
    pidfile, everywhere = tmp_path / "cf-hub.pid", tmp_path / "everywhere"
    pidfile.write_text("1\n")  # a stale one from before
    if flag:
        everywhere.touch()
    keep_pidfile(active, pidfile, everywhere)
    assert pidfile.exists() == kept
    if kept and active:
        assert pidfile.read_text() == "1\n"  # an existing one is left alone
    pidfile.unlink(missing_ok=True)
    keep_pidfile(active, pidfile, everywhere)
    assert pidfile.exists() == kept
    if kept:
        assert pidfile.read_text() == f"{os.getpid()}\n"
