"""The state file and process bookkeeping (no lab needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lab import procs
from lab.procs import ProcError, ProcRef
from lab.state import LabState, StateError, StateStore, Tracked, from_json, to_json


def _state() -> LabState:
    state = LabState(lab_id=3, root="/tmp/cfha-lab-3", phase="up", owner_pid=42)
    state = state.with_node("hub1", holder=ProcRef(10, 100), netns_inode=4026532000)
    state = state.with_node("hub1", corosync=ProcRef(11, 101), pacemakerd=ProcRef(12, 102))
    tracked = Tracked(
        kind="forward",
        node="hub1",
        proc=ProcRef(13, 103),
        argv=("x",),
        log="/l",
        port=5432,
        target_host="10.250.3.100",
        local_port=40000,
    )
    return LabState(**{**state.__dict__, "tracked": (tracked,), "seed_hosts": 50})


def test_state_round_trips_through_json():
    state = _state()
    assert from_json(json.loads(json.dumps(to_json(state)))) == state


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"version": 99},
        {"version": 1, "lab_id": 1},
        {
            "version": 1,
            "lab_id": "x",
            "root": "",
            "phase": "up",
            "owner_pid": 1,
            "nodes": {"hub1": {"holder": {"pid": "a"}}},
        },
    ],
)
def test_malformed_state_is_a_state_error(bad):
    with pytest.raises(StateError):
        from_json(bad)


def test_store_update_is_atomic_and_locked(tmp_path):
    store = StateStore(tmp_path / "state.json", tmp_path / "state.lock")
    assert not store.exists()
    with pytest.raises(StateError):
        store.load()
    store.save(_state())
    updated = store.update(lambda s: s.with_node("hub2", netns_inode=7))
    assert store.load() == updated
    assert updated.node("hub2").netns_inode == 7
    assert not (tmp_path / "state.tmp").exists()
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(StateError):
        store.load()


def test_process_refs_detect_exit_and_pid_reuse():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref = procs.ref_of(child.pid)
        assert procs.is_alive(ref)
        assert not procs.is_alive(ProcRef(ref.pid, ref.start + 1))  # another process, same pid
        procs.terminate([ref], timeout=5)
        assert not procs.is_alive(ref)
    finally:
        child.kill()
        child.wait()


def test_terminate_escalates_to_sigkill():
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        ref = procs.ref_of(child.pid)
        time.sleep(0.3)  # let it install the handler
        started = time.monotonic()
        procs.terminate([ref], timeout=0.5)
        assert not procs.is_alive(ref)
        assert time.monotonic() - started < 5
    finally:
        child.kill()
        child.wait()


def test_launch_detached_reparents_and_logs(tmp_path):
    log = tmp_path / "out.log"
    ref = procs.launch_detached(
        [sys.executable, "-c", "print('hello', flush=True); import time; time.sleep(60)"],
        log_path=log,
    )
    try:
        assert procs.is_alive(ref)
        assert procs.parent_pid(ref.pid) != os.getpid()
        deadline = time.monotonic() + 10
        while "hello" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "hello" in log.read_text()
    finally:
        procs.terminate([ref], timeout=5)


def test_launch_detached_reports_a_missing_program(tmp_path):
    with pytest.raises(ProcError):
        procs.launch_detached(["/nonexistent/program"], log_path=tmp_path / "x.log")


def test_the_host_network_namespace_is_never_listed():
    own = procs.netns_inode(os.getpid())
    assert own is not None and procs.is_host_netns(own)
    with pytest.raises(ProcError):
        procs.pids_in_netns(own)
