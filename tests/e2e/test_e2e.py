"""Self-healing end to end: every scenario of the matrix on the live lab with the whole product.

For each scenario (tests/e2e/matrix.py), from a healthy lab: rows are written to the primary;
the fault is injected; the expected alerts reach Alertmanager and their receivers, and no
others; the remediator acts, or refuses, as designed, and nothing the design forbids happens
(every step's argv of every job on both hubs is read); every alert resolves; the rows written
before the fault are on both hubs. Timings go to artifacts/e2e-report.{json,md}.
"""

from __future__ import annotations

import pytest

from lab.product.stack import ProductStack
from tests.e2e.matrix import MATRIX, SCENARIOS
from tests.e2e.report import ScenarioRecord
from tests.e2e.runner import run_scenario

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", [s.name for s in MATRIX])
def test_scenario(name: str, product: ProductStack, e2e_report: list[ScenarioRecord]) -> None:
    record = run_scenario(product, SCENARIOS[name])
    e2e_report.append(record)
    print(
        f"\n{name}: detect {record.detect_seconds} s, remediate {record.remediate_seconds} s, "
        f"streaming {record.streaming_seconds} s, recover {record.recover_seconds} s; "
        f"actions {[(a['hub'], a['action'], a['state']) for a in record.actions]}; "
        f"refused {[(a['hub'], a['action'], a['refused_by']) for a in record.refused]}; "
        f"diagnosed {record.causes} ({record.cause} after {record.diagnosed_seconds} s)"
    )
    assert record.passed, "\n".join(record.problems)
