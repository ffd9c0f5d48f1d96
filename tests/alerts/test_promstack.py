"""tests/support/promstack.py on its own, without the lab: Prometheus evaluates a rule, sends the
alert to Alertmanager, Alertmanager delivers it to the sink; everything stops by PID."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lab.product.promstack import PromStack, StackError, missing_binaries, wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_prometheus_alertmanager_and_sink_on_loopback(tmp_path: Path) -> None:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "g",
                        "rules": [
                            {
                                "alert": "Always",
                                "expr": 'label_replace(vector(1), "cluster", "c", "", "")',
                                "labels": {"severity": "warning"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    with PromStack(tmp_path) as stack:
        am = stack.alertmanager(
            {
                "route": {
                    "receiver": "sink",
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {"name": "sink", "webhook_configs": [{"url": stack.sink.url("hook")}]}
                ],
            }
        )
        prom = stack.prometheus(scrape_configs=[], rule_files=[rules], alertmanagers=[am])
        assert prom.query("vector(2)")[0]["value"][1] == "2"
        got = stack.sink.wait_for(
            lambda ns: any(("Always", "firing") in n.episodes() for n in ns), 60, "the alert"
        )
        assert got[0].path == "/hook" and got[0].body["version"] == "4"
        assert any(a["labels"]["alertname"] == "Always" for a in am.alerts())
        with pytest.raises(StackError):
            prom.query("this is not promql")
        pids = [d.process.pid for d in stack.daemons if d.process is not None]
        assert len(pids) == 2
    wait_until(lambda: not any(alive(pid) for pid in pids), 10, "both daemons gone")


def test_a_daemon_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    with PromStack(tmp_path) as stack, pytest.raises(StackError, match="did not start"):
        stack.alertmanager({"route": {"receiver": "missing"}, "receivers": []})
