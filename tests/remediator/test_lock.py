"""The cluster lock with the real cibadmin on a CIB file (`CIB_file`).

Offline the CIB manager is not involved, so these tests check the semantics (create fails when
the lock exists, compare-and-delete only removes the exact holder, expired locks are taken over,
malformed ones are left to humans); the atomicity between two hubs is tested on the live lab.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clusterstate.pacemaker_state import LOCK_SET_ID
from clusterstate.tools import SubprocessRunner
from remediator.lock import ClusterLock, LockError, parse_lock

pytestmark = pytest.mark.skipif(shutil.which("cibadmin") is None, reason="cibadmin not installed")


@pytest.fixture
def cib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cib.xml"
    path.write_bytes(
        subprocess.run(["cibadmin", "--empty"], check=True, capture_output=True).stdout
    )
    monkeypatch.setenv("CIB_file", str(path))
    return path


def lock(node: str) -> ClusterLock:
    return ClusterLock(SubprocessRunner(), "cibadmin", node, timeout=10)


def test_only_one_holder_until_release(cib: Path) -> None:
    hub1, hub2 = lock("hub1"), lock("hub2")
    got = hub1.acquire("job1", now=1000, ttl=100)
    assert got.acquired and got.state.owner_node == "hub1" and got.state.expires == 1100
    busy = hub2.acquire("job2", now=1050, ttl=100)
    assert not busy.acquired and "hub1" in busy.detail
    assert hub1.acquire("job1", now=1060, ttl=100).acquired  # re-entrant for the same job
    assert not hub2.release("job2")  # not theirs: left alone
    assert hub1.read().job_id == "job1"
    assert hub1.release("job1")
    assert not hub1.read().held
    assert hub2.acquire("job2", now=1070, ttl=100).acquired


def test_expired_lock_is_taken_over_exactly(cib: Path) -> None:
    hub1, hub2 = lock("hub1"), lock("hub2")
    assert hub1.acquire("job1", now=1000, ttl=100).acquired
    taken = hub2.acquire("job2", now=1101, ttl=100)
    assert taken.acquired and taken.state.owner_node == "hub2"
    assert not hub1.release("job1")  # its lock is gone; it must not delete hub2's
    assert hub2.read().job_id == "job2"


def test_lock_lives_in_the_cib_and_keeps_it_valid(cib: Path) -> None:
    assert lock("hub1").acquire("job1", now=1000, ttl=100).acquired
    text = cib.read_text()
    assert f'<cluster_property_set id="{LOCK_SET_ID}">' in text
    assert parse_lock(cib.read_bytes()).raw == "owner=hub1;job=job1;acquired=1000;expires=1100"
    # Pacemaker ignores the set: not even its most verbose check mentions it.
    verify = subprocess.run(
        ["crm_verify", "-VVVV", "--xml-file", str(cib)], check=False, capture_output=True, text=True
    )
    assert "unpack" in verify.stderr  # it did look at the configuration
    assert "cfha" not in verify.stdout + verify.stderr


def test_malformed_lock_is_never_deleted(cib: Path) -> None:
    xml = (
        f'<cluster_property_set id="{LOCK_SET_ID}"><nvpair id="cfha-remediation-lock-holder" '
        'name="cfha-remediation-lock-holder" value="someone&apos;s lock"/></cluster_property_set>'
    )
    subprocess.run(["cibadmin", "--create", "--scope", "crm_config", "--xml-text", xml], check=True)
    state = lock("hub1").read()
    assert state.held and state.expires is None
    assert not lock("hub1").acquire("job1", now=10**10, ttl=100).acquired
    with pytest.raises(LockError):
        lock("hub1")._delete_exact(state.raw or "")


def test_unreadable_cib_is_a_lock_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIB_file", str(tmp_path / "missing.xml"))
    with pytest.raises(LockError):
        lock("hub1").read()
