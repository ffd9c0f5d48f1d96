"""`cfha-remediator` subcommands (plan over the simulated cluster; the rest on the journal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from remediator.cli import main
from remediator.config import RemediatorConfig
from tests.remediator.snapshots import cleanup_argv

from .conftest import TOKEN, AppFactory, ban_alert, cleanup_alert, payload, resync_alert
from .fakeworld import World
from .snapshots import standby_failed
from .test_worker import run, send


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    path = tmp_path / "remediator.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "cluster": "cftest",
                "node": "hub2",
                "journal": str(tmp_path / "hub2" / "journal.db"),
                "kill_switch_file": str(tmp_path / "hub2" / "paused"),
                "web": {"token_file": str(token)},
            }
        )
    )
    return path


def test_check_config(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config.file", str(config_file), "check-config"]) == 0
    assert "3 rule(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump({"cluster": "c", "web": {"listen": 1}, "guard": {"pgsql_resource": "a b"}})
    )
    assert main(["--config.file", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "web.listen: Extra inputs are not permitted" in err
    assert "guard.pgsql_resource" in err


def test_plan_command(
    config_file: Path, tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    body = tmp_path / "payload.json"
    body.write_text(
        json.dumps(payload(resync_alert(), cleanup_alert(node="hub1", resource="cfvirtip")))
    )

    def services(config: RemediatorConfig) -> object:
        return world.services(config.node_name)

    code = main(["--config.file", str(config_file), "plan", str(body)], services)  # type: ignore[arg-type]
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    resync, cleanup = out["alerts"]
    assert resync["decision"] == "act" and resync["plan"]["steps"][0]["name"] == "hold"
    assert cleanup["decision"] == "refuse" and cleanup["refused_by"] == "nothing_to_do"
    assert world.calls == []
    assert main(["--config.file", str(config_file), "jobs"]) == 0
    assert capsys.readouterr().out == ""  # the plan queued nothing
    body.write_text("{}")
    assert main(["--config.file", str(config_file), "plan", str(body)], services) == 2  # type: ignore[arg-type]


def test_snapshot_prints_what_every_decision_reads(
    config_file: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")

    def services(config: RemediatorConfig) -> object:
        return world.services(config.node_name)

    assert main(["--config.file", str(config_file), "snapshot"], services) == 0  # type: ignore[arg-type]
    out = json.loads(capsys.readouterr().out)
    assert out["promoted"] == ["hub1"] and out["quorate"] is True
    assert out["agent_status"] == {"hub1": "PRI", "hub2": "STOP"}
    assert out["failures"][0]["node"] == "hub2" and world.calls == []
    world.readable = False
    assert main(["--config.file", str(config_file), "snapshot"], services) == 1  # type: ignore[arg-type]
    assert "cannot read the cluster: unavailable" in capsys.readouterr().err


def test_killswitch_works_without_the_service(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config.file", str(config_file), "killswitch"]
    assert main([*args, "on", "--reason", "storage work"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["engaged"] and state["reason"] == "storage work" and state["by"].startswith("cli:")
    assert (tmp_path / "hub2" / "paused").exists()
    assert main([*args, "off"]) == 0
    assert json.loads(capsys.readouterr().out)["engaged"] is False
    assert main(["--config.file", str(config_file), "audit"]) == 0
    out = capsys.readouterr().out
    assert "kill_switch_engaged storage work" in out and "kill_switch_released" in out


def test_jobs_and_circuit_commands(
    make_app: AppFactory,
    world: World,
    tmp_path: Path,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app("hub2")
    world.cause_present.add("hub2")
    world.set(standby_failed(world.snapshot("hub2"), "hub2"))
    world.diverge("hub2")
    job_id = send(app, cleanup_alert())["accepted"][0]
    send(app, ban_alert())
    run(app)
    args = ["--config.file", str(config_file)]
    assert main([*args, "jobs"]) == 0
    listing = capsys.readouterr().out
    assert job_id in listing and "failed" in listing and "nothing_to_do" in listing
    assert main([*args, "jobs", "--id", job_id]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["steps"][0]["argv"] == list(cleanup_argv("hub2"))
    assert main([*args, "circuit", "list"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["open"] == 1
    assert main([*args, "circuit", "reset", "resource_cleanup", "cfpgsql@hub2"]) == 0
    assert main([*args, "circuit", "reset", "resource_cleanup", "cfpgsql@hub2"]) == 1
    assert main([*args, "jobs", "--id", "nope"]) == 1


def test_shipped_example_and_default_policy_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).resolve().parents[2] / "remediator" / "example.yml"
    data = yaml.safe_load(example.read_text())
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    data["web"]["token_file"] = str(token)
    copy = tmp_path / "example.yml"
    copy.write_text(yaml.safe_dump(data))
    assert main(["--config.file", str(copy), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "cleanup-failed-resource, clear-leftover-cli-constraints, resync-standby" in out
