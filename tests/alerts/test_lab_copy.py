"""The lab copy of the rules (tests/support/promrules.scale_rules): what it changes, what it keeps,
and that promtool still accepts the result."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.product.promrules import (
    LAB_FACTOR,
    LAB_OFFSET,
    REQUEST_ROUTE,
    RulesError,
    format_duration,
    parse_duration,
    rules_of,
    scale_duration,
    scale_expr,
    scale_rules,
    write_lab_copy,
)
from tests.conftest import REPO


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
        ("0s", "0s"),
        ("1m", "17s"),
        ("2m", "19s"),
        ("5m", "25s"),
        ("10m", "35s"),
        ("15m", "45s"),
        ("30m", "1m15s"),
        ("1h", "2m15s"),
        ("6h", "12m15s"),
        ("1d", "48m15s"),
    ],
)
def test_durations_map_to_offset_plus_a_thirtieth(given: str, lab: str) -> None:
    assert scale_duration(given, LAB_FACTOR, LAB_OFFSET) == lab


def test_the_map_keeps_the_order_of_every_duration_in_the_rules() -> None:
    found: set[str] = set()
    for path in (REPO / "alerts" / "rules").glob("*.yml"):
        for rule in rules_of(yaml.safe_load(path.read_text()), path.name):
            found.update(d for d in (rule.for_, rule.keep_firing_for) if d)
    ordered = sorted(found, key=parse_duration)
    lab = [parse_duration(scale_duration(d, LAB_FACTOR, LAB_OFFSET)) for d in ordered]
    assert lab == sorted(set(lab)), "two different durations became equal, or swapped"
    assert min(lab) >= LAB_OFFSET


def test_expressions_scale_ranges_subqueries_and_offsets_but_not_values_or_strings() -> None:
    expr = (
        "increase(x_total[1h]) > 600 and max_over_time(y[1d:5m]) offset 30m"
        ' unless label_replace(z, "w", "[15m]", "v", "offset 10m")'
    )
    assert scale_expr(expr, LAB_FACTOR, LAB_OFFSET) == (
        "increase(x_total[2m15s]) > 600 and max_over_time(y[48m15s:10s]) offset 1m15s"
        ' unless label_replace(z, "w", "[15m]", "v", "offset 10m")'
    )


def test_a_prediction_horizon_scales_with_the_window_it_extrapolates() -> None:
    """predict_linear's horizon is a duration too: a 12-minute slope stretched over 24 hours
    would make the lab copy follow every write on the machine's disk."""
    expr = (
        "max by (n) (predict_linear(free[6h], 86400)) < 0 or predict_linear(free[1h], 14400) < 3600"
    )
    assert scale_expr(expr, LAB_FACTOR, LAB_OFFSET) == (
        "max by (n) (predict_linear(free[12m15s], 2895)) < 0"
        " or predict_linear(free[2m15s], 495) < 3600"
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
    lab = scale_rules(doc, LAB_FACTOR, LAB_OFFSET)
    record, alert = lab["groups"][0]["rules"]
    assert record["expr"] == "max(changes(a[35s]))"
    assert (alert["for"], alert["keep_firing_for"], alert["expr"]) == ("45s", "19s", "b > 900")
    assert alert["annotations"] == {"summary": "In the last [10m]."}
    assert doc["groups"][0]["rules"][1]["for"] == "15m", "the input is not modified"


def test_scaling_refuses_a_factor_below_one() -> None:
    with pytest.raises(RulesError):
        scale_rules({"groups": []}, 0.5, LAB_OFFSET)


def test_the_lab_copy_of_the_shipped_rules_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool", path="/usr/bin:/bin")
    if promtool is None:
        pytest.skip("promtool is not installed")
    paths = write_lab_copy(REPO / "alerts" / "rules", tmp_path)
    assert len(paths) == len(list((REPO / "alerts" / "rules").glob("*.yml")))
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lab_copy_keeps_each_remediation_request_beside_its_alert(tmp_path: Path) -> None:
    """Both copies of a remediable alert (alerts/README.md) scale alike, so in the lab they still
    fire together and the request keeps its route label."""
    lab = [
        rule
        for path in write_lab_copy(REPO / "alerts" / "rules", tmp_path)
        for rule in rules_of(yaml.safe_load(path.read_text()), path.name)
    ]
    requests = [r for r in lab if r.route]
    assert requests
    for request in requests:
        (human,) = [r for r in lab if r.name == request.name and not r.route]
        assert request.route == REQUEST_ROUTE
        assert (request.expr, request.for_, request.keep_firing_for) == (
            human.expr,
            human.for_,
            human.keep_firing_for,
        )
