"""GET /metrics: the remediator's own registry (auth only if `web.metrics_require_auth`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from prometheus_client.exposition import choose_encoder

from remediator.web.auth import authorized
from remediator.web.context import core, error

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    if current_app.config["CFHA_METRICS_AUTH"] and not authorized():
        return error(401, "missing or invalid bearer token")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(core().registry), content_type=content_type)
