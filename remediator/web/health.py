"""GET /healthz: 200 while the worker runs and the journal takes a write, 503 otherwise.

Without the bearer token it says only that (`{"status": "ok"}` or `"unhealthy"`): what a health
check needs, nothing about the node or its safety state. With the token it adds the problems,
the node, the kill switch, dry run and the authentication mode.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from remediator.journal import JournalError
from remediator.web.auth import TOKEN_KEY, authorized
from remediator.web.context import core

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    remediator = core()
    problems = []
    if current_app.config["CFHA_WORKER"] and not remediator.worker.alive:
        problems.append("worker not running")
    try:
        remediator.journal.check_writable()  # a read alone misses a full disk or a lock
    except JournalError as exc:
        problems.append(f"journal: {exc}")
    status = 200 if not problems else 503
    body: dict[str, object] = {"status": "ok" if not problems else "unhealthy"}
    if not authorized():
        return jsonify(body), status
    body |= {
        "problems": problems,
        "node": remediator.config.node_name,
        "kill_switch": remediator.kill_switch.engaged(),
        "dry_run": remediator.config.dry_run,
        "auth": "disabled" if current_app.config[TOKEN_KEY] is None else "bearer",
    }
    return jsonify(body), status
