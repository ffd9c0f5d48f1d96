"""The product stack on the session's shared lab, and the report written after the run.

`product` starts cfha (exporters, remediators, Prometheus, Alertmanager, sink: `lab.product.stack`)
on `lab_cluster` once for the module; `e2e_report` collects one record per scenario and writes
artifacts/e2e-report-pg<major>.json and .md (the lab's PostgreSQL major) when the module ends,
also when scenarios failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster import Lab
from lab.product.stack import ProductStack, StackSettings, missing_binaries
from tests.e2e import report

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="module")
def product(lab_cluster: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductStack]:
    if missing_binaries():
        pytest.skip(f"not installed: {', '.join(missing_binaries())}")
    lab_cluster.restore_healthy()
    stack = ProductStack(lab_cluster, StackSettings(tmp_path_factory.mktemp("e2e-product")))
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def e2e_report(lab_cluster: Lab) -> Iterator[list[report.ScenarioRecord]]:
    records: list[report.ScenarioRecord] = []
    started = time.time()
    yield records
    if records:
        json_path, md_path = report.write(records, ARTIFACTS, started, lab_cluster.postgres())
        print(f"\ne2e report: {json_path} {md_path}")
