"""How views reach the Remediator the app factory built (no module-level state)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue

from remediator.service import Remediator

EXTENSION = "cfha_remediator"


def core() -> Remediator:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, Remediator)
    return found


def error(code: int, message: str, details: list[str] | None = None) -> ResponseReturnValue:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return jsonify(body), code
