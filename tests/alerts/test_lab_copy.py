"""The lab copy of the rules (tests/support/promrules.scale_rules): what it changes, what it keeps,
and that promtool still accepts the result."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.support.promrules import (
    RulesError,
    format_duration,
    parse_duration,
    rules_of,
    scale_duration,
    scale_expr,
    scale_rules,
)

LAB_FACTOR = 30
LAB_FLOOR = 20.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("90s", 90), ("1m30s", 90), ("15m", 900), ("1d", 86400), ("1h2m3s", 3723)],
)
def test_durations_parse_and_format(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "5", "m", "5 m", "1.5m", "-1m"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(RulesError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("given", "lab"),
    [
        ("30m", "1m"),
        ("15m", "30s"),
        ("10m", "20s"),
        ("5m", "20s"),
        ("20s", "20s"),
        ("10s", "10s"),
        ("1d", "48m"),
    ],
)
def test_durations_scale_by_the_factor_down_to_the_floor(given: str, lab: str) -> None:
    assert scale_duration(given, LAB_FACTOR, LAB_FLOOR) == lab


def test_expressions_scale_ranges_subqueries_and_offsets_but_not_values_or_strings() -> None:
    expr = (
        "increase(x_total[1h]) > 600 and max_over_time(y[1d:5m]) offset 30m"
        ' unless label_replace(z, "w", "[15m]", "v", "offset 10m")'
    )
    assert scale_expr(expr, LAB_FACTOR, LAB_FLOOR) == (
        "increase(x_total[2m]) > 600 and max_over_time(y[48m:10s]) offset 1m"
        ' unless label_replace(z, "w", "[15m]", "v", "offset 10m")'
    )


def test_rule_files_scale_for_and_keep_firing_for_and_nothing_else() -> None:
    doc: dict[str, Any] = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"record": "cfha:a:max", "expr": "max(changes(a[10m]))"},
                    {
                        "alert": "CfHaA",
                        "expr": "b > 900",
                        "for": "15m",
                        "keep_firing_for": "2m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "In the last [10m]."},
                    },
                ],
            }
        ]
    }
    lab = scale_rules(doc, LAB_FACTOR, LAB_FLOOR)
    record, alert = lab["groups"][0]["rules"]
    assert record["expr"] == "max(changes(a[20s]))"
    assert (alert["for"], alert["keep_firing_for"], alert["expr"]) == ("30s", "20s", "b > 900")
    assert alert["annotations"] == {"summary": "In the last [10m]."}
    assert doc["groups"][0]["rules"][1]["for"] == "15m", "the input is not modified"


def test_scaling_refuses_a_factor_below_one() -> None:
    with pytest.raises(RulesError):
        scale_rules({"groups": []}, 0.5, LAB_FLOOR)


def lab_copy(directory: Path) -> list[Path]:
    paths = []
    for path in sorted((REPO / "alerts" / "rules").glob("*.yml")):
        doc = scale_rules(yaml.safe_load(path.read_text()), LAB_FACTOR, LAB_FLOOR)
        target = directory / path.name
        target.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(target)
    return paths


def test_the_lab_copy_of_the_shipped_rules_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool", path="/usr/bin:/bin")
    if promtool is None:
        pytest.skip("promtool is not installed")
    paths = lab_copy(tmp_path)
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in paths:
        for rule in rules_of(yaml.safe_load(path.read_text()), path.name):
            if rule.for_:
                assert parse_duration(rule.for_) <= max(LAB_FLOOR, 6 * 60 * 60 / LAB_FACTOR)
