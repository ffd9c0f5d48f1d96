"""The readers of CFEngine's HA files and trust keys, on real files: each file well-formed,
missing, garbage and unreadable (as `nobody`), never an exception."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from clusterstate.cfengine import (
    FILES,
    HA_CFG,
    HA_ENABLED,
    HA_INFO,
    HA_INFO_MASTERFILES,
    MASTER_HUB,
    POLICY_HUB_MARKER,
    read_cfengine_files,
)
from clusterstate.cfengine_keys import KeyDirectoryReader, TrustKeysReader
from clusterstate.parsers.cfengine_files import (
    DOCUMENTED_HA_CFG,
    CfengineFileError,
    HaCfg,
    documented_ha_cfg,
    ha_cfg_deviations,
    hostkey_of_key_file,
    mission_portal_role,
    parse_ha_cfg,
)
from tests.support.unprivileged import as_nobody, open_directory

SHA1, SHA2 = "1f" * 32, "2e" * 32
HA_INFO_TEXT = json.dumps({"10.250.5.1": {"sha": SHA1}, "10.250.5.2": {"sha": SHA2}})
HA_CFG_TEXT = (
    "cmp_master: PRI\n"
    "cmp_slave: HS:async,HS:sync,HS:alone\n"
    "cmd: /usr/sbin/crm_attribute -l reboot -n cfpgsql-status -G -q\n"
)
LOCAL = frozenset({"10.250.5.1"})


def workdir(base: Path, **texts: str | None) -> Path:
    """A CFEngine work directory with every HA file; `name=None` leaves one out."""
    contents = {
        HA_INFO: HA_INFO_TEXT,
        HA_INFO_MASTERFILES: HA_INFO_TEXT,
        MASTER_HUB: "10.250.5.1\n",
        HA_ENABLED: "",
        HA_CFG: HA_CFG_TEXT,
        POLICY_HUB_MARKER: "",
    }
    names = {
        "ha_info": HA_INFO,
        "masterfiles": HA_INFO_MASTERFILES,
        "master_hub": MASTER_HUB,
        "ha_enabled": HA_ENABLED,
        "ha_cfg": HA_CFG,
        "marker": POLICY_HUB_MARKER,
    }
    for key, text in texts.items():
        contents[names[key]] = text  # type: ignore[assignment]
    for relative, text in contents.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text)
    return base


# -- ha.cfg ------------------------------------------------------------------------------------
def test_ha_cfg_as_the_guide_writes_it() -> None:
    cfg = parse_ha_cfg("# written by hand\n\n" + HA_CFG_TEXT)
    assert cfg == DOCUMENTED_HA_CFG
    assert ha_cfg_deviations(cfg) == ()
    assert cfg.argv() == (
        "/usr/sbin/crm_attribute",
        "-l",
        "reboot",
        "-n",
        "cfpgsql-status",
        "-G",
        "-q",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "lacks cmp_master, cmp_slave, cmd"),
        ("cmp_master: PRI\ncmp_slave: HS:async\n", "lacks cmd"),
        ("cmp_master PRI\n", "line 1: expected"),
        ("mode: active\n", "line 1: expected"),
        (HA_CFG_TEXT + "cmd: true\n", "line 4: cmd given twice"),
        ("\x00\x01garbage", "line 1"),
    ],
)
def test_malformed_ha_cfg_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CfengineFileError, match=message):
        parse_ha_cfg(text)


def test_ha_cfg_deviations_compare_the_command_word_by_word() -> None:
    spaced = HaCfg(
        "PRI",
        ("HS:alone", "HS:sync", "HS:async"),
        "  /usr/sbin/crm_attribute  -l reboot  -n cfpgsql-status -G -q ",
    )
    assert ha_cfg_deviations(spaced) == ()  # spacing and list order do not matter
    other = HaCfg("PRI", ("HS:async",), "/usr/sbin/crm_attribute -l reboot -n pgsql-status -G -q")
    found = ha_cfg_deviations(other)
    assert any("cmd is" in d for d in found) and any("cmp_slave is 'HS:async'" in d for d in found)
    assert ha_cfg_deviations(other, documented_ha_cfg("pgsql"))[0].startswith("cmp_slave")


@pytest.mark.parametrize(
    ("status", "role"),
    [
        ("PRI", "active"),
        ("HS:async", "passive"),
        ("HS:sync", "passive"),
        ("HS:alone", "passive"),
        ("HS:connected", "unknown"),
        ("HS:potential", "unknown"),
        ("STOP", "unknown"),
        ("UNKNOWN", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_mission_portals_mapping(status: str | None, role: str) -> None:
    assert mission_portal_role(DOCUMENTED_HA_CFG, status) == role


def test_mission_portal_follows_the_hubs_own_ha_cfg() -> None:
    strict = HaCfg("PRI", ("HS:async", "HS:sync"), DOCUMENTED_HA_CFG.cmd)
    assert mission_portal_role(strict, "HS:alone") == "unknown"
    assert mission_portal_role(None, "PRI") == "unknown"


def test_key_file_names() -> None:
    assert hostkey_of_key_file(f"root-SHA={SHA1}.pub") == f"SHA={SHA1}"
    assert hostkey_of_key_file("root-MD5=0123abcd.pub") == "MD5=0123abcd"
    for other in (
        "localhost.pub",
        "localhost.priv",
        f"root-SHA={SHA1}.pub.bak",
        f"SHA={SHA1}.pub",
        "root-SHA=nothex.pub",
        ".hidden",
    ):
        assert hostkey_of_key_file(other) is None


# -- the HA files ------------------------------------------------------------------------------
def test_every_file_read_and_digested(tmp_path: Path) -> None:
    files = read_cfengine_files(workdir(tmp_path), lambda: LOCAL)
    assert set(files.file_states) == set(FILES)
    assert all(state == "ok" for state in files.file_states.values())
    assert files.ha_cfg == DOCUMENTED_HA_CFG and files.policy_hub_marker and files.ha_enabled
    assert files.local_hub is not None and files.local_hub.ip == "10.250.5.1"
    assert set(files.digests) == {"ha_info.json", "masterfiles/ha_info.json", "ha.cfg"}
    assert all(0 <= d < 2**48 for d in files.digests.values())
    assert files.ha_info_drift is False


def test_inputs_copy_is_the_one_read_and_drift_is_seen(tmp_path: Path) -> None:
    other = json.dumps({"10.250.5.1": {"sha": SHA1}, "10.250.5.9": {"sha": SHA2}})
    files = read_cfengine_files(workdir(tmp_path, masterfiles=other), lambda: LOCAL)
    assert [h.ip for h in files.hubs or ()] == ["10.250.5.1", "10.250.5.2"]  # inputs
    assert files.ha_info_drift is True
    gone = read_cfengine_files(workdir(tmp_path / "b", masterfiles=None), lambda: LOCAL)
    assert gone.file_states["masterfiles/ha_info.json"] == "missing"
    assert gone.ha_info_drift is None  # unknown, not "no drift"


def test_garbage_is_invalid_with_its_reason(tmp_path: Path) -> None:
    files = read_cfengine_files(
        workdir(tmp_path, ha_cfg="cmp_master=PRI\n", ha_info="{", master_hub="nope\n"),
        lambda: LOCAL,
    )
    assert files.file_states["ha.cfg"] == "invalid" and "line 1" in files.errors["ha.cfg"]
    assert files.file_states["ha_info.json"] == "invalid" and files.hubs is None
    assert files.file_states["master_hub.dat"] == "invalid" and files.master_hub_ip is None
    assert "ha.cfg" in files.digests  # the bytes were read: the hubs can still be compared


def test_missing_files_and_workdir(tmp_path: Path) -> None:
    files = read_cfengine_files(workdir(tmp_path, ha_cfg=None, marker=None), lambda: LOCAL)
    assert files.file_states["ha.cfg"] == "missing" and files.ha_cfg is None
    assert files.policy_hub_marker is False
    nothing = read_cfengine_files(tmp_path / "absent", frozenset)
    assert not nothing.workdir_present
    assert set(nothing.file_states.values()) == {"missing"}


def test_unreadable_files_as_an_unprivileged_user() -> None:
    with open_directory() as base:
        work = workdir(base)
        for relative in (HA_CFG, HA_INFO):
            (work / relative).chmod(0o600)
        (work / HA_ENABLED).chmod(0o000)  # a marker: only its existence is read
        files = as_nobody(lambda: read_cfengine_files(work, lambda: LOCAL))
    assert files.file_states["ha.cfg"] == "unreadable"
    assert "Permission denied" in files.errors["ha.cfg"]
    assert files.file_states["ha_info.json"] == "unreadable" and files.hubs is None
    assert files.file_states["ha_enabled"] == "ok" and files.ha_enabled
    assert files.file_states["master_hub.dat"] == "ok"


# -- trust keys --------------------------------------------------------------------------------
def keys_dir(path: Path, clients: int, hubs: dict[str, int] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for n in range(clients):
        (path / f"root-SHA={n:064x}.pub").write_text("k")
    for sha, size in (hubs or {}).items():
        (path / f"root-SHA={sha}.pub").write_bytes(b"k" * size)
    (path / "localhost.pub").write_text("me")
    (path / "localhost.priv").write_text("secret")
    (path / "notes.txt").write_text("not a key")
    return path


def test_key_directories_list_names_and_hub_key_sizes(tmp_path: Path) -> None:
    keys_dir(tmp_path / "ppkeys", 5)
    keys_dir(tmp_path / "ppkeys_hubs", 0, {SHA1: 426, SHA2: 100})
    keys = TrustKeysReader(tmp_path).read()
    assert keys.ppkeys.present and len(keys.ppkeys.hostkeys) == 5 and not keys.ppkeys.sizes
    assert keys.ppkeys_hubs.sizes == {f"SHA={SHA1}": 426, f"SHA={SHA2}": 100}


def test_a_listing_is_kept_while_the_directory_is_unchanged(tmp_path: Path) -> None:
    ppkeys = keys_dir(tmp_path / "ppkeys", 3)
    old = time.time() - 60
    os.utime(ppkeys, (old, old))
    reader = KeyDirectoryReader(ppkeys, sizes=False)
    first = reader.read()
    assert reader.read() is first and reader.listings == 1  # one stat(), no listing
    (ppkeys / f"root-SHA={'ab' * 32}.pub").write_text("new client")  # the mtime moves
    second = reader.read()
    assert reader.listings == 2 and len(second.hostkeys) == 4
    # A change within RACY_SECONDS is listed again on the next read: a file added in the same
    # clock tick after the listing is never missed.
    assert reader.read() is not second and reader.listings == 3


def test_missing_and_unlistable_key_directories() -> None:
    with open_directory() as base:
        keys_dir(base / "ppkeys", 2).chmod(0o700)
        keys = as_nobody(lambda: TrustKeysReader(base).read())
    assert keys.ppkeys.present is None and keys.ppkeys.error_reason == "permission"
    assert keys.ppkeys_hubs.present is False and keys.ppkeys_hubs.error_reason is None
    assert "does not exist" in (keys.ppkeys_hubs.error or "")
