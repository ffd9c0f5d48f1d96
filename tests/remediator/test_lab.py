"""The remediator against the live two-node lab: every scenario the issue lists, for real.

One remediator runs *inside each lab node* (Lab.spawn), as in production: its crm_resource,
cibadmin, pg_rewind and pg_basebackup run in that node's namespaces against the live cluster,
and it reads the node's own PGSQL.lock and data directory. The test plays Alertmanager: it POSTs
the alert to both hubs' webhooks (through Lab.forward), the way one receiver with two URLs does.
After each test the session's shared lab is restored to healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster import Lab
from lab.product.stackconfig import CLUSTER, lab_policy

from .conftest import TOKEN, alert, ban_alert, cleanup_alert, payload, resync_alert
from .snapshots import cleanup_argv

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
PORT = 9735


@dataclass
class Hub:
    name: str
    port: int
    pid: int
    log: Path

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def post(self, *alerts: dict[str, Any]) -> dict[str, Any]:
        """As Alertmanager sends them: each alert carries the exporter's `cluster` label."""
        ours = [{**a, "labels": {**a["labels"], "cluster": CLUSTER}} for a in alerts]
        status, body = self.request("POST", "/webhook", payload(*ours))
        assert status == 202, body
        return body  # type: ignore[no-any-return]

    def wait_job(self, job_id: str, timeout: float = 420) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            _, job = self.request("GET", f"/api/jobs/{job_id}")
            if job["state"] not in ("queued", "running"):
                return job  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['state']} after {timeout}s")
            time.sleep(1)


@pytest.fixture
def lab(lab_cluster: Lab) -> Iterator[Lab]:
    """The session's shared lab, healthy before the test and restored after it."""
    lab_cluster.restore_healthy()
    try:
        yield lab_cluster
    finally:
        lab_cluster.restore_healthy()


@pytest.fixture
def hubs(lab: Lab, tmp_path: Path) -> Iterator[dict[str, Hub]]:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump(lab_policy()))
    hubs: dict[str, Hub] = {}
    try:
        for node in lab.node_names:
            base = tmp_path / node
            base.mkdir()
            config = base / "remediator.yml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "cluster": CLUSTER,
                        "node": node,
                        "journal": str(base / "journal.db"),
                        "kill_switch_file": str(base / "paused"),
                        "policy_file": str(policy),
                        "web": {"listen_address": f"127.0.0.1:{PORT}", "token_file": str(token)},
                        "guard": {
                            "require_fencing": False,
                            "failover_freeze_seconds": 0,
                            "lock_wait_seconds": 120,
                            "poll_interval_seconds": 1,
                        },
                    }
                )
            )
            log = base / "remediator.log"
            hubs[node] = Hub(node, lab.forward(node, PORT), start_remediator(lab, node, base), log)
        for hub in hubs.values():
            wait_healthy(hub)
        yield hubs
    finally:
        for hub in hubs.values():
            lab.stop_spawned(hub.pid, timeout=40)


def start_remediator(lab: Lab, node: str, base: Path) -> int:
    """`cfha-remediator serve` inside the node, on the config and journal in `base`."""
    return lab.spawn(
        node,
        [
            sys.executable,
            "-m",
            "remediator",
            "--config.file",
            str(base / "remediator.yml"),
            "serve",
        ],
        env={"PYTHONPATH": str(REPO)},
        log_path=base / "remediator.log",
    )


def wait_healthy(hub: Hub, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if hub.request("GET", "/healthz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{hub.name}'s remediator did not start:\n{hub.log.read_text()}")
        time.sleep(0.3)


def mark_rows(lab: Lab, primary: str, count: int = 50) -> str:
    note = f"before-fault-{uuid.uuid4().hex[:8]}"
    lab.psql(
        primary,
        "INSERT INTO lab_writes (node, note) SELECT %s, %s FROM generate_series(1, %s)",
        (primary, note, count),
    )
    return note


def rows_on(lab: Lab, node: str, note: str) -> int:
    return int(lab.psql(node, "SELECT count(*) FROM lab_writes WHERE note = %s", (note,))[0][0])


def send_to_both(hubs: dict[str, Hub], an_alert: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: hub.post(an_alert) for name, hub in hubs.items()}


def resync_heals(lab: Lab, hubs: dict[str, Hub], scenario: str, alertname: str) -> dict[str, Any]:
    primary = lab.primary()
    note = mark_rows(lab, primary)
    hit = lab.inject(scenario)
    target = hit.node
    answers = send_to_both(hubs, alert(alertname, "resync_standby", node=target))
    other = lab.other(target)
    assert answers[other]["ignored"] == [
        {"fingerprint": answers[other]["ignored"][0]["fingerprint"], "reason": "not_my_node"}
    ]
    [job_id] = answers[target]["accepted"]
    job = hubs[target].wait_job(job_id)
    assert job["state"] == "succeeded", json.dumps(job, indent=1)[-6000:]
    status = lab.wait_healthy(timeout=120)
    assert status.healthy
    new_primary = lab.primary()
    assert rows_on(lab, target, note) == 50 and rows_on(lab, new_primary, note) == 50
    report(scenario, job)
    assert not lab.node(target).lock_host.exists() or target == new_primary
    return job


def report(what: str, job: dict[str, Any]) -> None:
    """Timings for the record (shown with `pytest -s`)."""
    steps = ", ".join(
        f"{s['name']} {s['duration']:.1f}s" for s in job["steps"] if s["duration"] is not None
    )
    total = job["finished_at"] - job["started_at"]
    print(f"\n{what}: {job['action']} {job['state']} in {total:.1f}s ({steps})")


def step_outcomes(job: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["outcome"] for s in job["steps"]}


def test_a_killed_standby_is_not_resynced_but_cleaned_up(lab: Lab, hubs: dict[str, Hub]) -> None:
    """Diagnose before cure (issue 16): a standby killed with its data intact is started again
    by a cleanup; the re-sync request is refused by its diagnosis and touches nothing."""
    note = mark_rows(lab, lab.primary())
    target = lab.inject("stop-standby").node
    answers = send_to_both(hubs, alert("CfHaPgStandbyNotStreaming", "resync_standby", node=target))
    job = hubs[target].wait_job(answers[target]["accepted"][0])
    assert (job["state"], job["refused_by"]) == ("refused", "diagnosis"), job["detail"]
    assert "not_running_data_intact" in job["detail"] and "resource_cleanup" in job["detail"]
    assert not [s for s in job["steps"] if s["duration"] is not None]  # nothing ran
    assert lab.status().nodes[target].pgdata_present

    answers = send_to_both(hubs, cleanup_alert(node=target, resource="cfpgsql"))
    job = hubs[target].wait_job(answers[target]["accepted"][0])
    assert job["state"] == "succeeded", json.dumps(job, indent=1)[-4000:]
    assert lab.wait_healthy(timeout=120).healthy
    assert rows_on(lab, target, note) == 50
    report("stop-standby", job)


def test_wipe_standby_is_recloned(lab: Lab, hubs: dict[str, Hub]) -> None:
    job = resync_heals(lab, hubs, "wipe-standby", "CfHaPgStandbyNotStreaming")
    steps = step_outcomes(job)
    assert steps["basebackup"] == "ok" and steps["swap_in"] == "ok"
    assert "rewind_dry_run" not in steps  # no data directory: nothing to rewind


def test_old_primary_is_resynced_after_kill_primary(lab: Lab, hubs: dict[str, Hub]) -> None:
    job = resync_heals(lab, hubs, "kill-primary", "CfHaPgsqlLockStale")
    steps = step_outcomes(job)
    assert steps["remove_lock"] == "ok" and steps["verify"] == "ok"


def test_diverged_old_primary_is_resynced(lab: Lab, hubs: dict[str, Hub]) -> None:
    job = resync_heals(lab, hubs, "diverge", "CfHaPgsqlLockStale")
    target = job["target"]
    assert (
        int(lab.psql(target, "SELECT count(*) FROM lab_writes WHERE note = 'diverged'")[0][0]) == 0
    )
    # restart_on_promote keeps the timeline: pg_rewind sees nothing to rewind, so it is re-cloned.
    steps = {s["name"]: s for s in job["steps"]}
    assert steps["rewind"]["outcome"] == "skipped"
    assert steps["basebackup"]["outcome"] == "ok"


def test_failed_monitor_is_cleaned_up(lab: Lab, hubs: dict[str, Hub]) -> None:
    hit = lab.inject("fail-monitor")
    answers = send_to_both(hubs, cleanup_alert(node=hit.node, resource="cfpgsql"))
    [job_id] = answers[hit.node]["accepted"]
    job = hubs[hit.node].wait_job(job_id)
    assert job["state"] == "succeeded", json.dumps(job, indent=1)[-4000:]
    assert job["steps"][0]["argv"] == list(cleanup_argv(hit.node))
    assert lab.wait_healthy(timeout=120).healthy
    report("fail-monitor", job)


def test_ban_is_cleared_by_exactly_one_hub(lab: Lab, hubs: dict[str, Hub]) -> None:
    hit = lab.inject("ban")
    constraint = f"cli-ban-mscfpgsql-on-{hit.node}"
    answers = send_to_both(hubs, ban_alert(constraint=constraint))
    jobs = {name: hubs[name].wait_job(a["accepted"][0]) for name, a in answers.items()}
    states = sorted((j["state"], j["refused_by"]) for j in jobs.values())
    assert states in (
        [("refused", "nothing_to_do"), ("succeeded", None)],
        [("refused", "cluster_lock"), ("succeeded", None)],
    ), states
    deleting = [
        j for j in jobs.values() if any(s["argv"] and "--delete" in s["argv"] for s in j["steps"])
    ]
    assert len(deleting) == 1
    assert lab.wait_healthy(timeout=120).healthy
    [acted] = deleting
    report("ban", acted)
    print(
        "the other hub:",
        [(j["state"], j["refused_by"], j["detail"]) for j in jobs.values() if j is not acted],
    )


def refused(hub: Hub, an_alert: dict[str, Any]) -> dict[str, Any]:
    [job_id] = hub.post(an_alert)["accepted"]
    job = hub.wait_job(job_id, timeout=60)
    assert job["state"] == "refused", job
    assert job["steps"] == []
    return job


def failed_checks(job: dict[str, Any]) -> set[str]:
    return {c["name"] for c in job["checks"] if not c["ok"]}


def test_refuses_in_maintenance_mode(lab: Lab, hubs: dict[str, Hub]) -> None:
    hit = lab.inject("stop-standby")
    lab.inject("maintenance")
    job = refused(hubs[hit.node], resync_alert(node=hit.node))
    assert job["refused_by"] == "not_maintenance"


def test_refuses_two_primaries(lab: Lab, hubs: dict[str, Hub]) -> None:
    hit = lab.inject("two-primaries")
    job = refused(hubs[hit.node], resync_alert(node=hit.node))
    assert {"target_not_primary", "single_primary"} <= failed_checks(job)


def test_refuses_to_resync_the_primary(lab: Lab, hubs: dict[str, Hub]) -> None:
    primary = lab.primary()
    job = refused(hubs[primary], resync_alert(node=primary))
    assert job["refused_by"] == "target_not_primary"


RACE = """
import json, sys, time
from clusterstate.tools import SubprocessRunner
from remediator.lock import ClusterLock
node, start, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
lock = ClusterLock(SubprocessRunner(), "cibadmin", node, timeout=20)
results = []
for i in range(rounds):
    time.sleep(max(0.0, start + 2.0 * i - time.time()))  # both hubs try at the same instant
    got = lock.acquire(f"race{i}-{node}", time.time(), 60).acquired
    results.append(got)
    time.sleep(0.8)
    if got:
        lock.release(f"race{i}-{node}")
print(json.dumps(results))
"""


def test_the_cib_lock_has_one_winner_per_race(lab: Lab) -> None:
    """Both hubs try to take the lock at the same moment, many times: one wins each round."""
    rounds, start = 12, time.time() + 3
    out: dict[str, list[bool]] = {}

    def race(node: str) -> None:
        done = lab.run(
            node,
            [sys.executable, "-c", RACE, node, str(start), str(rounds)],
            timeout=120,
            env={"PYTHONPATH": str(REPO)},
            check=True,
        )
        out[node] = json.loads(done.stdout.strip().splitlines()[-1])

    threads = [threading.Thread(target=race, args=(n,)) for n in lab.node_names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hub1, hub2 = (out[n] for n in lab.node_names)
    assert [a + b for a, b in zip(hub1, hub2, strict=True)] == [1] * rounds, (hub1, hub2)
    assert (
        lab.run(lab.primary(), ["cibadmin", "--query", "--scope", "crm_config"]).stdout.count(
            "cfha-remediation-lock"
        )
        == 0
    )


def test_refuses_without_quorum(lab: Lab, hubs: dict[str, Hub]) -> None:
    """A real quorum loss: two_node switched off at runtime, then the standby's stack dies.

    With `two_node: 1` (the lab's and CFEngine's setting) the survivor keeps quorum, which is
    why quorum alone is not enough (see `fencing`); switching two_node off in corosync's runtime
    map makes the survivor lose it, as a three-vote cluster would."""
    hit = lab.inject("ban")
    primary = lab.other(hit.node)
    try:
        for node in lab.node_names:
            lab.run(node, ["corosync-cmapctl", "-s", "quorum.two_node", "u8", "0"], check=True)
        lab.inject("stop-node", node=hit.node)
        quorum = lab.run(primary, ["corosync-quorumtool", "-s"]).stdout
        assert "Quorate:          No" in quorum, quorum
        job = refused(hubs[primary], ban_alert(constraint=f"cli-ban-mscfpgsql-on-{hit.node}"))
        assert job["refused_by"] == "quorate", job["checks"]
    finally:
        lab.run(primary, ["corosync-cmapctl", "-s", "quorum.two_node", "u8", "1"])


LOCK = """
import sys, time
from clusterstate.tools import SubprocessRunner
from remediator.lock import ClusterLock
node, verb, job = sys.argv[1:4]
lock = ClusterLock(SubprocessRunner(), "cibadmin", node, timeout=20)
if verb == "take":
    assert lock.acquire(job, time.time(), 14400).acquired, lock.read()
else:
    assert lock.release(job), lock.read()
"""


def cib_lock(lab: Lab, node: str, verb: str, job: str) -> None:
    """Take or release the cluster lock inside `node` exactly as a job there does."""
    argv = [sys.executable, "-c", LOCK, node, verb, job]
    lab.run(node, argv, timeout=60, env={"PYTHONPATH": str(REPO)}, check=True)


def kill_hard(pid: int) -> None:
    """SIGKILL the remediator and any process it started: a crash runs no `finally`."""
    family = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:  # the parent: a process this test started
            family.append(int(stat.parent.name))
    for member in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def test_a_lock_left_by_a_crash_is_released_at_recovery(
    lab: Lab, hubs: dict[str, Hub], tmp_path: Path
) -> None:
    """Issue 17 item 3, live: the remediator dies after its job took the cluster lock and before
    the job ran; it is restarted and the alert resolves. The lock is gone within that recovery
    (before, it stayed until its lifetime ran out: hours for a resync).

    The job waits for a lock the other hub holds, the remediator is killed, and the lock is
    then taken for that job the way the job would have taken it. The kill switch keeps the
    restarted worker from deciding the job again, so only the recovery can release the lock."""
    hit = lab.inject("ban")
    acting, other = hit.node, lab.other(hit.node)
    hub = hubs[acting]
    an_alert = ban_alert(constraint=f"cli-ban-mscfpgsql-on-{hit.node}")
    cib_lock(lab, other, "take", "held-by-the-other-hub")
    try:
        [job_id] = hub.post(an_alert)["accepted"]
        kill_hard(hub.pid)
        lab.stop_spawned(hub.pid)  # already dead: only forgets it
        cib_lock(lab, other, "release", "held-by-the-other-hub")
        cib_lock(lab, acting, "take", job_id)
        assert job_id in lab.run(acting, ["cibadmin", "--query", "--scope", "crm_config"]).stdout
        (tmp_path / acting / "paused").touch()
        hub.pid = start_remediator(lab, acting, tmp_path / acting)
        wait_healthy(hub)
        resolved = hub.post({**an_alert, "status": "resolved"})
        assert resolved["resolved"] == 1
        crm_config = lab.run(acting, ["cibadmin", "--query", "--scope", "crm_config"]).stdout
        assert "cfha-remediation-lock" not in crm_config, crm_config
        _, audit = hub.request("GET", "/api/audit?limit=50")
        released = [a for a in audit["audit"] if a["event"] == "lock_released"]
        assert [(a["job_id"], a["reason"]) for a in released] == [(job_id, "recovery")]
    finally:
        xpath = "//crm_config/cluster_property_set[@id='cfha-remediation-lock']"
        lab.run(acting, ["cibadmin", "--delete", "--xpath", xpath])
        (tmp_path / acting / "paused").unlink(missing_ok=True)
