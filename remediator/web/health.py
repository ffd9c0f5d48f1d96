"""GET /healthz: 200 while the worker runs and the journal answers (no secrets, no auth)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from remediator.journal import JournalError
from remediator.web.auth import TOKEN_KEY
from remediator.web.context import core

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    remediator = core()
    problems = []
    if current_app.config["CFHA_WORKER"] and not remediator.worker.alive:
        problems.append("worker not running")
    try:
        remediator.journal.execute("SELECT 1")
    except JournalError as exc:
        problems.append(f"journal: {exc}")
    body = {
        "status": "ok" if not problems else "unhealthy",
        "problems": problems,
        "node": remediator.config.node_name,
        "kill_switch": remediator.kill_switch.engaged(),
        "dry_run": remediator.config.dry_run,
        "auth": "disabled" if current_app.config[TOKEN_KEY] is None else "bearer",
    }
    return jsonify(body), 200 if not problems else 503
