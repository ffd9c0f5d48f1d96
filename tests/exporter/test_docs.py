"""docs/metrics.md is generated from both services' declarations and must be current."""

from __future__ import annotations

from servicekit.metrics_reference import REFERENCES, load, render_references
from tests.conftest import REPO


def test_metrics_reference_is_current() -> None:
    committed = (REPO / "docs" / "metrics.md").read_text()
    assert committed == render_references(), "docs/metrics.md is stale: run `make docs`"


def test_both_services_are_in_the_reference() -> None:
    titles = [title for reference in REFERENCES for title, _ in load(reference)]
    assert "cfha-remediator" in titles and any(t.startswith("cfha-exporter") for t in titles)


def test_metric_names_are_unique_and_prefixed() -> None:
    names = [s.name for ref in REFERENCES for _, specs in load(ref) for s in specs]
    assert len(names) == len(set(names)), "a metric is declared twice"
    assert all(name.startswith("cfha_") for name in names)
