"""POST /webhook: Alertmanager v4 in, jobs queued and committed, 202 out. Never 5xx for bad input.

401 for a missing or wrong token (checked before the body is read), 413 above the body limit,
400 with the reasons for anything that is not a valid v4 payload, 503 only when the journal
cannot take the jobs (Alertmanager retries 5xx, which is then what we want).
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from remediator.journal import JournalError
from remediator.models import PayloadError, parse_payload
from remediator.web.auth import require_token
from remediator.web.context import core, error

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


def decode_json(body: bytes) -> object:
    """Raises ValueError for anything that is not one JSON document (deep nesting included) of
    Unicode text: JSON may escape a lone surrogate (`\\ud800`), which no UTF-8 text can hold."""
    try:
        data = json.loads(body.decode("utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("not UTF-8 JSON: a string holds a lone surrogate") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not UTF-8 JSON: {type(exc).__name__}") from exc
    return data


@bp.post("/webhook")
@require_token
def webhook() -> ResponseReturnValue:
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        data = decode_json(body)
    except ValueError as exc:
        return error(400, f"body is not valid JSON: {exc}")
    try:
        payload = parse_payload(data)
    except PayloadError as exc:
        return error(400, "not an Alertmanager v4 webhook payload", exc.errors)
    try:
        result = core().receive(payload)
    except JournalError as exc:
        log.error("cannot journal a webhook: %s", exc)
        return error(503, "journal unavailable; retry later")
    return jsonify(result.as_dict()), 202
