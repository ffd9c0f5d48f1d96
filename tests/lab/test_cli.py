"""The command line, without a live lab."""

from __future__ import annotations

import json

import pytest

from lab.cli import _jsonable, main
from lab.scenarios import SCENARIOS


def test_scenarios_are_listed_with_their_summary(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(SCENARIOS)
    assert all(len(line.split(maxsplit=1)) == 2 for line in out)


def test_a_bad_lab_id_is_a_clear_error(capsys):
    assert main(["--id", "99", "status"]) == 1
    assert "lab id must be 0..20" in capsys.readouterr().err


def test_status_of_a_lab_that_is_not_up(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("lab.config.DEFAULT_ROOT_BASE", tmp_path)
    assert main(["--id", "20", "status"]) == 3
    assert "not up" in capsys.readouterr().out
    assert main(["--id", "20", "down"]) == 0
    assert "was not up" in capsys.readouterr().out
    (tmp_path / "cfha-lab-20").mkdir()  # a directory without state: down removes it
    assert main(["--id", "20", "down"]) == 0
    assert not (tmp_path / "cfha-lab-20").exists()


def test_json_keys_are_strings():
    data = {"fail_counts": {("hub2", "cfpgsql"): 1}, "rows": (("a", 1),)}
    assert json.loads(json.dumps(_jsonable(data))) == {
        "fail_counts": {"hub2/cfpgsql": 1},
        "rows": [["a", 1]],
    }


def test_up_takes_only_the_majors_the_lab_runs(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--id", "20", "up", "--pg", "17"])
    assert exited.value.code == 2
    assert "argument --pg: invalid choice: 17 (choose from 15, 18)" in capsys.readouterr().err


def test_a_bad_cfha_lab_pg_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("lab.config.DEFAULT_ROOT_BASE", tmp_path)
    monkeypatch.setenv("CFHA_LAB_PG", "16")
    assert main(["--id", "20", "up"]) == 1
    assert "CFHA_LAB_PG='16'" in capsys.readouterr().err
    assert not (tmp_path / "cfha-lab-20").exists()
