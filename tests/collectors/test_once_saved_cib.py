"""The support-report case: `CIB_file=<saved CIB> cfha-exporter --once` examines a cluster offline,
through the real command line, crm_mon and cibadmin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.offline.cibstates import PCMK_TZ, CibStates
from tests.support.metrics_text import sample_value


def test_once_reads_a_saved_cib(cib_states: CibStates, tmp_path: Path) -> None:
    config = tmp_path / "cfha.yml"
    config.write_text(f"node: hub2\ncollectors:\n  pacemaker:\n    time_zone: {PCMK_TZ}\n")
    env = {**os.environ, "CIB_file": str(cib_states.failover())}
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(config), "--once",
         "--no-collector.postgres", "--no-collector.corosync"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert 'cluster="cfcluster"' in text  # the cluster's name, read from the saved CIB
    assert sample_value(text, "cfha_pacemaker_up", node="hub2") == 1
    assert sample_value(text, "cfha_pacemaker_local_is_dc", node="hub2") == 0
    assert sample_value(text, "cfha_pacemaker_database_promoted", node="hub2") == 1
    assert sample_value(text, "cfha_pacemaker_failed_actions") == 1
    assert sample_value(text, "cfha_pgsql_status", node="hub2", state="PRI") == 1
    success = "cfha_exporter_collector_success"
    assert sample_value(text, success, collector="pacemaker") == 1
    assert sample_value(text, success, collector="pgsql_agent") == 1
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=done.stdout,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
