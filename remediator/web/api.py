"""The authenticated API: jobs, audit, plan preview, kill switch, circuits."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from remediator.models import PayloadError, parse_payload
from remediator.web.auth import require_token
from remediator.web.context import core, error
from remediator.web.webhook import decode_json

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_LIMIT = 1000


def _limit() -> int:
    try:
        return max(1, min(MAX_LIMIT, int(request.args.get("limit", "50"))))
    except ValueError:
        return 50


def _json_body() -> dict[str, object] | ResponseReturnValue:
    try:
        data = decode_json(request.get_data(cache=False))
    except ValueError as exc:
        return error(400, f"body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return error(400, "expected a JSON object")
    return data


@bp.get("/jobs")
@require_token
def jobs() -> ResponseReturnValue:
    state = request.args.get("state")
    return jsonify({"jobs": core().journal.jobs(limit=_limit(), state=state)})


@bp.get("/jobs/<job_id>")
@require_token
def job(job_id: str) -> ResponseReturnValue:
    detail = core().job_detail(job_id)
    if detail is None:
        return error(404, f"no job {job_id}")
    return jsonify(detail)


@bp.get("/audit")
@require_token
def audit() -> ResponseReturnValue:
    return jsonify({"audit": core().journal.audit_log(limit=_limit())})


@bp.post("/plan")
@require_token
def plan() -> ResponseReturnValue:
    """What the remediator would do now for this payload, every check's result; changes nothing."""
    data = _json_body()
    if not isinstance(data, dict):
        return data
    try:
        payload = parse_payload(data)
    except PayloadError as exc:
        return error(400, "not an Alertmanager v4 webhook payload", exc.errors)
    return jsonify({"node": core().config.node_name, "alerts": core().preview(payload)})


@bp.get("/killswitch")
@require_token
def killswitch_state() -> ResponseReturnValue:
    return jsonify(core().kill_switch.state())


@bp.post("/killswitch")
@require_token
def killswitch_engage() -> ResponseReturnValue:
    data = _json_body() if request.content_length else {}
    if not isinstance(data, dict):
        return data
    reason = str(data.get("reason", "engaged through the API"))[:500]
    by = str(data.get("by", request.remote_addr or "api"))[:100]
    core().engage_kill_switch(by, reason)
    return jsonify(core().kill_switch.state())


@bp.delete("/killswitch")
@require_token
def killswitch_release() -> ResponseReturnValue:
    core().release_kill_switch(request.remote_addr or "api")
    return jsonify(core().kill_switch.state())


@bp.get("/circuits")
@require_token
def circuits() -> ResponseReturnValue:
    return jsonify({"circuits": core().journal.circuits()})


@bp.post("/circuits/reset")
@require_token
def circuit_reset() -> ResponseReturnValue:
    data = _json_body()
    if not isinstance(data, dict):
        return data
    action, target = data.get("action"), data.get("target")
    if not isinstance(action, str) or not isinstance(target, str):
        return error(400, "give action and target")
    by = str(data.get("by", request.remote_addr or "api"))[:100]
    if not core().reset_circuit(action, target, by):
        return error(404, f"no open circuit for {json.dumps(action)} {json.dumps(target)}")
    return jsonify({"reset": True, "action": action, "target": target})
