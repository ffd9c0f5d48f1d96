"""docs/metrics.md is generated from the code and must be current."""

from __future__ import annotations

from exporter.docs import render
from exporter.registry import all_metric_specs
from tests.conftest import REPO


def test_metrics_reference_is_current() -> None:
    committed = (REPO / "docs" / "metrics.md").read_text()
    assert committed == render(), "docs/metrics.md is stale: run `make docs`"


def test_metric_names_are_unique_and_prefixed() -> None:
    names = [spec.name for _, specs in all_metric_specs() for spec in specs]
    assert len(names) == len(set(names)), "a metric is declared twice"
    assert all(name.startswith("cfha_") for name in names)
