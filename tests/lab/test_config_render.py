"""Names, addresses and rendered configuration of a lab (pure)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import render
from lab.config import MAX_LAB_ID, LabConfig, LabConfigError, check_lab_id, lab_id_from_env
from lab.nodeinit import mount_plan
from lab.pglayout import for_major


def test_every_lab_id_gives_distinct_short_names_and_subnets():
    seen_links, seen_subnets, seen_roots = set(), set(), set()
    for lab_id in range(MAX_LAB_ID + 1):
        cfg = LabConfig.for_id(lab_id)
        for node in cfg.nodes:
            assert len(node.link) <= 15
            assert node.link not in seen_links
            seen_links.add(node.link)
            assert node.address.startswith(f"10.250.{lab_id}.")
        assert cfg.vip == f"10.250.{lab_id}.100"
        seen_subnets.add(cfg.subnet)
        seen_roots.add(cfg.root)
    assert len(seen_subnets) == len(seen_roots) == MAX_LAB_ID + 1


@pytest.mark.parametrize("bad", [-1, MAX_LAB_ID + 1, 250])
def test_bad_lab_ids_are_refused(bad):
    with pytest.raises(LabConfigError):
        check_lab_id(bad)


def test_lab_id_from_env(monkeypatch):
    monkeypatch.setenv("CFHA_LAB_ID", "7")
    assert lab_id_from_env() == 7
    monkeypatch.setenv("CFHA_LAB_ID", "x")
    with pytest.raises(LabConfigError):
        lab_id_from_env()
    monkeypatch.delenv("CFHA_LAB_ID")
    assert lab_id_from_env() == 0


def test_node_paths_and_dsns():
    cfg = LabConfig.for_id(4, Path("/base"))
    hub1 = cfg.node("hub1")
    assert hub1.pgdata_host == Path("/base/cfha-lab-4/hub1/cfengine/state/pg/data")
    assert hub1.lock_host == Path("/base/cfha-lab-4/hub1/cfengine/state/pg/tmp/PGSQL.lock")
    assert hub1.pg_dsn() == "host=/var/cfengine/state/pg port=5432 user=postgres dbname=cfdb"
    assert "host=/base/cfha-lab-4/hub1/cfengine/state/pg" in hub1.pg_dsn_host()
    assert cfg.other("hub1").name == "hub2"
    assert len(hub1.hostkey_sha) == 64
    assert hub1.hostkey_sha != cfg.node("hub2").hostkey_sha
    with pytest.raises(LabConfigError):
        cfg.node("hub3")


def test_corosync_conf_lists_both_nodes_with_two_node_quorum():
    text = render.corosync_conf(LabConfig.for_id(2))
    assert "two_node: 1" in text
    assert "transport: knet" in text
    assert "name: hub1" in text and "ring0_addr: 10.250.2.1" in text
    assert "name: hub2" in text and "ring0_addr: 10.250.2.2" in text


@pytest.mark.parametrize(
    ("major", "bin_dir"), [(15, "/usr/lib/postgresql/15/bin"), (18, "/var/cfengine/bin")]
)
def test_pgsql_params_follow_the_cfengine_guide(major: int, bin_dir: str):
    params = render.pgsql_params(LabConfig.for_id(1), for_major(major).bin_dir)
    assert params["pgctl"] == f"{bin_dir}/pg_ctl"
    assert params["psql"] == f"{bin_dir}/psql"
    assert params["pgdata"] == "/var/cfengine/state/pg/data"
    assert params["tmpdir"] == "/var/cfengine/state/pg/tmp"
    assert params["rep_mode"] == "async"
    assert params["node_list"] == "hub1 hub2"
    assert params["master_ip"] == "10.250.1.100"
    assert params["restart_on_promote"] == "true"
    assert params["check_wal_receiver"] == "true"


def test_cib_has_the_cfengine_resources_and_passes_crm_verify(tmp_path):
    text = render.cib_xml(LabConfig.for_id(1), for_major(18).bin_dir)
    for needle in (
        '<clone id="mscfpgsql">',
        '<primitive id="cfpgsql" class="ocf" provider="heartbeat" type="pgsql">',
        '<group id="cfengine">',
        'type="IPaddr2"',
        'name="resource-stickiness" value="INFINITY"',
        'name="migration-threshold" value="1"',
        'name="dc-deadtime" value="2s"',
        'name="stonith-enabled" value="false"',
        'with-rsc-role="Promoted"',
        'interval="3s"',
        'interval="4s"',
    ):
        assert needle in text
    if shutil.which("crm_verify") is None:
        pytest.skip("crm_verify not installed")
    cib = tmp_path / "cib.xml"
    cib.write_text(text)
    done = subprocess.run(
        ["crm_verify", "-x", str(cib)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def test_postgresql_settings_are_the_same_on_both_nodes():
    cfg = LabConfig.for_id(3)
    text = render.postgresql_conf_extra(cfg)
    for needle in (
        "wal_log_hints = on",
        "restart_after_crash = off",
        "archive_mode = on",
        "fsync = off",
        "unix_socket_directories = '/var/cfengine/state/pg'",
    ):
        assert needle in text
    assert "hub1" not in text and "hub2" not in text  # pitfall P3: nothing per node
    assert "10.250.3.0/24" in render.pg_hba_conf(cfg)


def test_ha_info_json_is_keyed_by_hub_ip():
    cfg = LabConfig.for_id(6)
    info = json.loads(render.ha_info_json(cfg))
    assert set(info) == {"10.250.6.1", "10.250.6.2"}
    entry = info["10.250.6.1"]
    assert entry["internal_ip"] == "10.250.6.1"
    assert entry["is_in_cluster"] is True
    assert len(entry["sha"]) == 64 and int(entry["sha"], 16) >= 0


def test_ocf_shellfuncs_patch_fixes_the_promotion_call():
    original = "x\n\t\t${HA_SBIN_DIR}/crm_attribute -p $@\n\telse\n"
    patched = render.patched_ocf_shellfuncs(original)
    assert '${HA_SBIN_DIR}/crm_attribute --promotion "$@"' in patched
    assert "-p $@" not in patched
    with pytest.raises(render.RenderError):
        render.patched_ocf_shellfuncs("nothing to patch here")


def test_the_installed_ocf_shellfuncs_can_be_patched():
    installed = Path("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs")
    if not installed.exists():
        pytest.skip("resource-agents not installed")
    assert "--promotion" in render.patched_ocf_shellfuncs(installed.read_text())


def test_etc_hosts_gets_the_node_names():
    text = render.etc_hosts("127.0.0.1 localhost\n", LabConfig.for_id(2))
    assert "10.250.2.1\thub1" in text and "127.0.0.1 localhost" in text


def test_mount_plan_covers_the_private_node_view():
    root = Path("/r/hub1")
    targets = [argv[-1] for argv in mount_plan(root)]
    for path in (
        "/sys",
        "/run",
        "/dev/shm",
        "/var",
        "/var/cfengine",
        "/etc/corosync",
        "/var/lib/pacemaker",
        "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs",
        "/etc/hosts",
    ):
        assert path in targets
    # the overlay on /var must come before the bind mounts below /var
    assert targets.index("/var") < targets.index("/var/cfengine")
