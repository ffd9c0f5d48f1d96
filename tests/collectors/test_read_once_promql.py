"""The PromQL that docs/pacemaker.md gives for reading the cluster-wide view once, run through
`promtool test rules` with two hubs whose views disagree; and quoted verbatim by the docs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "pacemaker.md"
DC_COPY = (
    "max without (instance, job) (cfha_pacemaker_maintenance_mode and on (cluster, instance) "
    "(cfha_pacemaker_local_is_dc == 1))"
)
DC_PROMOTED = (
    "max without (instance, job) (cfha_pacemaker_database_promoted and on (cluster, instance) "
    "(cfha_pacemaker_local_is_dc == 1))"
)
MAX_BY = "max by (cluster, node, resource) (cfha_pacemaker_database_promoted)"
TWO_DCS = "sum by (cluster) (cfha_pacemaker_local_is_dc) > 1"
NO_DC = "sum by (cluster) (cfha_pacemaker_local_is_dc) == 0"
PRIMARY_NOT_PROMOTED = (
    '(cfha_pg_role{state="primary"} == 1) unless on (cluster, node) (' + DC_PROMOTED + " == 1)"
)
EXPRESSIONS = (DC_COPY, DC_PROMOTED, MAX_BY, TWO_DCS, NO_DC, PRIMARY_NOT_PROMOTED)


def series(name: str, instance: str, values: str, **labels: str) -> dict[str, str]:
    pairs = {"cluster": "c", **labels, "instance": f"{instance}:9732", "job": "cfha"}
    text = ",".join(f'{k}="{v}"' for k, v in pairs.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def expect(expr: str, minute: int, *samples: tuple[str, float]) -> dict[str, object]:
    return {
        "expr": expr,
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
    }


def test_the_documented_expressions_are_quoted_verbatim() -> None:
    text = DOC.read_text()
    for expr in EXPRESSIONS:
        assert expr in text, expr


def test_the_documented_expressions_read_the_view_once(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    # minutes 0-1: hub1 is the DC; hub2 is cut off and has a stale, different view.
    # minute 2: the DC moved to hub2. minute 3: both claim to be DC. minute 4: neither is.
    inputs = [
        series("cfha_pacemaker_local_is_dc", "hub1", "1 1 0 1 0", node="hub1"),
        series("cfha_pacemaker_local_is_dc", "hub2", "0 0 1 1 0", node="hub2"),
        series("cfha_pacemaker_maintenance_mode", "hub1", "0 0 0 0 0"),
        series("cfha_pacemaker_maintenance_mode", "hub2", "1 1 1 1 1"),
        series("cfha_pacemaker_database_promoted", "hub1", "1x4", node="hub1", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub1", "0x4", node="hub2", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub2", "0x4", node="hub1", resource="db"),
        series("cfha_pacemaker_database_promoted", "hub2", "1x4", node="hub2", resource="db"),
        series("cfha_pg_role", "hub1", "1x4", node="hub1", state="primary"),
        series("cfha_pg_role", "hub2", "0x4", node="hub2", state="primary"),
    ]
    tests = [
        expect(DC_COPY, 1, ('{cluster="c"}', 0)),
        expect(DC_COPY, 2, ('{cluster="c"}', 1)),
        expect(
            DC_PROMOTED,
            1,
            ('{cluster="c",node="hub1",resource="db"}', 1),
            ('{cluster="c",node="hub2",resource="db"}', 0),
        ),
        expect(
            MAX_BY,
            1,
            ('{cluster="c",node="hub1",resource="db"}', 1),
            ('{cluster="c",node="hub2",resource="db"}', 1),
        ),
        expect(TWO_DCS, 1),
        expect(TWO_DCS, 3, ('{cluster="c"}', 2)),
        expect(NO_DC, 4, ('{cluster="c"}', 0)),
        expect(PRIMARY_NOT_PROMOTED, 1),
        expect(
            PRIMARY_NOT_PROMOTED,
            2,
            (
                'cfha_pg_role{cluster="c",instance="hub1:9732",job="cfha",node="hub1",'
                'state="primary"}',
                1,
            ),
        ),
    ]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": []}))
    spec = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
