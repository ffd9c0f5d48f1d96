"""Issue 17 item 1 on the live lab: a failed re-sync's recovery re-reads the cluster.

The story the issue tells: a re-sync fails in `verify` because, meanwhile, the other hub went
away and pacemaker promoted this node; the recovery step `reassert_hold` must then not ban the
node that is now the only primary. Here that happens for real: the remediator's own code runs
inside the standby's namespaces with the live runner, reader and CIB; the only thing the test
pins is *when* the other hub goes away (right after the re-sync's last command, `cleanup`, so
that `verify` is the step that sees it). The other hub is put in standby by a plain CIB write,
pacemaker demotes it and promotes this node, and the job then runs on as it would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.cluster import Lab
from lab.product.stackconfig import CLUSTER, lab_policy, remediator_config

from .conftest import TOKEN, payload, resync_alert

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]

# Runs inside the re-synced node. Everything but the runner's hook is the product as shipped.
JOB = r"""
import json, sys, time
from pathlib import Path

from clusterstate.tools import SubprocessRunner
from remediator.config import load_config
from remediator.live import cluster_reader, live_services
from remediator.models import parse_payload
from remediator.policy import load_policy
from remediator.service import Remediator

config_path, payload_path, other = sys.argv[1:4]
config = load_config(Path(config_path))
me = config.node_name


def wait(what, test, timeout=180):
    reader = cluster_reader(config, SubprocessRunner())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if test(reader.read()):
                return
        except Exception as exc:  # a read in the middle of a transition may fail: read again
            print("read failed:", exc, file=sys.stderr)
        time.sleep(1)
    raise SystemExit(f"gave up waiting for {what}")


def streaming(state):
    view = state.pacemaker.agent_view(me)
    return view is not None and (view.status or "").startswith("HS:")


class OtherHubGoesAwayAfterCleanup:
    def __init__(self, inner):
        self.inner, self.done = inner, False

    def run(self, argv, **kw):
        result = self.inner.run(argv, **kw)
        if "--cleanup" in argv and not self.done:
            self.done = True
            # A promotion needs a standby the agent knows as streaming (else no primary at all).
            wait(f"{me} streaming", streaming)
            standby = ["crm_attribute", "--node", other, "--name", "standby", "--update", "on"]
            self.inner.run(standby, timeout=30)
            wait(f"{me} promoted", lambda s: s.promoted_node == me)
            print(f"{other} went away, {me} is the primary", file=sys.stderr)
        return result


services = live_services(config, OtherHubGoesAwayAfterCleanup(SubprocessRunner()))
service = Remediator(config, load_policy(config.policy_file), services, start_worker=False)
try:
    [job_id] = service.receive(parse_payload(json.loads(Path(payload_path).read_text()))).accepted
    service.worker.run_pending()
    print(json.dumps(service.job_detail(job_id)))
finally:
    service.close()
"""


@pytest.fixture
def lab(lab_cluster: Lab) -> Iterator[Lab]:
    lab_cluster.restore_healthy()
    try:
        yield lab_cluster
    finally:
        lab_cluster.restore_healthy()


def test_recovery_never_bans_the_node_promoted_meanwhile(lab: Lab, tmp_path: Path) -> None:
    hit = lab.inject("wipe-standby")
    target, other = hit.node, lab.other(hit.node)
    policy = lab_policy()
    for rule in policy["rules"]:
        if rule["action"] == "resync_standby":
            rule["parameters"]["verify_timeout_seconds"] = 20  # it cannot pass: fail soon
    (tmp_path / "policy.yml").write_text(yaml.safe_dump(policy))
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    config = remediator_config(
        node=target,
        port=9736,  # not served: the job runs in-process
        journal=tmp_path / "journal.db",
        kill_switch_file=tmp_path / "paused",
        policy_file=tmp_path / "policy.yml",
        token_file=token,
        dry_run=False,
    )
    (tmp_path / "remediator.yml").write_text(yaml.safe_dump(config))
    an_alert = resync_alert(node=target)
    (tmp_path / "payload.json").write_text(
        json.dumps(payload({**an_alert, "labels": {**an_alert["labels"], "cluster": CLUSTER}}))
    )
    try:
        done = lab.run(
            target,
            [
                sys.executable,
                "-c",
                JOB,
                str(tmp_path / "remediator.yml"),
                str(tmp_path / "payload.json"),
                other,
            ],
            timeout=900,
            env={"PYTHONPATH": str(REPO)},
            check=True,
        )
        job = json.loads(done.stdout.splitlines()[-1])
        steps = {s["name"]: s for s in job["steps"]}
        assert job["state"] == "failed", job
        assert steps["cleanup"]["outcome"] == "ok", steps["cleanup"]
        assert steps["verify"]["outcome"] == "failed", steps["verify"]
        assert steps["reassert_hold"]["outcome"] == "skipped", steps["reassert_hold"]
        assert "target_not_primary" in steps["reassert_hold"]["detail"]
        assert lab.primary() == target
        constraints = lab.run(target, ["cibadmin", "--query", "--scope", "constraints"]).stdout
        assert "cfha-hold" not in constraints, constraints
    finally:
        lab.run(other, ["crm_attribute", "--node", other, "--name", "standby", "--delete"])
