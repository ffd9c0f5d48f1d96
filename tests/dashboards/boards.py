"""The committed dashboards as data: their panels, targets and PromQL, and the PromQL with the
Grafana variables replaced so that Prometheus (or promtool) can evaluate it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO

FOLDER = REPO / "dashboards"
# Grafana's built-in interval variables, as a 1-minute scrape interval and a 1-hour view give.
BUILTINS = {"$__rate_interval": "4m", "$__range": "1h", "$__interval": "1m"}


@dataclass(frozen=True)
class Target:
    board: str  # the dashboard's uid
    panel: str  # the panel's title
    ref_id: str
    expr: str
    raw: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.board} / {self.panel} / {self.ref_id}"


def files() -> list[Path]:
    return sorted(FOLDER.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return board


def boards() -> dict[str, dict[str, Any]]:
    """uid -> dashboard, for every committed JSON file."""
    out = {}
    for path in files():
        board = load(path)
        out[board["uid"]] = board
    return out


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, also those nested in a collapsed row."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets() -> list[Target]:
    out = []
    for uid, board in boards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                out.append(Target(uid, panel["title"], target["refId"], target["expr"], target))
    return out


def substitute(expr: str, cluster: str, builtins: dict[str, str] | None = None) -> str:
    """The PromQL Grafana would send: `$cluster` and the built-in interval variables replaced."""
    values = {**BUILTINS, **(builtins or {})}
    # Longest names first: `$__range` must not eat the start of a longer variable.
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    expr = expr.replace("$cluster", cluster).replace("${cluster}", cluster)
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise ValueError(f"variables left in {expr!r}: {left}")
    return expr
