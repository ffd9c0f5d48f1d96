"""docs/remediator.md documents every metric, precondition, action and API route the code has."""

from __future__ import annotations

from pathlib import Path

from remediator import guard
from remediator.actions import ACTION_NAMES
from remediator.intake import INTAKE_REFUSALS
from remediator.metrics import METRICS

from .conftest import AppFactory

DOC = (Path(__file__).resolve().parents[2] / "docs" / "remediator.md").read_text()


def test_every_metric_precondition_and_action_is_documented() -> None:
    missing = [m.name for m in METRICS if f"`{m.name}`" not in DOC]
    missing += [p for p in (*guard.PRECONDITIONS, *INTAKE_REFUSALS) if f"`{p}`" not in DOC]
    missing += [a for a in ACTION_NAMES if f"### {a}" not in DOC]
    assert missing == []


def test_every_route_is_documented(make_app: AppFactory) -> None:
    app = make_app("hub2")
    routes = {r.rule.replace("<job_id>", "<id>") for r in app.url_map.iter_rules()}
    routes.discard("/static/<path:filename>")
    undocumented = [r for r in sorted(routes) if r not in DOC]
    assert undocumented == []
